"""Tokens in use: refresh before expiry (with Microsoft's rotation), invalid_grant, tampering, rotation, secrecy."""
from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import authorize, start_connect
from webapp.credentials import NeedsReconnect, credentials_for, rotate_keys, unseal
from webapp.crypto import SecretBox
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarProvider


def connect(client, provider_servers, provider="google"):
    email = (new_google_account if provider == "google" else new_microsoft_account)(provider_servers)
    assert client.get(authorize(start_connect(client, provider), email)).status_code == 302
    return email


def rows(db_session, user):
    return db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)
                              .order_by(CalendarConnection.calendar_name)).all()


def expire_access(db_session, user):
    db_session.execute(update(CalendarConnection).where(CalendarConnection.user_id == user.id)
                       .values(token_expires_at=datetime.now(UTC) + timedelta(minutes=1)))
    db_session.commit()


def test_refresh_before_expiry_updates_every_calendar_of_the_account(app, client, db_session, user, login,
                                                                     provider_servers):
    login(user)
    connect(client, provider_servers)
    expire_access(db_session, user)
    first, second = rows(db_session, user)
    with app.app_context():
        old_access = unseal(first.id, "calendar_connections", "access_token", first.access_token)
        credentials = credentials_for(db.session, first.id)
        db.session.commit()
    assert credentials.access_token != old_access
    for row in rows(db_session, user):
        assert row.token_expires_at > datetime.now(UTC) + timedelta(minutes=50)
        with app.app_context():
            assert unseal(row.id, "calendar_connections", "access_token", row.access_token) == credentials.access_token


def test_microsoft_rotation_always_stores_the_newest_refresh_token(app, client, db_session, user, login,
                                                                    provider_servers):
    provider_servers.microsoft_state.refresh_grace_seconds = 0
    login(user)
    connect(client, provider_servers, "microsoft")
    (row,) = rows(db_session, user)
    with app.app_context():
        original = unseal(row.id, "calendar_connections", "refresh_token", row.refresh_token)
    for _ in range(2):
        expire_access(db_session, user)
        with app.app_context():
            credentials_for(db.session, row.id)
            db.session.commit()
    (row,) = rows(db_session, user)
    with app.app_context():
        newest = unseal(row.id, "calendar_connections", "refresh_token", row.refresh_token)
        assert newest != original
        expire_access(db_session, user)
        credentials_for(db.session, row.id)  # the stored token still works


def test_invalid_grant_marks_the_account_for_reconnect(app, client, db_session, user, login, provider_servers):
    login(user)
    email = connect(client, provider_servers)
    provider_servers.google_state.revoke_refresh_tokens(email)
    expire_access(db_session, user)
    with app.app_context():
        with pytest.raises(NeedsReconnect):
            credentials_for(db.session, rows(db_session, user)[0].id)
        db.session.commit()
    assert all(not row.is_connected and "Reconnect" in row.disconnect_reason for row in rows(db_session, user))
    failure = db_session.scalars(select(AuditLog).where(AuditLog.action == "TOKEN_REFRESH")).one()
    assert (failure.status, failure.error_message) == (AuditStatus.FAILURE, "invalid_grant")
    page = client.get("/connections/").get_data(as_text=True)
    assert page.count("Needs reconnect") == 2 and "Reconnect</button>" in page

    # Reconnect runs the flow again and revives the same rows.
    before = {row.id for row in rows(db_session, user)}
    client.get(authorize(start_connect(client), email))
    assert {row.id for row in rows(db_session, user) if row.is_connected} == before


def test_tampered_token_needs_reconnect_and_pages_keep_working(app, client, db_session, user, login,
                                                                provider_servers):
    login(user)
    connect(client, provider_servers)
    work = rows(db_session, user)[1]
    db_session.execute(update(CalendarConnection).where(CalendarConnection.id == work.id)
                       .values(access_token=work.access_token[:-4] + "AAAA"))
    db_session.commit()
    with app.app_context():
        with pytest.raises(NeedsReconnect):
            credentials_for(db.session, work.id)
        db.session.commit()
    response = client.get("/connections/")
    assert response.status_code == 200 and "could not read the stored credentials" in response.get_data(as_text=True)


def test_key_rotation_reencrypts_everything_and_can_be_rerun(app, client, db_session, user, login,
                                                               provider_servers):
    login(user)
    connect(client, provider_servers)
    connect(client, provider_servers, "microsoft")
    before = {row.id: row.access_token for row in rows(db_session, user)}
    old_setting = app.config["TOKEN_ENCRYPTION_KEYS"]
    new_key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    app.extensions["almanac_secret_box"] = SecretBox.from_setting(f"next:{new_key},{old_setting}")
    try:
        with app.app_context():
            first = rotate_keys(db.session, batch_size=2)  # several batches, each committed
        # Rerunning (as after an interruption) finds nothing left under the old key.
        rerun = app.test_cli_runner().invoke(args=["tokens", "rotate", "--batch-size", "2"])
        assert "re-encrypted 0 secrets; 0 could not be decrypted" in rerun.output
        with app.app_context():
            plain = {row.id: unseal(row.id, "calendar_connections", "access_token", row.access_token)
                     for row in db.session.scalars(select(CalendarConnection))}
        assert first["rotated"] >= 2 * len(before)
        after = rows(db_session, user)
        assert all(row.access_token.startswith("v1:next:") and row.refresh_token.startswith("v1:next:")
                   for row in after)
        assert set(plain) >= set(before)
    finally:
        app.extensions["almanac_secret_box"] = SecretBox.from_setting(old_setting)


def test_no_plaintext_token_reaches_database_logs_or_audit(app, client, db_session, user, login, provider_servers,
                                                            caplog):
    caplog.set_level(logging.DEBUG)
    login(user)
    connect(client, provider_servers)
    connect(client, provider_servers, "microsoft")
    expire_access(db_session, user)
    secrets = set()
    with app.app_context():
        for row in db.session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)):
            credentials_for(db.session, row.id)
            db.session.commit()
        for row in db.session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)):
            secrets.add(unseal(row.id, "calendar_connections", "access_token", row.access_token))
            secrets.add(unseal(row.id, "calendar_connections", "refresh_token", row.refresh_token))
    assert len(secrets) >= 4
    dump = "\n".join(
        db_session.execute(text(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t")).scalar_one()
        for table in ("users", "sessions", "oauth_states", "calendar_connections", "calendar_events", "audit_logs")
    )
    logs = caplog.text
    for secret in secrets:
        assert secret not in dump and secret not in logs
    assert CalendarProvider.GOOGLE.value in dump  # the dump did read the rows


def test_hourly_job_refreshes_expiring_accounts_and_parks_dead_ones(app, client, db_session, user, login,
                                                                   provider_servers, monkeypatch):
    import jobs.sync

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    login(user)
    alive = connect(client, provider_servers)
    dead = connect(client, provider_servers)
    provider_servers.google_state.revoke_refresh_tokens(dead)
    db_session.execute(update(CalendarConnection).values(token_expires_at=datetime.now(UTC) + timedelta(minutes=30)))
    db_session.commit()
    assert jobs.sync.refresh_expiring_tokens() == {"refreshed": 1, "failed": 1}
    by_account = {row.account_email: row for row in rows(db_session, user)}
    assert by_account[alive].token_expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert not by_account[dead].is_connected and by_account[alive].is_connected
