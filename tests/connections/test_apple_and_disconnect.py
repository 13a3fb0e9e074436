"""Apple iCloud over CalDAV (Radicale), the connections page actions, and disconnecting."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import new_google_account
from tests.helpers import APPLE_USER, authorize, csrf_token_from, start_connect
from webapp.credentials import unseal
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarEvent, EventStatus, SyncStatus


@pytest.fixture(scope="module")
def apple_calendars(provider_servers):
    from sandbox.radicale_server import create_calendar

    url, (user, password) = provider_servers.radicale.url, APPLE_USER
    create_calendar(url, user, password, "home", "Home", "#34A853FF")
    create_calendar(url, user, password, "work", "Work", "#4285f4")
    return ["Home", "Work"]


def post_apple(client, apple_id, password):
    token = csrf_token_from(client.get("/connections/apple").get_data(as_text=True))
    return client.post("/connections/apple", data={"apple_id": apple_id, "app_password": password,
                                                   "csrf_token": token})


def test_apple_connect_discovers_calendars_and_seals_the_password(app, client, db_session, user, login,
                                                                   apple_calendars, redis):
    login(user)
    response = post_apple(client, *APPLE_USER)
    assert response.status_code == 302, response.get_data(as_text=True)
    rows = db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)
                              .order_by(CalendarConnection.calendar_name)).all()
    # The Radicale account is shared by the whole run, so other tests' calendars may be listed too.
    colours = {r.calendar_name: r.calendar_color for r in rows}
    # #RRGGBBAA reduced to #rrggbb; the run's other calendars on the shared account may have taken a colour near
    # these, and then the palette gives one apart (webapp.calendar.colours.distinct_colour).
    assert "#4285f4" in colours.values() or "#34a853" in colours.values()
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours.values())
    for row in rows:
        assert row.account_email == APPLE_USER[0] and row.calendar_id.startswith("http")
        assert APPLE_USER[1] not in row.access_token and row.refresh_token is None
        with app.app_context():
            assert unseal(row.id, "calendar_connections", "access_token", row.access_token) == APPLE_USER[1]
    # Connecting again updates the same rows.
    post_apple(client, *APPLE_USER)
    again = db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).all()
    assert {row.id for row in again} == {row.id for row in rows}


def test_wrong_app_password_is_shown_in_the_form(client, db_session, user, login, apple_calendars):
    login(user)
    response = post_apple(client, APPLE_USER[0], "wrong-pass-word-xxxx")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Apple rejected this app-specific password." in body and f'value="{APPLE_USER[0]}"' in body
    assert db_session.scalars(select(CalendarConnection)).all() == []
    entry = db_session.scalars(select(AuditLog).where(AuditLog.action == "APPLE_CONNECT")).one()
    assert (entry.status, entry.error_message) == (AuditStatus.FAILURE, "auth_rejected")
    assert "wrong-pass-word-xxxx" not in str(entry.metadata_)


def test_unreachable_caldav_server_has_its_own_message(app, client, db_session, user, login, monkeypatch):
    monkeypatch.setitem(app.config["PROVIDERS"]["apple"], "base_url", "http://127.0.0.1:9/")
    monkeypatch.setitem(app.extensions, "almanac_providers", {})
    login(user)
    body = post_apple(client, *APPLE_USER).get_data(as_text=True)
    assert "could not reach iCloud" in body


def connect_google(client, provider_servers):
    email = new_google_account(provider_servers)
    client.get(authorize(start_connect(client), email))
    return email


def add_event(db_session, connection):
    start = datetime.now(UTC).replace(microsecond=0)
    event = CalendarEvent(calendar_connection_id=connection.id, provider_event_id="e1", title="Lunch",
                          start_time=start, end_time=start + timedelta(hours=1), timezone="UTC",
                          status=EventStatus.CONFIRMED, sync_status=SyncStatus.SYNCED)
    db_session.add(event)
    db_session.commit()
    return event


def test_disconnect_last_calendar_revokes_and_soft_deletes(client, db_session, user, login, provider_servers):
    login(user)
    email = connect_google(client, provider_servers)
    family, work = db_session.scalars(select(CalendarConnection).order_by(CalendarConnection.calendar_name)).all()
    event = add_event(db_session, work)
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))

    response = client.post(f"/connections/{family.id}/disconnect", data={"csrf_token": token},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200 and "Disconnected" in response.headers["HX-Trigger"]
    revokes = [r for r in provider_servers.google_state.requests if r.path == "/revoke"]
    assert revokes == []  # Work still uses the grant

    client.post(f"/connections/{work.id}/disconnect", data={"csrf_token": token})
    revokes = [r for r in provider_servers.google_state.requests if r.path == "/revoke"]
    assert len(revokes) == 1
    work = db_session.get(CalendarConnection, work.id)
    assert work.deleted_at and not work.is_connected and work.access_token is None
    assert db_session.get(CalendarEvent, event.id).deleted_at is not None
    entries = db_session.scalars(select(AuditLog).where(AuditLog.action == "CONNECTION_DISCONNECT")
                                 .order_by(AuditLog.created_at)).all()
    assert [e.metadata_["revokes_grant"] for e in entries] == [False, True]
    (revoked,) = db_session.scalars(select(AuditLog).where(AuditLog.action == "TOKEN_REVOKE")).all()
    assert revoked.status.value == "SUCCESS" and revoked.resource_id == str(work.id)
    assert f"connection-{work.id}" not in client.get("/connections/").get_data(as_text=True)
    assert email  # the account stays in the emulator; only our access ended


def test_sync_now_queues_and_the_row_polls_until_done(client, db_session, user, login, provider_servers, redis):
    from rq import Queue

    login(user)
    connect_google(client, provider_servers)
    Queue("sync", connection=redis).empty()
    work = db_session.scalars(select(CalendarConnection).where(CalendarConnection.calendar_name == "Work")).one()
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    response = client.post(f"/connections/{work.id}/sync", headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Syncing…" in body and 'hx-trigger="load delay:1s"' in body
    assert Queue("sync", connection=redis).job_ids == [f"sync-connection-{work.id}"]
    # A second click while queued does not pile up another job.
    client.post(f"/connections/{work.id}/sync", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert Queue("sync", connection=redis).count == 1
    Queue("sync", connection=redis).empty()
    done = client.get(f"/connections/{work.id}/row", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in done and "Waiting for the first sync" in done


def test_colour_is_validated_and_saved(client, db_session, user, login, provider_servers):
    login(user)
    connect_google(client, provider_servers)
    work = db_session.scalars(select(CalendarConnection).where(CalendarConnection.calendar_name == "Work")).one()
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    bad = client.post(f"/connections/{work.id}/color", data={"color": "red;x"}, headers=headers)
    assert bad.status_code == 422 and "Pick a colour like" in bad.get_data(as_text=True)
    good = client.post(f"/connections/{work.id}/color", data={"color": "#AA00FF"}, headers=headers)
    assert good.status_code == 200 and 'value="#aa00ff"' in good.get_data(as_text=True)


def test_other_users_connections_are_404(app, client, db_session, user, login, provider_servers):
    from tests.factories import make_user

    login(user)
    connect_google(client, provider_servers)
    work = db_session.scalars(select(CalendarConnection).where(CalendarConnection.calendar_name == "Work")).one()
    intruder, browser = make_user(db_session), app.test_client()
    login(intruder, test_client=browser)
    token = csrf_token_from(browser.get("/connections/").get_data(as_text=True))
    assert browser.post(f"/connections/{work.id}/disconnect", data={"csrf_token": token}).status_code == 404
    assert db_session.get(CalendarConnection, work.id).deleted_at is None
