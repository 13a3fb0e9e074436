"""Where provider content enters: one Retry-After parser, cleaning, and the iCalendar fidelity cases real
calendars produce (floating times, Windows-zone and midnight RECURRENCE-IDs, duplicate masters)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.providers.base import ChangePage, RemoteCalendar, RemoteEvent
from webapp.providers.content import MAX_ATTENDEES
from webapp.providers.http import RETRY_AFTER_CAP_SECONDS, is_within, parse_retry_after
from webapp.providers.ical import calendar_timezone_name, parse_calendar_resource
from webapp.recurrence import Override, SeriesMaster, expand

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), ("1.5", 1.5), (" 7 ", 7.0), ("0", 0.0), ("-3", 0.0),
    ("Tue, 10 Mar 2026 10:00:30 GMT", 30.0), ("Tue, 10 Mar 2026 09:00:00 GMT", 0.0),
    ("999999", RETRY_AFTER_CAP_SECONDS), ("nan", None), ("soon", None), ("", None), (None, None),
])
def test_retry_after_is_read_one_way_for_every_provider(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


def test_credentials_stay_within_the_servers_registrable_domain():
    assert is_within("https://p42-caldav.icloud.com/123/calendars/", "https://caldav.icloud.com/")
    assert not is_within("https://caldav.icloud.com.evil.example/", "https://caldav.icloud.com/")
    assert not is_within("http://p42-caldav.icloud.com/", "https://caldav.icloud.com/")  # no step down to http
    assert not is_within("https://other.co.uk/", "https://cal.example.co.uk/")  # co.uk is a public suffix
    assert is_within("http://127.0.0.1:8000/x/", "http://127.0.0.1:5232/")
    assert not is_within("http://localhost:5232/", "http://127.0.0.1:5232/")


def event(provider_event_id="e1", **fields) -> RemoteEvent:
    start = datetime(2026, 3, 10, 9, tzinfo=UTC)
    return RemoteEvent(provider_event_id=provider_event_id, title=fields.pop("title", "Meeting"), start_time=start,
                       end_time=start + timedelta(hours=1), **fields)


def test_a_page_cleans_text_cuts_fields_and_caps_attendees():
    guests = [{"email": f"g{n}@example.com", "name": f"Guest\x00{n}"} for n in range(MAX_ATTENDEES + 50)]
    page = ChangePage([event(title="Plan\x00ning\x07\tA\nB\r", location="L" * 900, description="ok\x1b[31m",
                             attendees=guests, metadata={"etag\x00": "\x00\"1\""})], [])

    (cleaned,) = page.events
    assert cleaned.title == "Planning A B "
    assert len(cleaned.location) == 500 and cleaned.description == "ok[31m"
    assert len(cleaned.attendees) == MAX_ATTENDEES and cleaned.metadata["attendee_total"] == MAX_ATTENDEES + 50
    assert cleaned.attendees[0]["name"] == "Guest0" and cleaned.metadata == {
        "etag": '"1"', "attendee_total": MAX_ATTENDEES + 50}
    assert page.skipped == []


def test_controls_and_invisible_reordering_characters_leave_every_kind_of_provider_text():
    hidden = "\x1b[2J\u202e\u202a\u202d\u202c\u2066\u2067\u2068\u2069\u200b\u2060\ufeff\x9b\x7f"
    page = ChangePage([event(title=f"Pay {hidden}invoice", location=f"Room{hidden} 4\r\n2nd floor",
                             description=f"Agenda:\r\n\t1.{hidden} Budget\u2028Done\x85",
                             attendees=[{"email": "ev@example.com", "name": f"Eve{hidden}\tAdams"}])], [])

    (cleaned,) = page.events
    assert cleaned.title == "Pay [2Jinvoice"
    assert cleaned.location == "Room[2J 4 2nd floor"  # one line: breaks and tabs become spaces
    assert cleaned.description == "Agenda:\n\t1.[2J Budget\nDone\n"  # a description keeps its lines and tabs
    assert cleaned.attendees[0]["name"] == "Eve[2J Adams"
    assert RemoteCalendar("c1", f"Wo{hidden}rk\nshared", None).name == "Wo[2Jrk shared"


def test_characters_that_scripts_and_emoji_need_stay():
    # Hebrew with a right-to-left mark, Persian with a zero-width non-joiner, a family emoji (zero-width joiners),
    # a soft hyphen.
    text = ("\u05e9\u05dc\u05d5\u05dd\u200f (Shalom) \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 "
            "\U0001f468\u200d\U0001f469 co\u00adop")
    (cleaned,) = ChangePage([event(title=text, description=text)], []).events
    assert cleaned.title == cleaned.description == text


def test_an_event_that_cannot_be_stored_is_skipped_with_a_reason_and_the_rest_kept():
    page = ChangePage([event("x" * 300), event("fine")], [])

    assert [e.provider_event_id for e in page.events] == ["fine"]
    (skipped,) = page.skipped
    assert "longer than 255" in skipped.reason and "Meeting" not in skipped.reason


def calendar(*components: str, extra: tuple[str, ...] = ()) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//T//EN", *extra, *components,
                        "END:VCALENDAR"]) + "\r\n"


def vevent(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"])


def shown(events, start, end) -> list[tuple[datetime, str | None]]:
    """What a calendar view shows of the parsed series: (start, override id) per occurrence."""
    master = next(e for e in events if not e.parent_provider_event_id)
    overrides = [Override(e.provider_event_id, e.original_start_time, e.start_time, e.end_time, e.status)
                 for e in events if e.parent_provider_event_id]
    series = SeriesMaster(master.provider_event_id, master.start_time, master.end_time, master.is_all_day,
                          master.timezone, master.recurrence_rule)
    return [(o.start, o.override_id) for o in expand(series, overrides, start, end)]


def test_floating_times_belong_to_the_calendars_zone_then_x_wr_timezone_then_the_users():
    floating = vevent("UID:f", "SUMMARY:Standup", "DTSTART:20260601T090000", "DTEND:20260601T093000")
    (by_collection,) = parse_calendar_resource(calendar(floating, extra=("X-WR-TIMEZONE:Asia/Tokyo",)), "/c/f.ics",
                                               None, "America/New_York", calendar_timezone="Europe/Berlin")
    (by_x_wr,) = parse_calendar_resource(calendar(floating, extra=("X-WR-TIMEZONE:Asia/Tokyo",)), "/c/f.ics", None,
                                         "America/New_York")
    (by_user,) = parse_calendar_resource(calendar(floating), "/c/f.ics", None, "America/New_York")

    assert (by_collection.start_time, by_collection.timezone) == (datetime(2026, 6, 1, 7, tzinfo=UTC),
                                                                  "Europe/Berlin")
    assert (by_x_wr.start_time, by_x_wr.timezone) == (datetime(2026, 6, 1, 0, tzinfo=UTC), "Asia/Tokyo")
    assert (by_user.start_time, by_user.timezone) == (datetime(2026, 6, 1, 13, tzinfo=UTC), "America/New_York")
    assert by_user.metadata["floating"] is True


def test_the_calendar_timezone_property_names_its_zone():
    text = calendar("\r\n".join(["BEGIN:VTIMEZONE", "TZID:W. Europe Standard Time", "BEGIN:STANDARD",
                                 "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
                                 "END:STANDARD", "END:VTIMEZONE"]))
    assert calendar_timezone_name(text) == "Europe/Berlin"


# What Outlook exports beside a Windows zone name: often a partial definition without the summer rule.
PARTIAL_GMT = "\r\n".join(["BEGIN:VTIMEZONE", "TZID:GMT Standard Time", "BEGIN:STANDARD", "DTSTART:16010101T000000",
                           "TZOFFSETFROM:+0000", "TZOFFSETTO:+0000", "END:STANDARD", "END:VTIMEZONE"])


def test_an_override_whose_recurrence_id_uses_a_windows_zone_replaces_its_instance():
    events = parse_calendar_resource(calendar(
        PARTIAL_GMT,
        vevent("UID:w", "SUMMARY:Weekly", "DTSTART;TZID=Europe/London:20260601T090000",
               "DTEND;TZID=Europe/London:20260601T100000", "RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent("UID:w", "SUMMARY:Moved", "RECURRENCE-ID;TZID=GMT Standard Time:20260608T090000",
               "DTSTART;TZID=Europe/London:20260608T150000", "DTEND;TZID=Europe/London:20260608T160000"),
    ), "/c/w.ics", None)

    assert shown(events, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC)) == [
        (datetime(2026, 6, 1, 8, tzinfo=UTC), None),
        (datetime(2026, 6, 8, 14, tzinfo=UTC), "/c/w.ics::2026-06-08T08:00:00Z"),
        (datetime(2026, 6, 15, 8, tzinfo=UTC), None),
    ]


@pytest.mark.parametrize("recurrence_id", ["RECURRENCE-ID:20260309T000000", "RECURRENCE-ID:20260309T000000Z",
                                           "RECURRENCE-ID;TZID=Asia/Tokyo:20260309T000000"])
def test_an_all_day_series_override_named_by_a_midnight_date_time_replaces_its_instance(recurrence_id):
    events = parse_calendar_resource(calendar(
        vevent("UID:a", "SUMMARY:Holiday", "DTSTART;VALUE=DATE:20260302", "DTEND;VALUE=DATE:20260303",
               "RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent("UID:a", "SUMMARY:Moved", recurrence_id, "DTSTART;VALUE=DATE:20260311", "DTEND;VALUE=DATE:20260312"),
    ), "/c/a.ics", None, "Asia/Tokyo")

    assert shown(events, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)) == [
        (datetime(2026, 3, 2, tzinfo=UTC), None),
        (datetime(2026, 3, 11, tzinfo=UTC), "/c/a.ics::2026-03-09"),
        (datetime(2026, 3, 16, tzinfo=UTC), None),
    ]


def test_of_two_masters_for_one_uid_the_highest_sequence_wins_then_the_latest_change():
    old = vevent("UID:d", "SEQUENCE:1", "SUMMARY:Old", "DTSTART:20260601T090000Z", "DTEND:20260601T100000Z")
    new = vevent("UID:d", "SEQUENCE:2", "SUMMARY:New", "DTSTART:20260601T110000Z", "DTEND:20260601T120000Z")
    (by_sequence,) = parse_calendar_resource(calendar(new, old), "/c/d.ics", None)
    (by_sequence_reversed,) = parse_calendar_resource(calendar(old, new), "/c/d.ics", None)
    stale = vevent("UID:e", "LAST-MODIFIED:20260101T000000Z", "SUMMARY:Stale", "DTSTART:20260601T090000Z")
    fresh = vevent("UID:e", "LAST-MODIFIED:20260201T000000Z", "SUMMARY:Fresh", "DTSTART:20260601T090000Z")
    (by_change,) = parse_calendar_resource(calendar(stale, fresh), "/c/e.ics", None)

    assert by_sequence.title == by_sequence_reversed.title == "New"
    assert by_sequence.start_time == datetime(2026, 6, 1, 11, tzinfo=UTC)
    assert by_change.title == "Fresh"
