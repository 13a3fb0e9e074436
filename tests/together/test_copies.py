"""The same invitation on several calendars: shown once with a badge per calendar, the panel opens each copy,
editing acts on the copy picked, and counts, conflicts, search and the feed count it once."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from icalendar import Calendar

from tests.factories import make_connection, make_event, make_series, utc
from tests.helpers import event_form, google_timed, graph_event, marked, soon
from webapp.calendar.queries import user_calendars
from webapp.models import CalendarEvent, CalendarProvider, SyncStatus

WEEK = "/calendar/week/2024-03-06"
INVITE = {"ical_uid": "040000008200E00074C5B7101A82E008-team-sync@example.com"}


def events_titled(html: str, title: str) -> list[str]:
    return [element for element in re.findall(r'<a class="event[^"]*".*?</a>', html, re.S)
            if re.search(rf'class="event-title"[^>]*>{re.escape(title)}<', element)]


def badges(element: str) -> list[str]:
    return re.findall(r'class="copy-badge"[^>]*>([^<]*)<', element)


def test_the_same_invite_on_google_and_microsoft_shows_once_with_two_badges(client, db_session,
                                                                           google_and_microsoft, run_sync):
    (google, google_calendar, google_state), (outlook, outlook_calendar, outlook_state) = google_and_microsoft
    # Plain ids: the sync ends transactions of the shared test session, which expires these objects.
    google_id, outlook_id, user_id = google.id, outlook.id, google.user_id
    start = soon(days=2, hour=10)
    uid = "040000008200E00074C5B7101A82E00800000000-invite@example.com"
    google_state.add_event(google_calendar, google_timed("Quarterly review", start, iCalUID=uid, attendees=[
        {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"},
        {"email": google_calendar, "self": True, "responseStatus": "accepted"}],
        organizer={"email": "boss@example.com"}))
    outlook_state.add_event(outlook_calendar, graph_event(
        "Quarterly review", start, iCalUId=uid, isOrganizer=False, responseStatus={"response": "accepted"}))
    run_sync(google_id)
    run_sync(outlook_id)

    html = client.get(f"/calendar/week/{start.date().isoformat()}").get_data(as_text=True)

    shown = events_titled(html, "Quarterly review")
    assert len(shown) == 1
    assert sorted(badges(shown[0])) == ["Calendar", "Work"]
    assert marked(html) == {}  # one meeting is not a double booking with itself
    # Neither copy is the user's own: the first writable one in the calendar list is shown.
    stored = {event.calendar_connection_id: event.id for event in db_session.query(CalendarEvent).filter(
        CalendarEvent.title == "Quarterly review")}
    first, second = [calendar.id for calendar in user_calendars(db_session, user_id)
                     if calendar.id in stored]
    assert f'data-event-id="{stored[first]}"' in shown[0]

    panel = client.get(f"/calendar/events/{stored[first]}").get_data(as_text=True)
    assert "This invitation is on 2 calendars." in panel
    assert re.findall(r'data-copy-of="([^"]+)"', panel) == [str(stored[second])]
    other_panel = client.get(f"/calendar/events/{stored[second]}").get_data(as_text=True)
    assert f"/calendar/events/{stored[second]}/edit" in other_panel  # editing there acts on that copy
    assert re.findall(r'data-copy-of="([^"]+)"', other_panel) == [str(stored[first])]

    found = client.get("/search", query_string={"q": "quarterly review"}).get_data(as_text=True)
    assert found.count('class="search-title"') == 1
    names = {google_id: "Work", outlook_id: "Calendar"}
    assert re.findall(r'class="search-calendar-name"><bdi>([^<]*)<', found) == [names[first], names[second]]


def test_the_copy_shown_is_the_one_the_user_organises(signed_in, db_session, user, calendar):
    outlook = make_connection(db_session, user, calendar_name="Aardvark", provider=CalendarProvider.MICROSOFT)
    make_event(db_session, outlook, utc(2024, 3, 6, 9), title="Planning",
               provider_metadata={**INVITE, "is_organizer": False})
    organised = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="Planning",
                           provider_metadata={**INVITE, "is_organizer": True})

    shown = events_titled(signed_in.get(WEEK).get_data(as_text=True), "Planning")

    assert len(shown) == 1 and f'data-event-id="{organised.id}"' in shown[0]


def test_a_read_only_copy_gives_way_to_a_writable_one(signed_in, db_session, user, calendar):
    shared = make_connection(db_session, user, calendar_name="Aardvark (shared)", can_write=False)
    make_event(db_session, shared, utc(2024, 3, 6, 9), title="Planning", provider_metadata=INVITE)
    writable = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="Planning", provider_metadata=INVITE)

    shown = events_titled(signed_in.get(WEEK).get_data(as_text=True), "Planning")

    assert len(shown) == 1 and f'data-event-id="{writable.id}"' in shown[0]


def test_editing_acts_on_the_copy_picked(signed_in, csrf, db_session, redis, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    first = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="Planning", provider_metadata=INVITE)
    second = make_event(db_session, home, utc(2024, 3, 6, 9), title="Planning", provider_metadata=INVITE)

    response = signed_in.post(f"/calendar/events/{second.id}/edit",
                              data=event_form(csrf, title="Planning (home notes)"))

    assert response.status_code == 303
    assert db_session.get(CalendarEvent, second.id).title == "Planning (home notes)"
    assert db_session.get(CalendarEvent, second.id).sync_status is SyncStatus.PENDING
    assert db_session.get(CalendarEvent, first.id).title == "Planning"
    assert db_session.get(CalendarEvent, first.id).sync_status is SyncStatus.SYNCED


def test_copies_are_merged_per_occurrence_and_counted_once(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    series_uid = {"ical_uid": "weekly-1on1@example.com"}
    make_series(db_session, calendar, utc(2024, 2, 5, 14), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", title="1:1",
                provider_metadata=series_uid)
    make_series(db_session, home, utc(2024, 2, 5, 14), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", title="1:1",
                provider_metadata=series_uid)
    make_event(db_session, calendar, utc(2024, 3, 7, 9), title="Offsite", provider_metadata=INVITE)
    make_event(db_session, home, utc(2024, 3, 7, 9), title="Offsite", provider_metadata=INVITE)
    make_event(db_session, home, utc(2024, 3, 7, 9, 30), title="Dentist")  # a real double booking

    week = signed_in.get(WEEK).get_data(as_text=True)
    agenda = signed_in.get("/calendar/agenda?start=2024-03-04").get_data(as_text=True)
    month = signed_in.get("/calendar/month/2024-03").get_data(as_text=True)

    assert len(events_titled(week, "1:1")) == 2  # Monday and Wednesday, each once
    assert all(len(badges(element)) == 2 for element in events_titled(week, "1:1"))
    assert len(events_titled(week, "Offsite")) == 1
    assert marked(week) == {"Offsite": 1, "Dentist": 1}
    assert "1 conflict this week" in agenda
    assert len(events_titled(month, "Offsite")) == 1


def test_the_panel_lists_the_copies_of_that_occurrence(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    uid = {"ical_uid": "weekly-standup@example.com"}
    work_series = make_series(db_session, calendar, utc(2024, 2, 5, 9), "RRULE:FREQ=DAILY", title="Standup",
                              provider_metadata=uid)
    home_series = make_series(db_session, home, utc(2024, 2, 5, 9), "RRULE:FREQ=DAILY", title="Standup",
                              provider_metadata=uid)

    panel = signed_in.get(f"/calendar/events/{work_series.id}?at=2024-03-06T09:00:00Z").get_data(as_text=True)

    assert "This invitation is on 2 calendars." in panel
    assert f"/calendar/events/{home_series.id}?at=2024-03-06T09:00:00Z" in panel.replace("%3A", ":")
    lonely = make_event(db_session, calendar, utc(2024, 3, 6, 12), title="Lunch", provider_metadata={"ical_uid": "x"})
    assert "This invitation is on" not in signed_in.get(f"/calendar/events/{lonely.id}").get_data(as_text=True)


def test_the_feed_carries_an_invitation_once(signed_in, csrf, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home")
    start = soon(days=1)
    make_event(db_session, calendar, start, title="Offsite", provider_metadata=INVITE)
    make_event(db_session, home, start, title="Offsite", provider_metadata=INVITE)
    make_event(db_session, home, start + timedelta(days=1), title="Offsite", provider_metadata=INVITE)  # another day

    page = signed_in.post("/settings/subscribe", data={"action": "issue", "csrf_token": csrf}).get_data(as_text=True)
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', page).group(1)
    body = signed_in.get(urlsplit(url).path).data

    assert [str(event["SUMMARY"]) for event in Calendar.from_ical(body).walk("VEVENT")] == ["Offsite", "Offsite"]
