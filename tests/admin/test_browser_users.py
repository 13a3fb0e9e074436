"""An admin in Chromium on the users page: searches, disables an account after the in-page question (its owner's
browser is signed out), makes an admin, invites someone whose link then creates the account; at a desktop's and a
phone's width."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from tests.factories import make_connection, make_user
from tests.helpers import PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus


def seed(app) -> None:
    """Real commits (the browser reads through another thread); live_server empties the tables afterwards."""
    now = datetime.now(UTC)
    with app.app_context():
        session = db.session
        make_user(session, email="grace@example.com", is_admin=True, first_name="Grace", last_name="Hopper")
        ada = make_user(session, email="ada@example.com", first_name="Ada", last_name="Lovelace")
        for name in ("Work", "Family"):
            make_connection(session, ada.id, calendar_name=name)
        make_user(session, email="charles.babbage.with.a.rather.long.address@analytical-engine.example.org",
                  first_name="Charles")
        make_user(session, email="retired@example.com", disabled_at=now - timedelta(days=3))
        for number in range(4):
            make_user(session, email=f"member{number}@example.com")
        session.execute(insert(AuditLog), [
            {"action": "USER_LOGIN", "status": AuditStatus.SUCCESS, "user_id": ada.id,
             "created_at": now - timedelta(hours=5)}])
        session.commit()


def test_admin_manages_accounts_on_the_users_page(app, live_server, browser, page):
    base = live_server.url
    seed(app)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    ada_browser = browser.new_context().new_page()
    log_in(ada_browser, base, "ada@example.com")

    log_in(page, base, "grace@example.com")
    page.click("#main-nav >> text=Admin")
    page.click("#admin >> text=Users")
    page.wait_for_selector("#users tbody tr")
    assert page.url.endswith("/admin/users")
    assert page.locator("#users tbody tr").count() == 8
    ada_row = page.locator('tr[data-user-email="ada@example.com"]')
    assert ada_row.locator('td[data-label="Connections"]').inner_text() == "2"
    assert ada_row.locator('td[data-label="Last sign-in (UTC)"]').inner_text() != "none in 90 days"
    screenshot(page, "admin-users-desktop")

    page.fill("#q", "ada")
    page.click("#users button[type=submit] >> text=Search")
    page.wait_for_url(lambda url: "q=ada" in url)
    assert page.locator("#users tbody tr").count() == 1

    # Disable: the row asks first; Cancel puts it back; the second time it is done.
    ada_row.locator("text=Disable").click()
    question = page.locator("tr.confirming")
    question.wait_for()
    assert "Disable ada@example.com?" in question.inner_text()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Disable"  # focus moved to the answer
    screenshot(page, "admin-users-confirm-disable")
    question.locator("text=Cancel").click()
    page.wait_for_selector('tr[data-user-email="ada@example.com"]:not(.confirming)')
    ada_row.locator("text=Disable").click()
    page.locator("tr.confirming button[type=submit]").click()
    page.wait_for_selector(".toast >> text=ada@example.com is disabled")
    assert "since" in ada_row.locator('td[data-label="Disabled"]').inner_text()
    assert ada_row.locator("button >> text=Enable").count() == 1
    ada_browser.reload()
    assert "/login" in ada_browser.url
    ada_browser.context.close()

    # Make someone an admin.
    page.fill("#q", "member0")
    page.click("#users button[type=submit] >> text=Search")
    page.wait_for_url(lambda url: "q=member0" in url)
    member_row = page.locator('tr[data-user-email="member0@example.com"]')
    member_row.locator("text=Make admin").click()
    page.locator("tr.confirming button[type=submit]").click()
    page.wait_for_selector(".toast >> text=member0@example.com is an admin.")
    assert member_row.locator('td[data-label="Admin"]').inner_text() == "admin"

    # Invite someone: the link is shown once, and it creates their account.
    page.fill("#email", "newcomer@example.com")
    page.click("#invite >> text=Create invitation link")
    page.wait_for_selector("#invitation-link")
    link = page.input_value("#invitation-link")
    assert "/register/invitation?token=" in link
    screenshot(page, "admin-users-invitation")
    guest = browser.new_context().new_page()
    guest.goto(link)
    assert "You are invited to this Almanac as newcomer@example.com" in guest.inner_text("#accept-invitation")
    guest.fill("#password", "a long passphrase")
    guest.fill("#confirm", "a long passphrase")
    guest.click("#accept-invitation button[type=submit]")
    guest.wait_for_selector("text=Welcome to Almanac.")
    guest.context.close()
    assert errors == []


def test_the_users_page_fits_a_phone(app, live_server, browser):
    seed(app)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "grace@example.com")
        page.goto(f"{live_server.url}/admin/users")
        page.wait_for_selector("#users tbody tr")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        cards = page.locator("#users tbody tr")
        assert cards.count() == 8
        assert cards.first.bounding_box()["width"] <= PHONE["width"]  # each account a card
        screenshot(page, "admin-users-phone")
        page.locator('tr[data-user-email="member1@example.com"] >> text=Disable').click()
        page.wait_for_selector("tr.confirming")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, "admin-users-phone-confirm")
    finally:
        context.close()
