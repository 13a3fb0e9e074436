"""Helpers to drive the OAuth flow end to end: our app ↔ the emulators over real HTTP on loopback."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.conftest import csrf_token_from
from tests.factories import new_google_account


def start_connect(client, provider="google"):
    """Press "Connect": returns the provider authorization URL we were redirected to."""
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    response = client.post(f"/connections/{provider}/connect", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


def authorize(authorization_url, email, decision="allow"):
    """The user's decision at the provider (the emulator's automatic consent): the callback path + query."""
    response = requests.get(
        authorization_url + "&" + urlencode({"login_hint": email, "emulator_auto": decision}),
        allow_redirects=False, timeout=10,
    )
    assert response.status_code in (302, 303), response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def query_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def connect_google(client, provider_servers):
    def run(email=None):
        email = email or new_google_account(provider_servers)
        return email, client.get(authorize(start_connect(client, "google"), email))

    return run
