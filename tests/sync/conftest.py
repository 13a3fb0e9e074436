"""Sync fixtures: a user with a connected calendar on each provider, and the real sync job run in-process."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import APPLE_USER, csrf_token_from
from tests.connections.conftest import authorize, start_connect
from tests.factories import new_google_account, new_microsoft_account
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent

_names = itertools.count(1)


def in_test_session(job):
    """Run a job on the test's session and keep it open afterwards: the job ends transactions (and rolls back
    after failures, which expires objects), and the test goes on reading the objects it holds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db.session, "remove", lambda: None)
        return job()


@pytest.fixture
def run_sync(app, db_session, redis, monkeypatch):
    """The real RQ job function, on the test app and the test's transaction."""
    import jobs.sync

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)

    def run(connection_id, **options):
        return in_test_session(lambda: jobs.sync.sync_connection(str(connection_id), **options))

    return run


@pytest.fixture
def run_push(app, db_session, redis, monkeypatch):
    import jobs.sync

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    return lambda event_id: in_test_session(lambda: jobs.sync.push_event(str(event_id)))


def only_connection(db_session, user, name=None) -> CalendarConnection:
    query = select(CalendarConnection).where(CalendarConnection.user_id == user.id)
    if name:
        query = query.where(CalendarConnection.calendar_name == name)
    return db_session.scalars(query).one()


@pytest.fixture
def google(client, db_session, user, login, provider_servers):
    """A Google account with one calendar, connected through the real flow: (connection, calendar id, state)."""
    login(user)
    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    client.get(authorize(start_connect(client), email))
    yield only_connection(db_session, user), email, provider_servers.google_state
    provider_servers.google_state.set_page_size(None)
    provider_servers.google_faults.calm()


@pytest.fixture
def microsoft(client, db_session, user, login, provider_servers):
    login(user)
    email = new_microsoft_account(provider_servers)
    client.get(authorize(start_connect(client, "microsoft"), email))
    state = provider_servers.microsoft_state
    return only_connection(db_session, user), state.default_calendar_id(email), state


@pytest.fixture
def apple(client, db_session, user, login, provider_servers):
    """A fresh Radicale calendar of the test's own, connected through the Apple form."""
    from sandbox.radicale_server import create_calendar

    login(user)
    name = f"cal{next(_names)}-{uuid.uuid4().hex[:6]}"
    url = create_calendar(provider_servers.radicale.url, *APPLE_USER, name, name.title(), "#34a853")
    token = csrf_token_from(client.get("/connections/apple").get_data(as_text=True))
    client.post("/connections/apple", data={"apple_id": APPLE_USER[0], "app_password": APPLE_USER[1],
                                            "csrf_token": token})
    connection = db_session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id, CalendarConnection.calendar_name == name.title())).one()
    return connection, url


def live_events(db_session, connection) -> list[CalendarEvent]:
    """`connection` is the row or its id (a test that makes requests holds ids: each request closes the session)."""
    connection_id = getattr(connection, "id", connection)
    return db_session.scalars(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection_id, CalendarEvent.deleted_at.is_(None))
        .order_by(CalendarEvent.start_time, CalendarEvent.title)).all()


def google_timed(summary, start: datetime, minutes=60, zone="UTC", **extra):
    return {"summary": summary, "start": {"dateTime": start.isoformat(), "timeZone": zone},
            "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat(), "timeZone": zone}, **extra}


def soon(days=1, hour=9) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
