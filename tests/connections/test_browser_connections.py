"""A person in Chromium connects a Google account (through the consent page) and an iCloud account."""
from __future__ import annotations

import re

from rq import Queue, SimpleWorker

from tests.factories import new_google_account
from tests.helpers import APPLE_USER, screenshot, sign_up_in_browser, submit_login


def test_connect_google_and_apple_and_see_the_calendars(app, live_server, page, provider_servers, redis,
                                                        monkeypatch, mailbox):
    import jobs.sync
    from sandbox.radicale_server import create_calendar

    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True), ("Family", "#0b8043", False)))
    create_calendar(provider_servers.radicale.url, *APPLE_USER, "browser-home", "Home (browser)", "#34a853")
    base = live_server.url

    sign_up_in_browser(page, base, mailbox, "connector@example.com", "a very fine passphrase")
    page.click("nav >> text=Connections")
    page.wait_for_selector("#connections")
    screenshot(page, "connections-empty")

    page.click("text=Connect Google")
    page.wait_for_selector("button[value=allow]")  # the provider's consent page
    page.select_option("select[name=login_hint]", email)
    screenshot(page, "connections-google-consent")
    page.click("button[value=allow]")
    page.wait_for_selector("text=Connected 2 Google calendars.")

    page.click("text=Connect Apple iCloud")
    page.fill("#apple_id", APPLE_USER[0])
    page.fill("#app_password", "not-the-right-one")
    page.click("button:has-text('Connect')")
    page.wait_for_selector("text=Apple rejected this app-specific password.")
    screenshot(page, "connections-apple-wrong-password")
    page.fill("#app_password", APPLE_USER[1])
    page.click("button:has-text('Connect')")
    page.wait_for_selector("text=iCloud calendar")

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    SimpleWorker([Queue("sync", connection=redis)], connection=redis).work(burst=True)
    page.reload()
    names = page.locator(".calendar-name").all_inner_texts()
    assert {"Work", "Family", "Home (browser)"} <= set(names)
    assert page.locator("text=just now").count() >= 3
    screenshot(page, "connections-listed")

    # Sync now swaps just that row and polls until the job is done.
    google_table = page.locator("table", has=page.locator("[data-connection-id]")).first
    work_row = google_table.locator("tr", has=page.locator(".calendar-name", has_text=re.compile("^Work$")))
    work_row.locator("text=Sync now").click()
    page.wait_for_selector("text=Syncing…")
    screenshot(page, "connections-syncing")
    SimpleWorker([Queue("sync", connection=redis)], connection=redis).work(burst=True)
    page.wait_for_selector("text=Syncing…", state="detached", timeout=10_000)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "connections-phone")


def test_a_calendar_removed_at_google_is_said_so_and_removed_after_seeing_what_is_lost(app, live_server, page,
                                                                                      redis):
    from datetime import UTC, datetime, timedelta

    from tests.factories import make_connection, make_event, make_user
    from webapp.extensions import db
    from webapp.models import SyncStatus

    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with app.app_context():
        user = make_user(db.session, email="removed@example.com")
        family = make_connection(db.session, user.id, calendar_name="Family", account_email="removed@gmail.com",
                                 last_synced_at=datetime.now(UTC), provider_removed_at=datetime.now(UTC))
        make_event(db.session, family, start, title="Piano (moved here)", sync_status=SyncStatus.FAILED,
                   provider_metadata={"etag": '"1"', "push_error": "calendar_gone"})
        family_id = family.id

    submit_login(page, live_server.url, "removed@example.com")
    page.goto(f"{live_server.url}/calendar/week/{start.date().isoformat()}")
    assert "Removed at Google" in page.inner_text(f'[data-calendar-id="{family_id}"]')
    page.goto(f"{live_server.url}/connections/")
    row = page.locator(f"#connection-{family_id}")
    assert "Removed at Google" in row.inner_text() and "Disconnect" not in row.inner_text()
    screenshot(page, "connections-removed-at-google")
    row.locator("text=Remove from Almanac").click()
    page.wait_for_selector("#remove-calendar")
    assert "Piano (moved here)" in page.inner_text(".lost-changes")
    screenshot(page, "connections-remove-from-almanac")
    page.click("#remove-calendar >> button:has-text('Remove from Almanac')")
    page.wait_for_selector("text=Removed Family from Almanac.")
    assert page.locator(f"#connection-{family_id}").count() == 0
