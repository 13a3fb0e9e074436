"""Quick create: one line read as title, time and repeat (dateparser for dates and times), a preview before saving,
Enter saves through the same create path as the form; and one clock (13:00 or 1:00 pm) from the user's setting."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from tests.factories import make_connection, make_event, set_user, utc
from tests.helpers import csrf_token_from
from webapp.calendar.display import format_clock, hour_label
from webapp.calendar.quick import parse_quick
from webapp.calendar.repeat import Repeat
from webapp.models import CalendarEvent, User

SLOT = (datetime(2026, 12, 8, 10), datetime(2026, 12, 8, 11))  # Tuesday
NOW = datetime(2026, 12, 7, 20)  # Monday evening


@pytest.mark.parametrize(("text", "title", "start", "end", "repeat"), [
    ("Lunch with Ann tomorrow 13:00 for 1h", "Lunch with Ann", datetime(2026, 12, 8, 13), datetime(2026, 12, 8, 14),
     None),
    ("Standup every weekday 9:15", "Standup", datetime(2026, 12, 8, 9, 15), datetime(2026, 12, 8, 10, 15),
     Repeat("WEEKLY", weekdays=("MO", "TU", "WE", "TH", "FR"))),
    ("Gym every monday 7am for 45 min", "Gym", datetime(2026, 12, 14, 7), datetime(2026, 12, 14, 7, 45),
     Repeat("WEEKLY", weekdays=("MO",))),
    ("Dentist friday at 3pm", "Dentist", datetime(2026, 12, 11, 15), datetime(2026, 12, 11, 16), None),
    ("Review May budget", "Review May budget", *SLOT, None),  # a month name alone is not a time: the slot stays
    ("Call Bob", "Call Bob", *SLOT, None),
])
def test_one_line_is_read_as_title_time_and_repeat(text, title, start, end, repeat):
    quick = parse_quick(text, *SLOT, NOW)
    assert (quick.title, quick.start, quick.end, quick.repeat) == (title, start, end, repeat)


def test_the_clock_is_24_or_12_hours():
    assert format_clock(13, 5, False) == "13:05" and format_clock(13, 5, True) == "1:05 pm"
    assert format_clock(0, 30, True) == "12:30 am" and format_clock(12, 0, True) == "12:00 pm"
    assert hour_label(0, True) == "12 am" and hour_label(15, False) == "15:00"


def test_quick_create_previews_and_saves(signed_in, db_session, user):
    set_user(db_session, user, time_zone="Europe/Berlin")
    work = make_connection(db_session, user, calendar_name="Work")
    home = make_connection(db_session, user, calendar_name="Home", is_primary=False)
    htmx = {"HX-Request": "true"}
    popover = signed_in.get("/calendar/events/quick?view=week&start=2026-12-08T10:00&end=2026-12-08T11:00",
                            headers=htmx).get_data(as_text=True)
    assert 'id="quick-create"' in popover and 'name="start" value="2026-12-08T10:00"' in popover
    assert "Tue 8 Dec, 10:00 – 11:00" in popover

    preview = signed_in.get("/calendar/events/quick/preview?view=week&start=2026-12-08T10:00&end=2026-12-08T11:00"
                            "&title=Standup+every+weekday+9:15", headers=htmx).get_data(as_text=True)
    assert "Tue 8 Dec, 09:15 – 10:15" in preview and "Every weekday" in preview and "9:15" in preview

    response = signed_in.post("/calendar/events/quick", headers=htmx, data={
        "csrf_token": csrf_token_from(popover), "title": "Standup every weekday 9:15", "calendar_id": str(home.id),
        "start": "2026-12-08T10:00", "end": "2026-12-08T11:00", "view": "week"})

    assert response.status_code == 200 and "Event saved." in response.headers["HX-Trigger"]
    event = db_session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Standup")).one()
    assert event.calendar_connection_id == home.id and event.timezone == "Europe/Berlin"
    assert event.recurrence_rule == "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert event.start_time.isoformat() == "2026-12-08T08:15:00+00:00"
    assert db_session.get(User, user.id).default_calendar_id == home.id
    assert work.id != home.id

    empty = signed_in.post("/calendar/events/quick", headers=htmx, data={
        "csrf_token": csrf_token_from(popover), "title": "", "calendar_id": str(home.id),
        "start": "2026-12-08T10:00", "end": "2026-12-08T11:00", "view": "week"})
    assert empty.status_code == 422 and empty.headers["HX-Retarget"] == "#quick-pop"
    assert "Give the event a title." in empty.get_data(as_text=True)
    more = signed_in.get("/calendar/events/new?view=week&start=2026-12-08T10:00&end=2026-12-08T11:00"
                         f"&title=Piano&calendar_id={home.id}").get_data(as_text=True)
    assert re.search(r'id="title"[^>]*value="Piano"', more) and re.search(
        rf'<option selected value="{home.id}">|<option value="{home.id}" selected>', more)


def test_the_users_clock_is_used_by_the_pages(signed_in, db_session, user):
    set_user(db_session, user, time_zone="UTC", clock_24h=False)
    calendar = make_connection(db_session, user)
    make_event(db_session, calendar, utc(2024, 3, 5, 13, 30), utc(2024, 3, 5, 14), title="Talk")

    week = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    agenda = signed_in.get("/calendar/agenda?start=2024-03-04").get_data(as_text=True)

    assert "1:30 pm" in week and ">1 pm</div>" in week and 'data-clock="12"' in week
    assert ">1:30 pm – 2:00 pm</span>" in agenda and ">13:30" not in agenda
    assert "Tuesday 5 March, 1:30 pm to 2:00 pm" in agenda  # the card's accessible name too


def test_the_browsers_hour_cycle_is_taken_once(signed_in, db_session, user, csrf):
    set_user(db_session, user, clock_24h=None)
    page = signed_in.get("/settings/profile").get_data(as_text=True)
    assert "data-clock-guess" in page
    assert signed_in.post("/settings/clock", data={"csrf_token": csrf, "hour_cycle": "h12"}).status_code == 204
    assert db_session.get(User, user.id).clock_24h is False
    signed_in.post("/settings/clock", data={"csrf_token": csrf, "hour_cycle": "h23"})
    assert db_session.get(User, user.id).clock_24h is False  # the first answer stays; Settings changes it


def test_the_form_shows_times_on_the_viewers_clock_and_the_events_own_beside_them(signed_in, db_session, user):
    set_user(db_session, user, time_zone="Europe/Berlin")
    calendar = make_connection(db_session, user)
    call = make_event(db_session, calendar, utc(2024, 3, 5, 14), utc(2024, 3, 5, 15), title="Call",
                      timezone="America/New_York")
    page = signed_in.get(f"/calendar/events/{call.id}/edit").get_data(as_text=True)

    assert re.search(r'id="start_time"[^>]*value="15:00"', page)  # Berlin, not New York's 09:00
    assert "the event keeps its own: 09:00 – 10:00 New York" in page
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page))
    response = signed_in.post(f"/calendar/events/{call.id}/edit", data={
        **{name: fields[name] for name in ("csrf_token", "input_zone", "start_date", "end_date", "view")},
        "title": "Call", "start_time": "15:00", "end_time": "16:00", "time_zone": "America/New_York",
        "repeat": "", "interval": "1", "ends": "never"})
    assert response.status_code == 303
    saved = db_session.get(CalendarEvent, call.id)
    assert (saved.start_time, saved.timezone) == (utc(2024, 3, 5, 14), "America/New_York")
