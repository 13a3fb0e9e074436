"""The private feed: what it serves equals the week pages (read back with icalendar and recurring-ical-events,
across DST, with EXDATEs and overrides), cheap revalidation, a secret address that can be replaced, limits and
the daily audit count."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from tests.factories import (
    make_all_day,
    make_connection,
    make_event,
    make_override,
    make_series,
    make_user,
    set_user,
)
from tests.helpers import csrf_token_from
from webapp.auth.recovery import create_reset_link
from webapp.calendar.entries import all_day_dates
from webapp.calendar.pages import Viewer, calendar_page
from webapp.feeds import access, views
from webapp.models import AuditLog, CalendarFeed, EventStatus, User

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


def next_offset_change(zone: ZoneInfo, after: date) -> date:
    """The first day after `after` on which `zone` changes its UTC offset (a DST change)."""
    day = after
    while True:
        day += timedelta(days=1)
        if datetime.combine(day, time(12), zone).utcoffset() != datetime.combine(
                day - timedelta(days=1), time(12), zone).utcoffset():
            return day


def new_feed_url(client, csrf) -> str:
    response = client.post("/settings/subscribe", data={"action": "issue", "csrf_token": csrf})
    assert response.status_code == 200
    return re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', response.get_data(as_text=True)).group(1)


def fetch(client, url: str, **headers):
    return client.get(urlsplit(url).path, headers=headers)


def occurrences_in_feed(body: bytes, start: datetime, end: datetime) -> set[tuple]:
    parsed = Calendar.from_ical(body)
    found = set()
    for component in recurring_ical_events.of(parsed).between(start, end):
        first, after = component.DTSTART, component.DTEND
        if isinstance(first, datetime):
            found.add((str(component["SUMMARY"]), first.astimezone(UTC), after.astimezone(UTC)))
        else:
            found.add((str(component["SUMMARY"]), first, after))
    return found


def occurrences_on_week_pages(db_session, user_id, first_monday: date, weeks: int) -> set[tuple]:
    account = db_session.get(User, user_id)
    now = datetime.now(UTC)
    shown = set()
    for week in range(weeks):
        page = calendar_page(db_session, Viewer.of(account), "week", first_monday + timedelta(weeks=week), now)
        entries = [placed.entry for column in page.grid.columns for placed in column.entries]
        entries += [banner.entry for banner in page.grid.banners]
        for entry in entries:
            if entry.is_all_day:
                first, last = all_day_dates(entry.start, entry.end)
                shown.add((entry.title, first, last + timedelta(days=1)))
            else:
                shown.add((entry.title, entry.start, entry.end))
    return shown


def test_the_feed_expands_to_exactly_what_the_week_pages_show(signed_in, csrf, db_session, user, calendar):
    set_user(db_session, user, time_zone="Europe/Berlin")
    spring = next_offset_change(NEW_YORK, datetime.now(UTC).date() + timedelta(days=7))
    monday = spring - timedelta(days=spring.weekday()) - timedelta(weeks=2)  # two weeks before New York's change
    at_ny = lambda day, hour: datetime.combine(day, time(hour), NEW_YORK).astimezone(UTC)  # noqa: E731
    at_berlin = lambda day, hour: datetime.combine(day, time(hour), BERLIN).astimezone(UTC)  # noqa: E731

    # A 09:00 New York weekday series across the change, with an EXDATE, a moved and a cancelled occurrence.
    excluded = monday + timedelta(days=1)
    until = monday + timedelta(weeks=4, days=2)
    standup = make_series(
        db_session, calendar, at_ny(monday, 9), "\n".join((
            f"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={until:%Y%m%d}",
            f"EXDATE;TZID=America/New_York:{excluded:%Y%m%d}T090000",
        )), minutes=30, title="Standup, NY", timezone="America/New_York")
    moved_from = monday + timedelta(weeks=2, days=2)
    make_override(db_session, standup, at_ny(moved_from, 9), start=at_ny(moved_from, 14), title="Standup (moved)",
                  timezone="America/New_York")
    make_override(db_session, standup, at_ny(monday + timedelta(weeks=3), 9), status=EventStatus.CANCELLED)
    # Berlin events on both sides of Europe's change, all-day events, a yearly all-day series, a tentative one.
    thursday = monday + timedelta(days=3)
    make_event(db_session, calendar, at_berlin(thursday, 15), at_berlin(thursday, 16), title="Berlin, before",
               timezone="Europe/Berlin")
    later = monday + timedelta(weeks=5, days=3)
    make_event(db_session, calendar, at_berlin(later, 15), at_berlin(later, 16), title="Berlin, later",
               timezone="Europe/Berlin", status=EventStatus.TENTATIVE)
    make_all_day(db_session, calendar, monday + timedelta(days=4), title="Day off")
    make_all_day(db_session, calendar, monday + timedelta(weeks=1, days=2), monday + timedelta(weeks=1, days=5),
                 title="Conference")
    make_series(db_session, calendar, datetime.combine(monday - timedelta(weeks=52, days=-2), time(), UTC),
                "RRULE:FREQ=YEARLY", minutes=24 * 60, title="Anniversary", is_all_day=True)
    # Not on the week pages, so not in the feed.
    hidden = make_connection(db_session, user, calendar_name="Hidden", is_visible=False)
    make_event(db_session, hidden, at_berlin(monday + timedelta(days=2), 10), title="Hidden calendar")
    make_event(db_session, calendar, at_berlin(monday + timedelta(days=2), 11), title="Cancelled",
               status=EventStatus.CANCELLED)
    stranger = make_user(db_session)
    make_event(db_session, make_connection(db_session, stranger), at_berlin(monday, 10), title="Someone else's")

    body = fetch(signed_in, new_feed_url(signed_in, csrf)).data
    weeks = 6
    window = (datetime.combine(monday, time(), BERLIN),
              datetime.combine(monday + timedelta(weeks=weeks), time(), BERLIN))
    in_feed = occurrences_in_feed(body, *window)
    on_pages = occurrences_on_week_pages(db_session, user.id, monday, weeks)

    assert in_feed == on_pages
    titles = {occurrence[0] for occurrence in in_feed}
    assert {"Standup, NY", "Standup (moved)", "Berlin, before", "Berlin, later", "Day off", "Conference",
            "Anniversary"} <= titles
    assert not titles & {"Hidden calendar", "Cancelled", "Someone else's"}
    standups = sorted(start for title, start, _end in in_feed if title == "Standup, NY")
    # The wall clock holds across the change: 09:00 New York is another UTC hour after it.
    before, after = at_ny(monday, 9).hour, at_ny(spring + timedelta(days=1), 9).hour
    assert before != after
    assert {start.hour for start in standups if start.date() < spring} == {before}
    assert {start.hour for start in standups if start.date() > spring} == {after}
    assert not any(start.date() == excluded for start in standups)
    assert len(standups) == 4 * 5 + 3 - 1 - 1 - 1  # four weeks and Mon-Wed, minus the EXDATE, moved, cancelled
    parsed = Calendar.from_ical(body)
    assert {str(zone["TZID"]) for zone in parsed.walk("VTIMEZONE")} >= {"America/New_York", "Europe/Berlin"}
    assert "ATTENDEE" not in body.decode()


def test_guests_are_left_out_unless_asked_for(signed_in, csrf, db_session, calendar):
    make_event(db_session, calendar, datetime.now(UTC) + timedelta(days=1), title="Review", attendees=[
        {"email": "ann@example.com", "name": "Ann", "responseStatus": "accepted", "organizer": True},
        {"email": "bob@example.com", "name": "Bob", "responseStatus": "declined"}])
    url = new_feed_url(signed_in, csrf)
    assert b"ann@example.com" not in fetch(signed_in, url).data

    signed_in.post("/settings/subscribe", data={"action": "guests", "include_attendees": "y", "csrf_token": csrf})

    event = Calendar.from_ical(fetch(signed_in, url).data).walk("VEVENT")[0]
    assert str(event["ORGANIZER"]) == "mailto:ann@example.com"
    attendees = {str(address): address.params["PARTSTAT"] for address in event["ATTENDEE"]}
    assert attendees == {"mailto:ann@example.com": "ACCEPTED", "mailto:bob@example.com": "DECLINED"}


def test_provider_text_cannot_add_lines_or_components(signed_in, csrf, db_session, calendar):
    make_event(db_session, calendar, datetime.now(UTC) + timedelta(days=1),
               title="Evil\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Injected", location="Room; 1, \\ 2",
               description="<p>Agenda</p><script>x()</script>")

    parsed = Calendar.from_ical(fetch(signed_in, new_feed_url(signed_in, csrf)).data)

    events = parsed.walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == "Evil\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Injected".replace("\r\n", "\n")
    assert str(events[0]["LOCATION"]) == "Room; 1, \\ 2"
    assert str(events[0]["DESCRIPTION"]) == "Agenda"


def test_unchanged_feeds_cost_a_304_and_changes_a_new_etag(signed_in, csrf, db_session, user, calendar,
                                                           monkeypatch):
    event = make_event(db_session, calendar, datetime.now(UTC) + timedelta(days=1), title="Planning")
    url = new_feed_url(signed_in, csrf)

    first = fetch(signed_in, url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.status_code == 200 and first.mimetype == "text/calendar" and len(first.data) > 300
    assert "private" in first.headers["Cache-Control"] and "no-store" not in first.headers["Cache-Control"]
    again = fetch(signed_in, url, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert fetch(signed_in, url, **{"If-Modified-Since": modified}).status_code == 304
    monkeypatch.setattr(views, "build_feed", lambda *args: pytest.fail("rebuilt an unchanged feed"))
    assert fetch(signed_in, url).data == first.data  # the same bytes while nothing changes, not built again
    monkeypatch.undo()

    stored = db_session.merge(event)
    stored.title = "Planning, moved"
    db_session.commit()
    changed = fetch(signed_in, url, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [str(event["SUMMARY"]) for event in Calendar.from_ical(changed.data).walk("VEVENT")] == [
        "Planning, moved"]

    etag = changed.headers["ETag"]
    db_session.merge(calendar).is_visible = False  # hiding a calendar changes the feed too
    db_session.commit()
    hidden = fetch(signed_in, url, **{"If-None-Match": etag})
    assert hidden.status_code == 200 and b"Planning" not in hidden.data


def test_a_new_address_ends_the_old_one_at_once(signed_in, csrf, db_session, user, calendar):
    old = new_feed_url(signed_in, csrf)
    assert fetch(signed_in, old).status_code == 200

    new = new_feed_url(signed_in, csrf)

    assert new != old
    assert fetch(signed_in, old).status_code == 404
    assert fetch(signed_in, new).status_code == 200
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    stored = db_session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
    page = signed_in.get("/settings/subscribe").get_data(as_text=True)
    assert token not in page and "Make a new address" in page
    actions = db_session.scalars(select(AuditLog.action).where(AuditLog.user_id == user.id)).all()
    assert "FEED_CREATE" in actions and "FEED_REGENERATE" in actions


def test_turning_the_feed_off_and_disabled_accounts(signed_in, csrf, db_session, user, calendar):
    url = new_feed_url(signed_in, csrf)
    set_user(db_session, user, disabled_at=datetime.now(UTC))
    assert fetch(signed_in, url).status_code == 404
    set_user(db_session, user, disabled_at=None)
    assert fetch(signed_in, url).status_code == 200

    response = signed_in.post("/settings/subscribe", data={"action": "off", "csrf_token": csrf})

    assert response.status_code == 303
    assert fetch(signed_in, url).status_code == 404
    assert "Create my private address" in signed_in.get("/settings/subscribe").get_data(as_text=True)


def revocations(db_session, user) -> list[AuditLog]:
    return db_session.scalars(select(AuditLog).where(AuditLog.action == "FEED_REVOKE",
                                                     AuditLog.user_id == user.id)).all()


def test_a_password_reset_ends_the_private_address(app, signed_in, csrf, db_session, user, calendar):
    url = new_feed_url(signed_in, csrf)
    with app.app_context():  # the link is built on PUBLIC_URL
        link = urlsplit(create_reset_link(db_session, user, minutes=30))
        db_session.commit()
    form = signed_in.get(f"{link.path}?{link.query}").get_data(as_text=True)
    reset_token = re.search(r'name="token" type="hidden" value="([^"]+)"', form).group(1)

    response = signed_in.post("/reset-password", data={"token": reset_token, "password": "a brand new passphrase",
                                                       "confirm": "a brand new passphrase",
                                                       "csrf_token": csrf_token_from(form)})

    assert response.status_code == 302
    page = signed_in.get("/settings/subscribe").get_data(as_text=True)  # signed in anew by the reset
    assert "Your private calendar address stopped working too" in page  # the flash
    assert "Resetting your\n    password or signing out everywhere else turns it off" in page
    assert "Create my private address" in page
    assert fetch(signed_in, url).status_code == 404
    [row] = revocations(db_session, user)
    feed_token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert row.metadata_ == {"reason": "password_reset"}
    assert feed_token not in repr((row.metadata_, row.resource_id, row.error_message, row.user_agent))


def test_signing_out_everywhere_else_ends_the_private_address(signed_in, csrf, db_session, user, calendar):
    url = new_feed_url(signed_in, csrf)

    response = signed_in.post("/settings/sessions/revoke-others", data={"csrf_token": csrf},
                              headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "private calendar address stopped working" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    assert fetch(signed_in, url).status_code == 404
    assert [row.metadata_ for row in revocations(db_session, user)] == [{"reason": "signed_out_everywhere"}]
    assert "Create my private address" in signed_in.get("/settings/subscribe").get_data(as_text=True)


def test_without_an_address_signing_out_everywhere_revokes_nothing(signed_in, csrf, db_session, user):
    response = signed_in.post("/settings/sessions/revoke-others", data={"csrf_token": csrf},
                              headers={"HX-Request": "true"})

    assert "private calendar address" not in response.headers["HX-Trigger"]
    assert revocations(db_session, user) == []


def test_settings_reject_unknown_actions_in_place(signed_in, csrf):
    response = signed_in.post("/settings/subscribe", data={"action": "explode", "csrf_token": csrf})
    assert response.status_code == 422
    assert "Unknown action." in response.get_data(as_text=True)


def test_requests_are_rate_limited_per_feed_and_guessing_per_address(signed_in, csrf, calendar, monkeypatch):
    monkeypatch.setattr(access, "REQUESTS_PER_FEED", "3 per 1 hour")
    monkeypatch.setattr(access, "MISSES_PER_ADDRESS", "2 per 15 minutes")
    url = new_feed_url(signed_in, csrf)
    assert [fetch(signed_in, url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert int(fetch(signed_in, url).headers["Retry-After"]) > 0

    wrong = url.rsplit("/", 1)[0] + "/not-a-token.ics"
    assert [fetch(signed_in, wrong).status_code for _ in range(3)] == [404, 404, 429]


def test_requests_are_audited_as_one_count_per_feed_and_day(signed_in, csrf, db_session, user, calendar, redis):
    url = new_feed_url(signed_in, csrf)
    etag = fetch(signed_in, url).headers["ETag"]
    fetch(signed_in, url, **{"If-None-Match": etag})
    fetch(signed_in, url, **{"If-None-Match": etag})
    assert not db_session.scalars(select(AuditLog).where(AuditLog.action == "FEED_ACCESS")).all()

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert access.record_daily_counts(db_session, redis, tomorrow) == 1
    assert access.record_daily_counts(db_session, redis, tomorrow) == 0  # a second run adds nothing

    rows = db_session.scalars(select(AuditLog).where(AuditLog.action == "FEED_ACCESS")).all()
    assert len(rows) == 1
    assert rows[0].user_id == user.id
    assert rows[0].metadata_ == {"day": datetime.now(UTC).date().isoformat(), "requests": 3, "not_modified": 2,
                                 "refused": 0}


def test_the_address_never_reaches_the_logs(signed_in, csrf, calendar, caplog):
    url = new_feed_url(signed_in, csrf)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")

    with caplog.at_level("INFO", logger="almanac.request"):
        assert fetch(signed_in, url).status_code == 200

    lines = [record for record in caplog.records if record.name == "almanac.request"]
    assert lines and all(token not in record.getMessage() and token not in record.path for record in lines)
    assert any(record.path == "/feeds/[redacted].ics" for record in lines)
    assert all(token not in handler.format(record) for handler in logging.getLogger().handlers for record in lines)
