"""A person in Chromium who forgot their password: the link from the outbox, a new password, other devices out."""
from __future__ import annotations

from tests.factories import PASSWORD, make_user
from tests.helpers import screenshot, submit_login
from webapp.extensions import db

NEW_PASSWORD = "remembered at last"



def test_forgot_password_flow(app, live_server, browser, page, mailbox):
    base = live_server.url
    with app.app_context():
        email = make_user(db.session, first_name="Grace").email
    other_device = browser.new_context().new_page()
    submit_login(other_device, base, email, PASSWORD)
    other_device.wait_for_selector("text=Welcome, Grace")

    page.goto(f"{base}/login")
    page.click("text=Forgot your password?")
    page.fill("#email", email)
    screenshot(page, "reset-forgot-form")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    assert email in page.inner_text("#check-email")
    screenshot(page, "reset-check-inbox")

    mailbox.deliver()
    page.click("text=local outbox")
    page.wait_for_selector("#outbox")
    assert "Choose a new Almanac password" in page.inner_text("#outbox")
    screenshot(page, "reset-outbox")
    page.click("#outbox a[href*='/reset-password?token=']")
    page.wait_for_selector("text=Choose a new password")
    link = page.url
    assert email in page.inner_text("#reset-password")

    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", "not the same at all")
    page.click("button[type=submit]")
    assert page.inner_text(".errors") == "The passwords do not match."
    screenshot(page, "reset-mismatch")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your password is changed, and every other device is signed out.")
    page.wait_for_selector("text=Welcome, Grace")
    screenshot(page, "reset-done")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "reset-done-phone")

    other_device.reload()
    assert "/login" in other_device.url
    submit_login(other_device, base, email, PASSWORD)
    other_device.wait_for_selector("text=That email and password do not match an account.")
    submit_login(other_device, base, email, NEW_PASSWORD)
    other_device.wait_for_selector("text=Welcome, Grace")
    other_device.context.close()

    page.goto(link)  # used once already: it says so instead of offering the form again
    page.wait_for_selector("text=This link no longer works")
    page.goto(f"{base}/forgot-password")
    screenshot(page, "reset-forgot-form-phone")
