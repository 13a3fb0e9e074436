"""Factories for tests: users, calendars, events, audit rows, configs and apps, accounts in the emulators.

Each database factory commits (a savepoint release inside the test's transaction): each request's teardown closes
the session, which would roll back anything merely flushed. Fixtures stay in the conftest modules."""
from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import insert, text

from webapp import create_app
from webapp.auth.accounts import hasher_for_profile
from webapp.config import Config, normalise_database_url
from webapp.models import (
    AuditLog,
    AuditStatus,
    CalendarConnection,
    CalendarEvent,
    CalendarProvider,
    EventStatus,
    SyncStatus,
    User,
)
from webapp.recurrence import SeriesMaster, series_end

PASSWORD = "correct horse battery"


# Real argon2id at the lowest cost: the suite signs in thousands of times.
TEST_ARGON2_PROFILE = "CHEAPEST"


def make_config(database_url: str, redis_url: str, providers: dict | None = None) -> Config:
    return Config(
        SECRET_KEY=secrets.token_urlsafe(32),
        SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
        REDIS_URL=redis_url,
        TOKEN_ENCRYPTION_KEYS="test:" + secrets.token_urlsafe(32),
        TESTING=True,
        ARGON2_PROFILE=TEST_ARGON2_PROFILE,
        LOG_LEVEL="WARNING",
        ENVIRONMENT="development",  # mail goes to the local outbox
        # Off unless a test turns it on: channels need the app served where the emulators can reach it.
        PUSH_NOTIFICATIONS=False,
        PROVIDERS=providers or {},
    )


_emails = itertools.count(1)


def password_hash(password: str) -> str:
    """At the test app's argon2 profile: a hash at production cost would make each of its sign-ins slow."""
    return hasher_for_profile(TEST_ARGON2_PROFILE).hash(password)


def make_user(session, **overrides) -> User:
    values = {
        "email": f"user{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com",
        "password_hash": password_hash(overrides.pop("password", PASSWORD)),
        "clock_24h": True,  # as if the browser had said so: pages read 13:00 whatever the test browser's locale
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    # Commit (a savepoint release inside the test's transaction): each request's teardown closes the session,
    # which would roll back anything merely flushed.
    session.commit()
    return user


def add_audit_rows(session, count: int, *, newest: datetime | None = None, step=timedelta(minutes=1),
                   table=AuditLog, **columns) -> list[uuid.UUID]:
    """`count` rows one `step` apart ending at `newest`; returns their ids newest first. Commits."""
    newest = newest or datetime.now(UTC) - timedelta(minutes=1)
    values = {"action": "TEST_ACTION", "status": AuditStatus.SUCCESS} | columns
    rows = [{"id": uuid.uuid4(), "created_at": newest - step * index, **values} for index in range(count)]
    session.execute(insert(table), rows)
    session.commit()
    return [row["id"] for row in rows]


def add_many_audit_rows(session, count: int) -> None:
    """Bulk rows generated in the database (50,000 take well under a second). Commits."""
    session.execute(
        text(
            "INSERT INTO audit_logs (action, status, resource_type, resource_id, created_at)"
            " SELECT 'BULK_' || (n % 7), CASE WHEN n % 10 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END::audit_status,"
            " 'event', n::text, now() - interval '1 hour' - n * interval '1 second'"
            " FROM generate_series(1, :count) AS n"
        ),
        {"count": count},
    )
    session.commit()


def add_users(session, emails: list[str]) -> list[uuid.UUID]:
    """Accounts that never sign in (no password hash at all), inserted in one statement. Commits."""
    rows = [{"id": uuid.uuid4(), "email": email, "password_hash": "not-a-hash"} for email in emails]
    session.execute(insert(User), rows)
    session.commit()
    return [row["id"] for row in rows]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)





def make_connection(session, user: User | uuid.UUID, commit: bool = True, **overrides) -> CalendarConnection:
    """A connected, visible, writable Google calendar of `user` (a User or a user id); `commit=False` only
    flushes it."""
    values = {
        "user_id": user if isinstance(user, uuid.UUID) else user.id,
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
    session.commit() if commit else session.flush()
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


def add_events(session, connection_id: uuid.UUID, deleted_ago: list[timedelta | None]) -> list[uuid.UUID]:
    """One event per entry, soft-deleted that long ago (None: not deleted). Commits."""
    now = datetime.now(UTC)
    rows = [{
        "id": uuid.uuid4(), "calendar_connection_id": connection_id, "provider_event_id": uuid.uuid4().hex,
        "title": "Stand-up", "start_time": now, "end_time": now + timedelta(minutes=15), "timezone": "UTC",
        "status": EventStatus.CONFIRMED, "sync_status": SyncStatus.SYNCED,
        "deleted_at": now - ago if ago is not None else None,
    } for ago in deleted_ago]
    session.execute(insert(CalendarEvent), rows)
    session.commit()
    return [row["id"] for row in rows]


def build_app(database_url: str, redis_url: str, **overrides) -> Flask:
    config = make_config(database_url, redis_url)
    for name, value in overrides.items():
        setattr(config, name, value)
    return create_app({"CONFIG": config})


_provider_accounts = itertools.count(1)


def new_google_account(provider_servers, calendars=(("Work", "#4285f4", True), ("Family", "#0b8043", False))):
    """A fresh Google account in the emulator with the given calendars; returns its email."""
    email = f"person{next(_provider_accounts)}@gmail.com"
    state = provider_servers.google_state
    state.add_account(email)
    for index, (name, color, primary) in enumerate(calendars):
        calendar_id = email if primary else f"{name.lower()}-{index}-{email}"
        state.add_calendar(email, calendar_id, name, color=color, primary=primary)
    return email


def new_microsoft_account(provider_servers):
    email = f"person{next(_provider_accounts)}@outlook.com"
    provider_servers.microsoft_state.add_account(email)
    return email


BERLIN = ZoneInfo("Europe/Berlin")


def at(day: date, hour: int, minute: int = 0, zone=BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def berlin_event(session, connection, start, end=None, **overrides):
    return make_event(session, connection, start, end, **{"timezone": "Europe/Berlin", **overrides})


def make_channel(session, connection, token: str = "the-channel-secret", **overrides):
    """A live push channel on `connection` (Google's unless it is a Microsoft calendar) whose secret is `token`."""
    from datetime import UTC, datetime, timedelta

    from webapp.models import WatchChannel, WatchKind
    from webapp.sync.notifications import token_hash

    values = {"user_id": connection.user_id, "provider": connection.provider, "kind": WatchKind.EVENTS,
              "connection_id": connection.id, "account_email": connection.account_email,
              "channel_id": uuid.uuid4().hex, "resource_id": "resource-" + uuid.uuid4().hex[:8],
              "token_hash": token_hash(token), "expires_at": datetime.now(UTC) + timedelta(days=7)}
    values.update(overrides)
    channel = WatchChannel(**values)
    session.add(channel)
    session.commit()
    return channel
