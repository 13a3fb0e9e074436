"""Pulling from the Graph emulator (calendarView delta) and from Radicale (sync-collection)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from tests.helpers import APPLE_USER, ics, live_events, put_caldav_event
from webapp.models import CalendarConnection, CalendarEvent, EventStatus


def graph_timed(subject, day: date, hour: int, zone: str, **extra):
    return {"subject": subject, "start": {"dateTime": f"{day.isoformat()}T{hour:02d}:00:00", "timeZone": zone},
            "end": {"dateTime": f"{day.isoformat()}T{hour + 1:02d}:00:00", "timeZone": zone}, **extra}


def in_days(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def test_delta_sync_maps_windows_zones_and_applies_removals(microsoft, run_sync, db_session):
    connection, calendar_id, state = microsoft
    day = in_days(10)
    berlin = state.add_event(calendar_id, graph_timed("Sprint planning", day, 14, "W. Europe Standard Time"))
    state.add_event(calendar_id, graph_timed("Call", day, 9, "Eastern Standard Time"))
    state.add_event(calendar_id, {"subject": "Offsite", "isAllDay": True,
                                  "start": {"dateTime": f"{day}T00:00:00", "timeZone": "UTC"},
                                  "end": {"dateTime": f"{day + timedelta(days=2)}T00:00:00", "timeZone": "UTC"}})
    counts = run_sync(connection.id)
    assert counts["created"] == 3
    events = {e.title: e for e in live_events(db_session, connection)}
    planning = events["Sprint planning"]
    berlin_offset = 1 if day.month in (11, 12, 1, 2) or (day.month == 3 and day.day < 25) else 2
    assert planning.timezone == "Europe/Berlin"
    assert planning.start_time == datetime(day.year, day.month, day.day, 14 - berlin_offset, tzinfo=UTC)
    assert events["Call"].timezone == "America/New_York"
    offsite = events["Offsite"]
    assert offsite.is_all_day and offsite.start_time == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert offsite.end_time - offsite.start_time == timedelta(days=2)
    assert db_session.get(CalendarConnection, connection.id).sync_token.startswith("http")

    state.delete_event(berlin)
    counts = run_sync(connection.id)
    assert counts["deleted"] == 1 and counts["full_resync"] is False
    assert "Sprint planning" not in {e.title for e in live_events(db_session, connection)}


def test_stale_delta_token_resyncs_in_full(microsoft, run_sync, db_session):
    connection, calendar_id, state = microsoft
    keep = state.add_event(calendar_id, graph_timed("Keep", in_days(3), 10, "UTC"))
    drop = state.add_event(calendar_id, graph_timed("Drop", in_days(4), 10, "UTC"))
    run_sync(connection.id)
    state.expire_delta_tokens(calendar_id)
    state.delete_event(drop)
    counts = run_sync(connection.id)
    assert counts["full_resync"] and counts["deleted"] == 1
    assert [e.provider_event_id for e in live_events(db_session, connection)] == [keep]


def test_recurring_series_arrives_as_occurrences(microsoft, run_sync, db_session):
    connection, calendar_id, state = microsoft
    start = in_days(1)
    state.add_event(calendar_id, graph_timed(
        "Daily standup", start, 9, "Pacific Standard Time",
        recurrence={"pattern": {"type": "daily", "interval": 1},
                    "range": {"type": "numbered", "startDate": start.isoformat(), "numberOfOccurrences": 3}}))
    run_sync(connection.id)
    standups = [e for e in live_events(db_session, connection) if e.title == "Daily standup"]
    assert len(standups) == 3
    assert all(not e.is_recurring and e.provider_metadata.get("seriesMasterId") for e in standups)
    assert all(e.timezone == "America/Los_Angeles" for e in standups)


NEW_YORK = """BEGIN:VTIMEZONE
TZID:Eastern-Custom
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE"""




def single(uid: str, summary: str, start: str, end: str) -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n" \
           f"SUMMARY:{summary}\r\nEND:VEVENT"




def test_caldav_sync_collection_incremental_and_custom_timezone(apple, run_sync, db_session, provider_servers):
    import requests

    connection, url = apple
    put_caldav_event(provider_servers, url, "a.ics",
                     ics(single("a", "Dentist", "20261201T150000Z", "20261201T160000Z")))
    put_caldav_event(provider_servers, url, "series.ics", ics(NEW_YORK, "\r\n".join([
        "BEGIN:VEVENT", "UID:series", "DTSTAMP:20260101T000000Z", "SUMMARY:Choir",
        "DTSTART;TZID=Eastern-Custom:20260302T190000", "DTEND;TZID=Eastern-Custom:20260302T210000",
        "RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Eastern-Custom:20260316T190000", "END:VEVENT"]),
        "\r\n".join(["BEGIN:VEVENT", "UID:series", "DTSTAMP:20260101T000000Z", "SUMMARY:Choir (concert)",
                     "RECURRENCE-ID;TZID=Eastern-Custom:20260323T190000",
                     "DTSTART;TZID=Eastern-Custom:20260323T200000", "DTEND;TZID=Eastern-Custom:20260323T220000",
                     "END:VEVENT"])))
    counts = run_sync(connection.id)
    assert counts["created"] == 3
    rows = {e.title: e for e in live_events(db_session, connection)}
    choir = rows["Choir"]
    assert choir.is_recurring and choir.timezone == "America/New_York"
    assert choir.start_time == datetime(2026, 3, 3, 0, tzinfo=UTC)  # 19:00 EST
    concert = rows["Choir (concert)"]
    assert concert.parent_event_id == choir.id
    assert concert.start_time == datetime(2026, 3, 24, 0, tzinfo=UTC)  # 20:00 EDT, after the DST change

    # Incremental: one change, one removal (the override dropped with its resource's rewrite).
    put_caldav_event(provider_servers, url, "a.ics",
                     ics(single("a", "Dentist (moved)", "20261202T150000Z", "20261202T160000Z")))
    put_caldav_event(provider_servers, url, "series.ics", ics(NEW_YORK, "\r\n".join([
        "BEGIN:VEVENT", "UID:series", "DTSTAMP:20260101T000000Z", "SUMMARY:Choir",
        "DTSTART;TZID=Eastern-Custom:20260302T190000", "DTEND;TZID=Eastern-Custom:20260302T210000",
        "RRULE:FREQ=WEEKLY;COUNT=4", "END:VEVENT"])))
    counts = run_sync(connection.id)
    assert counts["full_resync"] is False and counts["deleted"] == 1
    assert sorted(e.title for e in live_events(db_session, connection)) == ["Choir", "Dentist (moved)"]

    # Removed on the server: 404 member in sync-collection.
    requests.delete(f"{url}a.ics", auth=APPLE_USER, timeout=10)
    counts = run_sync(connection.id)
    assert counts["deleted"] == 1
    assert [e.title for e in live_events(db_session, connection)] == ["Choir"]


def test_caldav_invalid_token_resyncs_in_full(apple, run_sync, db_session, provider_servers):
    connection, url = apple
    put_caldav_event(provider_servers, url, "x.ics", ics(single("x", "Yoga", "20261203T070000Z", "20261203T080000Z")))
    run_sync(connection.id)
    db_session.execute(CalendarConnection.__table__.update().where(CalendarConnection.id == connection.id)
                       .values(sync_token="http://radicale.org/ns/sync/not-a-real-token"))
    db_session.commit()
    counts = run_sync(connection.id)
    assert counts["full_resync"] and counts["created"] == 0
    assert [e.title for e in live_events(db_session, connection)] == ["Yoga"]
    assert len(db_session.scalars(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection.id)).all()) == 1
    assert live_events(db_session, connection)[0].status == EventStatus.CONFIRMED
