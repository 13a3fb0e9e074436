"""Double bookings and merged invitations in Chromium: the marks on the week, the copies in the panel; screenshots
at desktop and phone widths."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.factories import at, make_connection, make_event, make_user
from tests.helpers import log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarProvider

BERLIN = ZoneInfo("Europe/Berlin")
INVITE = {"ical_uid": "quarterly-review@example.com"}



@pytest.fixture
def busy_person(app, live_server):
    today = datetime.now(BERLIN).date()
    monday = today - timedelta(days=today.weekday())
    with app.app_context():
        session = db.session
        account = make_user(session, first_name="Ada", time_zone="Europe/Berlin")
        work = make_connection(session, account, calendar_name="Work", calendar_color="#1a73e8", is_primary=True)
        home = make_connection(session, account, calendar_name="Home", calendar_color="#0b8043",
                               provider=CalendarProvider.MICROSOFT)
        tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
        make_event(session, work, at(tuesday, 9), at(tuesday, 10, 30), title="Planning", timezone="Europe/Berlin")
        make_event(session, home, at(tuesday, 10), at(tuesday, 11), title="Dentist", timezone="Europe/Berlin")
        make_event(session, home, at(tuesday, 14), title="Yoga (free)", timezone="Europe/Berlin",
                   provider_metadata={"showAs": "free"})
        make_event(session, work, at(tuesday, 14), title="Design sync", timezone="Europe/Berlin")
        for calendar in (work, home):
            make_event(session, calendar, at(thursday, 11), at(thursday, 12), title="Quarterly review",
                       timezone="Europe/Berlin", provider_metadata=INVITE)
        return account.email, monday



@pytest.mark.parametrize("name, viewport", [("desktop", {"width": 1280, "height": 860}),
                                            ("phone", {"width": 390, "height": 844})])
def test_double_bookings_and_copies_on_the_week(live_server, browser, busy_person, name, viewport):
    email, monday = busy_person
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        log_in(page, live_server.url, email)
        # A phone shows three days: Tuesday to Thursday holds both the double booking and the shared invite.
        view = "week/" + monday.isoformat() if name == "desktop" else "3day/" + (monday + timedelta(days=1)).isoformat()
        page.goto(f"{live_server.url}/calendar/{view}")
        marks = page.locator(".event .overlap-mark")
        expect(marks).to_have_count(2)
        expect(page.locator(".event:has(.overlap-mark) .event-title")).to_have_text(["Planning", "Dentist"])
        expect(page.locator(".event:has(.overlap-mark)").first).to_contain_text("Double-booked with another event")
        review = page.locator(".event:has-text('Quarterly review')")
        expect(review).to_have_count(1)
        expect(review.locator(".copy-badge")).to_have_text(["Work", "Home"])
        screenshot(page, f"double-bookings-week-{name}")

        review.click()
        panel = page.locator("#event-panel")
        expect(panel).to_contain_text("This invitation is on 2 calendars.")
        panel.locator("[data-copy-of]").click()
        expect(panel.locator(".event-copies strong")).to_have_text("Home")
        screenshot(page, f"invitation-copies-panel-{name}")

        page.goto(f"{live_server.url}/calendar/agenda?start={monday.isoformat()}")
        expect(page.locator(".overlap-summary")).to_contain_text("1 conflict this week")
    finally:
        context.close()
