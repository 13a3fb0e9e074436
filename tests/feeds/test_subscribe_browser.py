"""Settings → Subscribe elsewhere in Chromium: create the address, see it once, replace it; screenshots."""
from __future__ import annotations

from urllib.parse import urlsplit

import requests
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import screenshot
from webapp.extensions import db

PHONE = {"width": 390, "height": 844}


def test_create_and_replace_the_private_address(app, live_server, browser):
    with app.app_context():
        account = make_user(db.session, first_name="Ada", time_zone="Europe/Berlin")
        make_connection(db.session, account, calendar_name="Work")
        email = account.email
    for name, viewport in (("desktop", {"width": 1280, "height": 860}), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            page.goto(f"{live_server.url}/login")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#calendar")
            page.goto(f"{live_server.url}/settings/profile")
            page.click("text=Subscribe elsewhere")
            page.wait_for_url("**/settings/subscribe")
            if name == "desktop":
                page.click("text=Create my private address")
            else:
                page.click("summary:has-text('Make a new address')")  # asks in the page
                page.click(".confirm-yes:has-text('Make a new one')")
            address = page.locator("#feed-url")
            expect(address).to_have_value(f"{live_server.url}/feeds/" + address.input_value().rsplit("/", 1)[1])
            feed = requests.get(address.input_value(), timeout=10)
            assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
            webcal = page.get_attribute("text=Open in your calendar app", "href")
            assert webcal == "webcal://" + urlsplit(address.input_value()).netloc + urlsplit(
                address.input_value()).path
            screenshot(page, f"subscribe-{name}")
            page.reload()
            expect(page.locator("#feed-url")).to_have_count(0)  # shown once only
            expect(page.locator(".feed-status")).to_contain_text("last fetched")
        finally:
            context.close()
