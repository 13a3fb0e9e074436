"""Helpers to drive the OAuth flow end to end: our app ↔ the emulators over real HTTP on loopback."""
from __future__ import annotations

import pytest

from tests.factories import new_google_account
from tests.helpers import authorize, start_connect


@pytest.fixture
def connect_google(client, provider_servers):
    def run(email=None):
        email = email or new_google_account(provider_servers)
        return email, client.get(authorize(start_connect(client, "google"), email))

    return run
