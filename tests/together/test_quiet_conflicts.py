"""Quiet double bookings: only events the user attends, a one-line count on the grids, and "don't flag this
series", which covers every week of the two series at once."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.factories import at, make_connection, make_event, make_series, utc
from tests.helpers import csrf_token_from, log_in, marked, screenshot
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarProvider, OverlapExemption

WEEK = "/calendar/week/2024-03-06"  # Mon 4 – Sun 10 March 2024


def test_an_invitation_not_answered_yet_is_no_double_booking(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home", provider=CalendarProvider.MICROSOFT)
    make_event(db_session, calendar, utc(2024, 3, 5, 9), utc(2024, 3, 5, 10), title="Planning")
    make_event(db_session, home, utc(2024, 3, 5, 9), title="Maybe later",
               provider_metadata={"self_response": "needsAction", "is_organizer": False})
    make_event(db_session, home, utc(2024, 3, 5, 9, 30), title="Said yes",
               provider_metadata={"self_response": "accepted", "is_organizer": False})

    week = signed_in.get(WEEK).get_data(as_text=True)

    assert marked(week) == {"Planning": 1, "Said yes": 1}
    assert re.search(r'class="overlap-summary has-overlaps"[^>]*>.*1 conflict this week</p>', week)


def test_dont_flag_this_series_covers_every_week_of_both(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home", provider=CalendarProvider.MICROSOFT)
    standup = make_series(db_session, calendar, utc(2024, 2, 5, 9), "RRULE:FREQ=WEEKLY;BYDAY=MO", title="Standup")
    school = make_series(db_session, home, utc(2024, 2, 5, 9), "RRULE:FREQ=WEEKLY;BYDAY=MO", title="School run")
    make_event(db_session, home, utc(2024, 3, 4, 9), title="Dentist")
    panel = signed_in.get(f"/calendar/events/{standup.id}?at=2024-03-04T09:00:00Z").get_data(as_text=True)
    assert "Double-booked with" in panel and "Don't flag this series" in panel

    response = signed_in.post(f"/calendar/events/{standup.id}/quiet", data={
        "csrf_token": csrf_token_from(panel), "other": str(school.id), "at": "2024-03-04T09:00:00Z",
        "view": "week"}, headers={"HX-Request": "true"})

    assert response.status_code == 200 and "not be flagged" in response.headers["HX-Trigger"]
    (row,) = db_session.scalars(db.select(OverlapExemption)).all()
    assert {row.first_event_id, row.second_event_id} == {standup.id, school.id}
    assert marked(signed_in.get(WEEK).get_data(as_text=True)) == {"Standup": 1, "Dentist": 1}
    assert marked(signed_in.get("/calendar/week/2024-03-13").get_data(as_text=True)) == {}  # every week


def test_the_pair_must_be_the_users(signed_in, db_session, user, calendar, client):
    standup = make_event(db_session, calendar, utc(2024, 3, 4, 9), title="Standup")
    page = signed_in.get(f"/calendar/events/{standup.id}").get_data(as_text=True)
    response = signed_in.post(f"/calendar/events/{standup.id}/quiet", data={
        "csrf_token": csrf_token_from(page), "other": "00000000-0000-0000-0000-000000000001", "view": "week"})
    assert response.status_code == 400


def test_quiet_marks_in_the_browser(app, live_server, page, person):  # noqa: F811
    monday = person["monday"]
    with app.app_context():
        home = db.session.scalars(db.select(CalendarConnection).where(
            CalendarConnection.user_id == person["id"], CalendarConnection.calendar_name == "Home")).one()
        make_series(db.session, home, at(monday - timedelta(days=14), 8, 30), "RRULE:FREQ=WEEKLY;BYDAY=MO",
                    minutes=30, title="School run", timezone="Europe/Berlin")
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    column = page.locator(f'.day-column[data-day="{monday}"]')
    expect(column.locator(".event:has(.overlap-mark)")).to_have_count(4)  # standup/school, planning/dentist
    expect(page.locator(".calendar-toolbar .overlap-summary")).to_have_text("⚠ 2 conflicts this week")
    screenshot(page, "quiet-conflicts-desktop")

    column.locator(".event:has-text('Standup')").click()
    page.locator("#event-panel .double-bookings").wait_for()
    screenshot(page, "panel-double-booking-desktop")
    page.click("#event-panel >> text=Don't flag this series")
    expect(page.locator(".toast")).to_contain_text("not be flagged")
    expect(column.locator(".event:has(.overlap-mark)")).to_have_count(2)
    expect(page.locator(".calendar-toolbar .overlap-summary")).to_have_text("⚠ 1 conflict this week")
    page.click('[data-nav="next"]')
    page.wait_for_url(f"**/calendar/week/{monday + timedelta(days=7)}")
    expect(page.locator(".event:has-text('School run') .overlap-mark")).to_have_count(0)
