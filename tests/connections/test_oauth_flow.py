"""The seed's OAuth flow with CSRF protection, step by step, against the Google and Microsoft emulators."""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from rq import Queue
from sqlalchemy import select, update

from tests.factories import make_user, new_google_account, new_microsoft_account
from tests.helpers import authorize, csrf_token_from, query_of, start_connect
from webapp.credentials import seal, unseal
from webapp.models import AuditLog, AuditStatus, CalendarConnection, OAuthState


def connections_of(db_session, user):
    return db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)
                              .order_by(CalendarConnection.calendar_name)).all()


def audit_rows(db_session, action):
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)).all()


def test_connect_creates_state_with_pkce_and_redirects_with_offline_access(app, client, db_session, user, login):
    login(user)
    url = start_connect(client)
    params = query_of(url)
    state = db_session.scalars(select(OAuthState).where(OAuthState.user_id == user.id)).one()
    assert params["state"] == state.state and len(state.state) >= 43  # 256 bits, base64url
    assert timedelta(minutes=14, seconds=50) < state.expires_at - state.created_at <= timedelta(minutes=15)
    assert state.consumed is False and state.code_verifier.startswith("v1:test:")
    with app.app_context():
        verifier = unseal(state.id, "oauth_states", "code_verifier", state.code_verifier)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert params["code_challenge"] == challenge and params["code_challenge_method"] == "S256"
    assert params["access_type"] == "offline" and params["redirect_uri"].endswith("/connections/google/callback")
    assert "calendar.events" in params["scope"] and "auth/calendar " not in params["scope"] + " "


def test_callback_connects_every_calendar_with_encrypted_tokens(client, db_session, user, login, provider_servers,
                                                                 redis):
    login(user)
    email = new_google_account(provider_servers)
    response = client.get(authorize(start_connect(client), email))
    assert response.status_code == 302 and response.location == "/connections/"
    family, work = connections_of(db_session, user)
    assert (work.calendar_name, work.is_primary, work.calendar_color, work.account_email) == \
        ("Work", True, "#4285f4", email)
    assert family.calendar_name == "Family" and not family.is_primary
    for connection in (work, family):
        assert connection.access_token.startswith("v1:") and connection.refresh_token.startswith("v1:")
        assert connection.token_expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert work.access_token.split(":")[2] != family.access_token.split(":")[2]  # bound to their own rows
    assert db_session.scalars(select(OAuthState.consumed)).all() == [True]
    (entry,) = audit_rows(db_session, "OAUTH_CONNECT")
    assert entry.status == AuditStatus.SUCCESS and entry.metadata_["calendars"] == 2
    (queued,) = Queue("sync", connection=redis).jobs  # the account's calendars, one job
    assert queued.func_name == "jobs.sync.sync_calendars"
    assert sorted(queued.args[0]) == sorted(str(c.id) for c in (work, family))
    page = client.get("/connections/").get_data(as_text=True)
    assert "Work" in page and "Family" in page and email in page


def test_replayed_callback_never_connects_twice(client, db_session, user, login, provider_servers):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers))
    assert client.get(callback).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400 and "expired or was already used" in replay.get_data(as_text=True)
    assert len(connections_of(db_session, user)) == 2
    assert audit_rows(db_session, "OAUTH_CONNECT")[-1].error_message == "replayed_state"


def test_expired_state_is_rejected(client, db_session, user, login, provider_servers):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers))
    db_session.execute(update(OAuthState).values(created_at=datetime.now(UTC) - timedelta(minutes=30),
                                                 expires_at=datetime.now(UTC) - timedelta(minutes=15)))
    db_session.commit()
    response = client.get(callback)
    assert response.status_code == 400
    assert connections_of(db_session, user) == []
    (entry,) = audit_rows(db_session, "OAUTH_CONNECT")
    assert (entry.status, entry.error_message) == (AuditStatus.FAILURE, "expired_state")


def test_another_users_state_is_rejected_and_left_usable(app, client, db_session, user, login, provider_servers):
    victim, victim_browser = make_user(db_session), app.test_client()
    login(victim, test_client=victim_browser)
    callback = authorize(start_connect(victim_browser), new_google_account(provider_servers))
    login(user)
    response = client.get(callback)  # an attacker's browser replays someone else's callback
    assert response.status_code == 400
    assert audit_rows(db_session, "OAUTH_CONNECT")[-1].error_message == "foreign_state"
    assert connections_of(db_session, user) == []
    assert victim_browser.get(callback).status_code == 302  # the rightful user can still finish
    assert len(connections_of(db_session, victim)) == 2


def test_unknown_or_missing_state_is_rejected(client, db_session, user, login):
    login(user)
    assert client.get("/connections/google/callback?code=abc&state=made-up").status_code == 400
    assert client.get("/connections/google/callback?code=abc").status_code == 400
    kinds = [row.error_message for row in audit_rows(db_session, "OAUTH_CONNECT")]
    assert kinds == ["unknown_state", "missing_state"]


