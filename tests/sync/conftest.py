"""Sync fixtures: a user with a connected Google or Outlook calendar, and the real push job run in-process
(`apple` and `run_sync`, which tests/together uses too, are in the root conftest)."""
from __future__ import annotations

import pytest

from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import authorize, in_test_session, only_connection, start_connect


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


