"""Double bookings and merged invitations: the calendar factories, and real accounts on the provider emulators."""
from __future__ import annotations

import pytest

from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import authorize, only_connection, start_connect


@pytest.fixture
def google_and_microsoft(client, db_session, user, login, provider_servers):
    """One Google and one Outlook calendar connected through the real flows, for one signed-in user:
    ((connection, calendar id, emulator state) for Google, the same for Microsoft)."""
    login(user)
    google_email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    client.get(authorize(start_connect(client), google_email))
    google = only_connection(db_session, user)
    microsoft_email = new_microsoft_account(provider_servers)
    client.get(authorize(start_connect(client, "microsoft"), microsoft_email))
    microsoft = only_connection(db_session, user, "Calendar")
    state = provider_servers.microsoft_state
    yield ((google, google_email, provider_servers.google_state),
           (microsoft, state.default_calendar_id(microsoft_email), state))
