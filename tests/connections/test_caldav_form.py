"""Connect another CalDAV account: discovery from what the user types, a plain reason for each failure, and the
calendars syncing two ways as iCloud's do."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.helpers import APPLE_USER, audit_rows, csrf_token_from
from webapp.models import CalendarConnection, CalendarProvider


def connect(client, server: str, username: str = APPLE_USER[0], password: str = APPLE_USER[1]):
    token = csrf_token_from(client.get("/connections/caldav").get_data(as_text=True))
    return client.post("/connections/caldav", data={"server": server, "username": username, "password": password,
                                                   "csrf_token": token})


@pytest.mark.parametrize("shape", ["base URL", "host and port", "principal URL"])
def test_discovery_from_what_the_user_types(client, db_session, user, login, provider_servers, shape):
    from sandbox.radicale_server import create_calendar

    login(user)
    base = provider_servers.radicale.url
    create_calendar(base, *APPLE_USER, f"form-{shape.replace(' ', '-')}", "Form test", "#123456")
    typed = {"base URL": base, "host and port": "http://" + urlsplit(base).netloc,
             "principal URL": f"{base}/{APPLE_USER[0]}/"}[shape]

    response = connect(client, typed)

    assert response.status_code == 302, response.get_data(as_text=True)
    rows = db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).all()
    assert rows and all(row.provider == CalendarProvider.CALDAV and row.server_url and row.access_token
                        for row in rows)
    assert "Form test" in {row.calendar_name for row in rows}
    page = client.get("/connections/").get_data(as_text=True)
    assert f"{APPLE_USER[0]} on 127.0.0.1" in page


def test_each_failure_has_its_plain_reason(app, client, db_session, user, login, provider_servers, monkeypatch):
    login(user)
    base = provider_servers.radicale.url

    wrong_password = connect(client, base, password="wrong-password-1")
    no_server = connect(client, "http://127.0.0.1:9/")  # discard port: nothing listens
    monkeypatch.setitem(app.config["PROVIDERS"], "allow_private_sources", False)
    inside = connect(client, base)

    assert "127.0.0.1 did not accept this user name and password." in wrong_password.get_data(as_text=True)
    assert "Almanac could not reach 127.0.0.1" in no_server.get_data(as_text=True)
    assert "127.0.0.1 is a loopback address; Almanac does not fetch from there." in inside.get_data(as_text=True)
    assert {wrong_password.status_code, no_server.status_code, inside.status_code} == {422}
    assert [row.error_message for row in audit_rows(db_session, "CALDAV_CONNECT")] == [
        "auth_rejected", "network_error", "address_refused"]
    assert db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).all() == []


def test_a_server_that_is_not_caldav_is_named_as_such(client, user, login, provider_servers):
    from sandbox.feed_server import FeedServer
    from sandbox.serve import serve_in_thread

    login(user)
    server = serve_in_thread(FeedServer())
    try:
        response = connect(client, server.url)
    finally:
        server.stop()
    assert response.status_code == 422
    assert "No CalDAV server answered at" in response.get_data(as_text=True)
