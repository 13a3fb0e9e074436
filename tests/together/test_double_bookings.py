"""Double bookings: busy timed events on different calendars that overlap are marked in the day and week views
and counted in the agenda; free, declined, cancelled and all-day events never are; a setting turns it off."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from sandbox.radicale_server import put_event
from tests.factories import make_all_day, make_connection, make_event, make_series, set_user, utc
from tests.helpers import APPLE_USER, google_timed, graph_event, live_events, marked, soon
from webapp.calendar.entries import CalendarInfo, Entry
from webapp.calendar.overlaps import find_overlaps
from webapp.models import CalendarProvider, EventStatus

WEEK = "/calendar/week/2024-03-06"  # Mon 4 – Sun 10 March 2024




def info(name: str) -> CalendarInfo:
    return CalendarInfo(id=uuid.uuid5(uuid.NAMESPACE_DNS, name), name=name,
                        colour="#123456", provider="GOOGLE", is_visible=True, is_connected=True, can_write=True)


def entry(title: str, calendar: str, start_hour: float, end_hour: float, *, all_day: bool = False) -> Entry:
    day = datetime(2024, 3, 4, tzinfo=UTC)
    return Entry(event_id=uuid.uuid4(), series_id=None, original_start=None, title=title, location=None,
                 start=day + timedelta(hours=start_hour), end=day + timedelta(hours=end_hour), is_all_day=all_day,
                 timezone="UTC", sync_status="SYNCED", calendar=info(calendar))


def test_only_busy_timed_events_of_different_calendars_that_really_overlap():
    work = entry("Work call", "Work", 9, 10)
    dentist = entry("Dentist", "Home", 9.5, 11)
    same_calendar = entry("Work sync", "Work", 9.5, 10.5)
    touching = entry("Lunch", "Home", 11, 12)
    free = entry("Focus time", "Home", 9, 12)
    all_day = entry("Holiday", "Family", 0, 24, all_day=True)
    long_timed = entry("Conference", "Family", 8, 8 + 30)

    overlaps = find_overlaps([work, dentist, same_calendar, touching, free, all_day, long_timed],
                             lambda e: e is not free)

    assert {frozenset((a.title, b.title)) for a, b in overlaps.pairs} == {
        frozenset(("Work call", "Dentist")), frozenset(("Dentist", "Work sync"))}
    assert overlaps.of(dentist) == (work, same_calendar)
    assert overlaps.of(touching) == () and overlaps.of(all_day) == ()
    assert overlaps.count_between(date(2024, 3, 4), date(2024, 3, 4), UTC) == 2


def test_week_and_day_views_mark_double_bookings_in_words(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home", provider=CalendarProvider.MICROSOFT)
    make_event(db_session, calendar, utc(2024, 3, 5, 9), utc(2024, 3, 5, 10), title="Planning")
    make_event(db_session, home, utc(2024, 3, 5, 9, 30), utc(2024, 3, 5, 10, 30), title="Dentist")
    make_event(db_session, calendar, utc(2024, 3, 5, 14), title="Alone")

    week = signed_in.get(WEEK).get_data(as_text=True)
    day = signed_in.get("/calendar/day/2024-03-05").get_data(as_text=True)

    assert marked(week) == marked(day) == {"Planning": 1, "Dentist": 1}
    assert "Double-booked with another event" in week
    assert 'title="Double-booked with Dentist (Home)"' in week


def test_free_declined_cancelled_and_all_day_events_never_conflict(signed_in, db_session, user, calendar):
    outlook = make_connection(db_session, user, calendar_name="Outlook", provider=CalendarProvider.MICROSOFT,
                              account_email="ada@work.example")
    icloud = make_connection(db_session, user, calendar_name="iCloud", provider=CalendarProvider.APPLE,
                             account_email="ada@icloud.example")
    at = utc(2024, 3, 6, 9)
    make_event(db_session, calendar, at, title="Busy meeting")
    make_event(db_session, calendar, at, title="Google free", provider_metadata={"transparency": "transparent"})
    make_event(db_session, outlook, at, title="Outlook free", provider_metadata={"showAs": "free"})
    make_event(db_session, outlook, at, title="Outlook declined",
               provider_metadata={"showAs": "busy", "self_response": "declined"})
    make_event(db_session, icloud, at, title="iCloud free", provider_metadata={"transp": "TRANSPARENT"})
    make_event(db_session, icloud, at, title="iCloud declined", attendees=[
        {"email": "boss@example.com", "responseStatus": "accepted", "organizer": True},
        {"email": "Ada@iCloud.example", "responseStatus": "declined", "organizer": False}])
    make_event(db_session, icloud, at, title="Cancelled", status=EventStatus.CANCELLED)
    make_all_day(db_session, outlook, date(2024, 3, 6), title="Holiday")

    assert marked(signed_in.get(WEEK).get_data(as_text=True)) == {}

    make_event(db_session, outlook, at + timedelta(minutes=30), title="Outlook tentative",
               provider_metadata={"showAs": "tentative"})
    assert marked(signed_in.get(WEEK).get_data(as_text=True)) == {"Busy meeting": 1, "Outlook tentative": 1}


def test_series_occurrences_conflict_where_they_land(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    make_series(db_session, calendar, utc(2024, 2, 1, 8), "RRULE:FREQ=DAILY", minutes=30, title="Standup")
    make_event(db_session, home, utc(2024, 3, 7, 8, 15), title="School run")

    html = signed_in.get(WEEK).get_data(as_text=True)

    assert marked(html) == {"Standup": 1, "School run": 1}
    assert html.count('data-overlaps="1"') == 2  # one standup of seven, and the school run


def test_the_agenda_counts_conflicts_this_week(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    for day in (4, 6):
        make_event(db_session, calendar, utc(2024, 3, day, 9), title=f"Work {day}")
        make_event(db_session, home, utc(2024, 3, day, 9, 30), title=f"Home {day}")
    make_event(db_session, calendar, utc(2024, 3, 20, 9), title="Later")
    make_event(db_session, home, utc(2024, 3, 20, 9), title="Later at home")

    html = signed_in.get("/calendar/agenda?start=2024-03-04").get_data(as_text=True)

    assert re.search(r'class="overlap-summary has-overlaps"[^>]*>.*2 conflicts this week · 3 in the 30 days shown',
                     html, re.S)
    assert marked(html) == {"Work 4": 1, "Home 4": 1, "Work 6": 1, "Home 6": 1, "Later": 1, "Later at home": 1}
    quiet = signed_in.get("/calendar/agenda?start=2024-03-11").get_data(as_text=True)
    assert "No conflicts this week · 1 in the 30 days shown" in quiet


def test_a_setting_turns_the_marks_off(signed_in, csrf, db_session, user, calendar):
    set_user(db_session, user, time_zone="UTC")
    home = make_connection(db_session, user, calendar_name="Home")
    make_event(db_session, calendar, utc(2024, 3, 5, 9), title="Planning")
    make_event(db_session, home, utc(2024, 3, 5, 9), title="Dentist")
    assert marked(signed_in.get(WEEK).get_data(as_text=True))

    response = signed_in.post("/settings/profile", data={
        "csrf_token": csrf, "time_zone": "UTC", "week_start": "1", "first_name": "Ada",
        "work_day_start": "08:00", "work_day_end": "18:00"})  # the box left unticked

    assert response.status_code == 303
    assert marked(signed_in.get(WEEK).get_data(as_text=True)) == {}
    assert "overlap-summary" not in signed_in.get("/calendar/agenda?start=2024-03-04").get_data(as_text=True)
    signed_in.post("/settings/profile", data={"csrf_token": csrf, "time_zone": "UTC", "week_start": "1",
                                             "work_day_start": "08:00", "work_day_end": "18:00",
                                             "mark_double_bookings": "y"})
    assert marked(signed_in.get(WEEK).get_data(as_text=True))




def caldav_event(uid: str, summary: str, start: datetime, extra_lines: str = "") -> str:
    stamp = lambda moment: moment.strftime("%Y%m%dT%H%M%SZ")  # noqa: E731
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{stamp(start)}\r\nDTSTART:{stamp(start)}\r\n"
            f"DTEND:{stamp(start + timedelta(hours=1))}\r\nSUMMARY:{summary}\r\n{extra_lines}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_providers_free_busy_and_answers_reach_the_week(client, db_session, google_and_microsoft, run_sync):
    """From the emulators through a real sync: Google transparency and self attendee, Graph showAs and
    responseStatus."""
    (google_connection, google_calendar, google_state), (microsoft_connection, microsoft_calendar,
                                                         microsoft_state) = google_and_microsoft
    start = soon(days=2, hour=9)
    google_state.add_event(google_calendar, google_timed("Google busy", start))
    google_state.add_event(google_calendar, google_timed("Google free", start, transparency="transparent"))
    google_state.add_event(google_calendar, google_timed("Google declined", start, attendees=[
        {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"},
        {"email": "me@example.com", "self": True, "responseStatus": "declined"}]))
    microsoft_state.add_event(microsoft_calendar, graph_event("Outlook busy", start))
    microsoft_state.add_event(microsoft_calendar, graph_event("Outlook free", start, showAs="free"))
    microsoft_state.add_event(microsoft_calendar, graph_event(
        "Outlook declined", start, isOrganizer=False, responseStatus={"response": "declined"}))
    run_sync(google_connection.id)
    run_sync(microsoft_connection.id)

    facts = {event.title: event.provider_metadata for connection in (google_connection, microsoft_connection)
             for event in live_events(db_session, connection)}
    assert facts["Google free"]["transparency"] == "transparent"
    assert facts["Google declined"]["self_response"] == "declined"
    assert facts["Outlook free"]["showAs"] == "free"
    assert facts["Outlook declined"]["self_response"] == "declined"
    assert facts["Outlook declined"]["is_organizer"] is False

    html = client.get(f"/calendar/week/{start.date().isoformat()}").get_data(as_text=True)
    assert marked(html) == {"Google busy": 1, "Outlook busy": 1}


def test_caldav_transparency_and_the_accounts_own_answer(client, db_session, user, calendar, apple, run_sync):
    connection, url = apple
    start = soon(days=3, hour=9)
    for uid, summary, extra in (
        ("busy", "iCloud busy", ""),
        ("free", "iCloud free", "TRANSP:TRANSPARENT\r\n"),
        ("declined", "iCloud declined", "ORGANIZER:mailto:boss@example.com\r\n"
                                        f"ATTENDEE;PARTSTAT=DECLINED:mailto:{APPLE_USER[0]}\r\n"),
    ):
        put_event(url, *APPLE_USER, url, f"{uid}.ics", caldav_event(f"{uid}-{connection.id}", summary, start, extra))
    make_event(db_session, calendar, start, title="Google busy")
    run_sync(connection.id)

    html = client.get(f"/calendar/week/{start.date().isoformat()}").get_data(as_text=True)

    assert marked(html) == {"Google busy": 1, "iCloud busy": 1}
