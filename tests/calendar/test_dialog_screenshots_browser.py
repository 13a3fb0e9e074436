"""The dialogs on a phone, for people to look at beside the desktop ones the other browser tests take: the
shortcut sheet, the in-page delete question, the Undo toast and a month's day opened from its cell."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import PHONE, log_in, screenshot


def test_the_dialogs_on_a_phone(live_server, page, person):
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/3day/{person['monday']}")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    screenshot(page, "shortcuts-phone")
    page.keyboard.press("Escape")

    page.locator(".event:has-text('Planning')").click()
    panel = page.locator("#event-panel.is-open")
    panel.locator("summary:has-text('Delete')").click()
    expect(panel.locator(".confirm-box")).to_be_visible()
    screenshot(page, "panel-confirm-delete-phone")
    panel.locator(".confirm-yes").click()
    toast = page.locator(".toast:has-text('Event deleted.')")
    expect(toast.locator("button")).to_have_text("Undo")
    assert toast.locator("button").bounding_box()["height"] >= 44
    screenshot(page, "undo-toast-phone")