def test_denied_consent_gets_a_clear_page_and_consumes_the_state(client, db_session, user, login, provider_servers):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers), decision="deny")
    assert "error=access_denied" in callback
    response = client.get(callback)
    assert response.status_code == 400 and "You declined access at Google" in response.get_data(as_text=True)
    assert connections_of(db_session, user) == []
    assert db_session.scalars(select(OAuthState.consumed)).all() == [True]
    assert audit_rows(db_session, "OAUTH_CONNECT")[-1].error_message == "access_denied"


def test_token_exchange_failure_writes_nothing(client, db_session, user, login, provider_servers):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers))
    response = client.get(callback.replace("code=", "code=tampered"))
    assert response.status_code == 400 and "did not accept the sign-in" in response.get_data(as_text=True)
    assert connections_of(db_session, user) == []
    assert audit_rows(db_session, "OAUTH_CONNECT")[-1].error_message.startswith("token_exchange_failed")


def test_pkce_verifier_must_match(app, client, db_session, user, login, provider_servers):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers))
    state_id = db_session.scalars(select(OAuthState.id)).one()
    with app.app_context():  # leaving an app context removes the session, so write afterwards
        wrong = seal(state_id, "oauth_states", "code_verifier", "a-different-verifier" * 3)
    db_session.execute(update(OAuthState).values(code_verifier=wrong))
    db_session.commit()
    assert client.get(callback).status_code == 400
    assert connections_of(db_session, user) == []


def test_network_failure_gets_its_own_message(app, client, db_session, user, login, provider_servers, monkeypatch):
    login(user)
    callback = authorize(start_connect(client), new_google_account(provider_servers))
    monkeypatch.setitem(app.config["PROVIDERS"]["google"], "token_url", "http://127.0.0.1:9/token")
    monkeypatch.setitem(app.extensions, "almanac_providers", {})
    response = client.get(callback)
    assert response.status_code == 400 and "could not reach Google" in response.get_data(as_text=True)
    assert audit_rows(db_session, "OAUTH_CONNECT")[-1].error_message == "network_error"


def test_reconnecting_the_same_account_updates_rows_instead_of_duplicating(client, db_session, user, login,
                                                                           provider_servers):
    login(user)
    email = new_google_account(provider_servers)
    client.get(authorize(start_connect(client), email))
    first = {c.calendar_id: (c.id, c.access_token) for c in connections_of(db_session, user)}
    provider_servers.google_state.add_calendar(email, f"trips-{email}", "Trips", color="#f4511e")
    client.get(authorize(start_connect(client), email))
    second = {c.calendar_id: (c.id, c.access_token) for c in connections_of(db_session, user)}
    assert len(second) == 3
    for calendar_id, (row_id, token) in first.items():
        assert second[calendar_id][0] == row_id and second[calendar_id][1] != token


def test_microsoft_connect_stores_the_account_and_its_calendars(client, db_session, user, login, provider_servers):
    login(user)
    email = new_microsoft_account(provider_servers)
    url = start_connect(client, "microsoft")
    params = query_of(url)
    assert "offline_access" in params["scope"] and params["code_challenge_method"] == "S256"
    response = client.get(authorize(url, email))
    assert response.status_code == 302
    (calendar,) = connections_of(db_session, user)
    assert calendar.calendar_name == "Calendar" and calendar.is_primary and calendar.account_email == email


def test_provider_without_client_id_shows_not_configured(app, client, user, login, monkeypatch):
    monkeypatch.setitem(app.config["PROVIDERS"]["microsoft"], "client_id", "")
    login(user)
    page = client.get("/connections/").get_data(as_text=True)
    assert "Not configured: set MICROSOFT_CLIENT_ID" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/connections/microsoft/connect", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/connections/"


def connect_page_after_failed_start(client):
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    response = client.post("/connections/google/connect", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/connections/"
    return client.get(response.location).get_data(as_text=True)


def test_connect_explains_an_endpoint_oauthlib_refuses_instead_of_failing(client, db_session, user, login,
                                                                         monkeypatch):
    """The emulators speak plain http on loopback; without oauthlib's switch it raises InsecureTransportError."""
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    login(user)
    page = connect_page_after_failed_start(client)
    assert "Google cannot be connected: this server&#39;s Google settings do not work." in page
    (entry,) = audit_rows(db_session, "OAUTH_CONNECT")
    assert (entry.status, entry.error_message) == (AuditStatus.FAILURE, "authorization_url:provider_error")
    assert db_session.scalars(select(OAuthState)).all() == []


def test_connect_explains_a_plain_http_endpoint_across_the_network(app, client, db_session, user, login,
                                                                  monkeypatch):
    monkeypatch.setitem(app.config["PROVIDERS"]["google"], "auth_url", "http://accounts.example/o/oauth2/v2/auth")
    login(user)
    assert "Google cannot be connected" in connect_page_after_failed_start(client)
    assert [entry.status for entry in audit_rows(db_session, "OAUTH_CONNECT")] == [AuditStatus.FAILURE]
