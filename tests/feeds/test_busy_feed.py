"""Share your availability: the busy-only address shows busy blocks across every calendar of the user, nothing
about them but their times, leaves out free events, declined invitations and subscribed feeds, and follows the
private feed's token rules (only a hash stored, a new address ends the old one, turning off ends it)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from tests.factories import make_connection, make_event, make_override, make_series
from webapp.models import AuditLog, CalendarFeed, CalendarProvider


def new_busy_url(client, csrf) -> str:
    response = client.post("/settings/subscribe", data={"action": "busy-issue", "csrf_token": csrf})
    assert response.status_code == 200
    return re.search(r'id="busy-url" type="text" readonly value="([^"]+)"', response.get_data(as_text=True)).group(1)


def fetch(client, url: str):
    return client.get(urlsplit(url).path)


def test_only_busy_blocks_across_all_calendars(signed_in, csrf, db_session, user, calendar):
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    hidden = make_connection(db_session, user, calendar_name="Private", is_visible=False)
    feed_calendar = make_connection(db_session, user, provider=CalendarProvider.ICS, calendar_name="Holidays",
                                    can_write=False, access_token=None)
    make_event(db_session, calendar, soon, title="Salary talk", location="Room 4", description="Secret agenda",
               attendees=[{"email": "boss@example.com", "name": "Boss", "responseStatus": "accepted"}])
    make_event(db_session, hidden, soon + timedelta(hours=3), title="Doctor")
    make_event(db_session, calendar, soon + timedelta(hours=5), title="Lunch (free)",
               provider_metadata={"transparency": "transparent"})
    make_event(db_session, calendar, soon + timedelta(hours=6), title="Declined review",
               provider_metadata={"self_response": "declined"})
    make_event(db_session, feed_calendar, soon + timedelta(hours=7), title="Bank holiday")
    series = make_series(db_session, calendar, soon + timedelta(days=1), "RRULE:FREQ=DAILY;COUNT=3", title="Standup")
    declined = make_override(db_session, series, soon + timedelta(days=2), title="Standup")
    declined.provider_metadata = {**declined.provider_metadata, "self_response": "declined"}
    db_session.commit()

    url = new_busy_url(signed_in, csrf)
    body = fetch(signed_in, url).data

    parsed = Calendar.from_ical(body)
    blocks = sorted((component.DTSTART.astimezone(UTC), str(component["SUMMARY"]))
                    for component in recurring_ical_events.of(parsed).between(soon - timedelta(days=1),
                                                                              soon + timedelta(days=5)))
    assert blocks == [(soon, "Busy"), (soon + timedelta(hours=3), "Busy"), (soon + timedelta(days=1), "Busy"),
                      (soon + timedelta(days=3), "Busy")]
    for secret in (b"Salary", b"Room 4", b"Secret agenda", b"boss@example.com", b"Doctor", b"Private", b"Work",
                   b"Standup", b"Holiday"):
        assert secret not in body
    full = CalendarFeed.__table__
    assert db_session.execute(select(full.c.variant).where(full.c.user_id == user.id)).scalars().all() == ["busy"]


def test_the_busy_address_follows_the_feed_token_rules(signed_in, csrf, db_session, user, calendar):
    full = signed_in.post("/settings/subscribe", data={"action": "issue", "csrf_token": csrf})
    assert full.status_code == 200
    old = new_busy_url(signed_in, csrf)
    new = new_busy_url(signed_in, csrf)

    assert fetch(signed_in, old).status_code == 404 and fetch(signed_in, new).status_code == 200
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in signed_in.get("/settings/subscribe").get_data(as_text=True)
    assert len(db_session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == user.id)).all()) == 2

    signed_in.post("/settings/subscribe", data={"action": "busy-off", "csrf_token": csrf})

    assert fetch(signed_in, new).status_code == 404
    variants = db_session.scalars(select(CalendarFeed.variant).where(CalendarFeed.user_id == user.id)).all()
    assert variants == ["full"]  # the full address is untouched
    details = db_session.scalars(select(AuditLog.metadata_).where(AuditLog.user_id == user.id,
                                                                  AuditLog.action == "FEED_DISABLE")).all()
    assert details and details[0]["variant"] == "busy"
