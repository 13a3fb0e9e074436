"""Sync fixtures: a user with a connected calendar on each provider, and the real sync job run in-process."""
from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import select

from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import APPLE_USER, authorize, csrf_token_from, in_test_session, only_connection, start_connect
from webapp.models import CalendarConnection

_names = itertools.count(1)


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


