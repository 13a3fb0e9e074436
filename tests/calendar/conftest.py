"""Calendar factories (each commits, like make_user: a request's teardown would roll back a mere flush)."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PASSWORD, csrf_token_from
from webapp.auth.accounts import hash_password
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent, CalendarProvider, EventStatus, SyncStatus, User
from webapp.recurrence import SeriesMaster, series_end

_accounts = itertools.count(1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def make_account(session, **overrides) -> User:
    """make_user with the password hashed once per run: argon2 takes a tenth of a second every time."""
    values = {"email": f"calendar{next(_accounts)}-{uuid.uuid4().hex[:6]}@example.com",
              "password_hash": _password_hash()}
    values.update(overrides)
    account = User(**values)
    session.add(account)
    session.commit()
    return account


def make_connection(session, user, **overrides) -> CalendarConnection:
    values = {
        "user_id": user.id,
        "provider": CalendarProvider.GOOGLE,
        "calendar_id": f"cal-{uuid.uuid4().hex[:10]}@example.com",
        "calendar_name": "Work",
        "calendar_color": "#4285f4",
        "is_connected": True,
        "is_visible": True,
        "can_write": True,
    }
    values.update(overrides)
    connection = CalendarConnection(**values)
    session.add(connection)
    session.commit()
    return connection


def _insert_event(session, connection_id: uuid.UUID, start: datetime, end: datetime | None, **overrides):
    values = {
        "calendar_connection_id": connection_id,
        "provider_event_id": uuid.uuid4().hex,
        "title": "Meeting",
        "start_time": start,
        "end_time": end or start + timedelta(hours=1),
        "timezone": "UTC",
        "status": EventStatus.CONFIRMED,
        "sync_status": SyncStatus.SYNCED,
    }
    values.update(overrides)
    event = CalendarEvent(**values)
    session.add(event)
    session.commit()
    return event


def make_event(session, connection, start: datetime, end: datetime | None = None, **overrides) -> CalendarEvent:
    return _insert_event(session, connection.id, start, end, **overrides)


def make_all_day(session, connection, first: date, last: date | None = None, **overrides) -> CalendarEvent:
    """Stored as the providers' all-day events are: 00:00 UTC of the first day to 00:00 UTC after the last."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine((last or first) + timedelta(days=1), time(), UTC)
    return make_event(session, connection, start, end, is_all_day=True, **overrides)


def make_series(session, connection, start: datetime, rule: str, minutes: int = 60, **overrides) -> CalendarEvent:
    """A series master with its stored end, as the sync and the edit forms store it."""
    end = start + timedelta(minutes=minutes)
    master = SeriesMaster(None, start, end, overrides.get("is_all_day", False), overrides.get("timezone", "UTC"), rule)
    return make_event(session, connection, start, end, is_recurring=True, recurrence_rule=rule,
                      series_until=series_end(master), **overrides)


def make_override(session, master, original_start: datetime, start: datetime | None = None,
                  end: datetime | None = None, **overrides) -> CalendarEvent:
    """A child row replacing one instance of `master` (status CANCELLED removes the instance)."""
    start = start or original_start
    values = {"title": master.title, "timezone": master.timezone, "is_all_day": master.is_all_day, **overrides}
    return _insert_event(
        session, master.calendar_connection_id, start, end or start + (master.end_time - master.start_time),
        parent_event_id=master.id,
        provider_metadata={"original_start_time": original_start.astimezone(UTC).isoformat()}, **values,
    )


def set_user(session, user, **values) -> None:
    """Change a user who may be detached by now (each request's teardown closes the session)."""
    stored = session.merge(user)
    for name, value in values.items():
        setattr(stored, name, value)
    session.commit()


@pytest.fixture
def calendar(db_session, user):
    """A writable, visible Google calendar of `user`."""
    return make_connection(db_session, user)


@pytest.fixture
def user(db_session):
    return make_account(db_session, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def signed_in(client, db_session, user):
    """`client` with a session cookie for `user`. The login form itself is tested with the accounts and in the
    browser tests; here it would only add an argon2 verification to every test."""
    token = start_session(db_session, user, absolute_days=30, user_agent="pytest", ip_address="127.0.0.1")
    db_session.commit()
    client.set_cookie(COOKIE_NAME, token)
    return client


@pytest.fixture
def csrf(signed_in):
    """The session's CSRF token, as a page hands it out."""
    return csrf_token_from(signed_in.get("/settings/profile").get_data(as_text=True))


# ---------------------------------------------------------------------------------------------- in the browser

BERLIN = ZoneInfo("Europe/Berlin")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def at(day: date, hour: int, minute: int = 0, zone=BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def berlin_event(session, connection, start, end=None, **overrides):
    return make_event(session, connection, start, end, **{"timezone": "Europe/Berlin", **overrides})


@pytest.fixture
def person(app, live_server):
    """A user with two calendars and a believable week around today (real commits: the browser reads them)."""
    today = datetime.now(BERLIN).date()
    monday = today - timedelta(days=today.weekday())
    with app.app_context():
        session = db.session
        account = make_account(session, first_name="Ada", last_name="Lovelace", time_zone="Europe/Berlin")
        work = make_connection(session, account, calendar_name="Work", calendar_color="#1a73e8", is_primary=True)
        home = make_connection(session, account, calendar_name="Home", calendar_color="#0b8043")
        berlin_event(session, work, at(monday, 9), at(monday, 10, 30), title="Planning", location="Room 4")
        berlin_event(session, home, at(monday, 10), at(monday, 11), title="Dentist")
        berlin_event(session, work, at(monday + timedelta(days=1), 15), at(monday + timedelta(days=1), 16),
                   title="Call with New York", timezone="America/New_York",
                   description="Dial in: https://meet.example/abc\n<b>Not bold</b>",
                   attendees=[{"email": "grace@example.com", "name": "Grace", "responseStatus": "accepted"}])
        make_all_day(session, home, monday + timedelta(days=2), monday + timedelta(days=4), title="Family visit")
        make_series(session, work, at(monday - timedelta(days=14), 8, 30), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
                    minutes=15, title="Standup", timezone="Europe/Berlin")
        berlin_event(session, work, at(monday + timedelta(days=3), 13), title="Lunch talk",
                   sync_status=SyncStatus.PENDING)
        for hour in (9, 11, 14, 16):
            berlin_event(session, work, at(monday + timedelta(days=4), hour), title=f"Review {hour}")
        return {"email": account.email, "id": account.id, "monday": monday, "work_id": work.id}


def log_in(page, base: str, email: str) -> None:
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#calendar")
    page.wait_for_load_state("load")  # htmx binds the links once the document has loaded


