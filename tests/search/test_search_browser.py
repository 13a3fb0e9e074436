"""Search in Chromium: "/" from the week, results while typing, the address bar following, and screenshots."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import make_connection, make_event, make_series, make_user
from tests.helpers import log_in, screenshot
from webapp.extensions import db

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def searcher(app, live_server):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        session = db.session
        account = make_user(session, first_name="Zoë", time_zone="Europe/Berlin")
        work = make_connection(session, account, calendar_name="Work", calendar_color="#1a73e8", is_primary=True)
        home = make_connection(session, account, calendar_name="Home", calendar_color="#0b8043")
        make_event(session, work, now + timedelta(days=2), title="Budget review", location="Room Zürich",
                   description="Numbers for the <b>budget</b> review, please bring the Q3 sheet.",
                   attendees=[{"email": "ann@contoso.com", "name": "Ann Lée", "responseStatus": "accepted"}])
        make_event(session, home, now - timedelta(days=40), title="Review the holiday budget")
        make_series(session, work, now - timedelta(weeks=30), "RRULE:FREQ=WEEKLY", title="Budget standup")
        make_event(session, home, now + timedelta(days=5), title="Dentist")
        return account.email



def test_slash_focuses_search_and_results_follow_the_typing(live_server, page, searcher):
    base = live_server.url
    log_in(page, base, searcher)

    page.keyboard.press("/")
    expect(page.locator(".topbar-search input")).to_be_focused()
    page.keyboard.type("budget")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=budget$"))
    expect(page.locator(".search-title")).to_have_count(3)

    box = page.locator("#search-q")
    box.click()
    box.press("End")
    page.keyboard.type(" rev")  # no Enter: the results follow the typing
    page.wait_for_url(re.compile(r"/search\?q=budget(%20|\+)rev$"))
    expect(page.locator(".search-title")).to_have_text(["Budget review", "Review the holiday budget"])
    expect(box).to_be_focused()
    expect(box).to_have_value("budget rev")
    expect(page.locator(".search-result mark").first).to_have_text("Budget")
    assert "<b>" not in page.inner_html("#search-results")
    screenshot(page, "search-desktop")

    page.go_back()
    page.wait_for_url(re.compile(r"/search\?q=budget$"))
    expect(page.locator(".search-title")).to_have_count(3)

    page.locator(".search-title").first.click()
    expect(page.locator(".event-detail-title")).to_have_text("Budget standup")


def test_search_on_a_phone(live_server, browser, searcher):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        log_in(page, live_server.url, searcher)
        page.goto(f"{live_server.url}/search?q=budget")
        expect(page.locator(".search-title")).to_have_count(3)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the results page scrolls sideways on a phone"
        screenshot(page, "search-phone")
    finally:
        context.close()
