"""Settings → Your data: the download holds every calendar, the account and its audit trail, and reads back with
icalendar; deleting the account leaves no row of it but the audit trail, and revokes its grant at Google."""
from __future__ import annotations

import io
import json
import zipfile

import icalendar
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_event, make_override, make_series, make_user, new_google_account, utc
from tests.helpers import authorize, csrf_token_from, only_connection, start_connect
from webapp.auth.deletion import delete_account
from webapp.models import AuditLog, CalendarConnection, CalendarEvent, CalendarFeed, LoginSession, User
from webapp.models.accounts import SignupRequest


def connect_google(client, provider_servers) -> str:
    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    client.get(authorize(start_connect(client), email))
    return email


def post_delete(client, password: str, understood: bool = True, htmx: bool = False):
    token = csrf_token_from(client.get("/settings/data").get_data(as_text=True))
    data = {"csrf_token": token, "password": password, **({"understood": "y"} if understood else {})}
    return client.post("/settings/data/delete", data=data, headers={"HX-Request": "true"} if htmx else {})


def test_the_download_holds_each_calendar_the_account_and_its_audit_trail(
        client, db_session, user, login, provider_servers):
    login(user)
    email = connect_google(client, provider_servers)
    work = only_connection(db_session, user)
    make_event(db_session, work, utc(2026, 3, 4, 14), title="Budget review")
    series = make_series(db_session, work, utc(2025, 1, 6, 9), "RRULE:FREQ=WEEKLY;COUNT=10", title="Standup")
    make_override(db_session, series, utc(2025, 1, 13, 9), utc(2025, 1, 13, 11), title="Standup (late)")

    response = client.get("/settings/data/almanac-data.zip")

    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="almanac-data-')
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["README.txt", "account.json", "audit-log.json", "calendars/Work.ics"]
    calendar = icalendar.Calendar.from_ical(archive.read("calendars/Work.ics"))
    events = {str(component["SUMMARY"]): component for component in calendar.walk("VEVENT")}
    assert set(events) == {"Budget review", "Standup", "Standup (late)"}
    assert events["Standup"]["RRULE"]["COUNT"] == [10]
    assert events["Standup (late)"]["RECURRENCE-ID"].dt == utc(2025, 1, 13, 9)
    account = json.loads(archive.read("account.json"))
    assert account["email"] == user.email
    assert [(c["name"], c["provider"], c["account"]) for c in account["calendars"]] == [("Work", "GOOGLE", email)]
    assert "token" not in archive.read("account.json").decode().lower()
    actions = [row["action"] for row in json.loads(archive.read("audit-log.json"))]
    assert "USER_LOGIN" in actions and "OAUTH_CONNECT" in actions
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "DATA_EXPORT")) == 1


def test_a_wrong_password_deletes_nothing_and_says_so_in_place(client, db_session, user, login):
    login(user)

    response = post_delete(client, "not my password", htmx=True)

    assert response.status_code == 422 and "That is not your password." in response.get_data(as_text=True)
    assert post_delete(client, PASSWORD, understood=False).status_code == 422
    assert db_session.get(User, user.id) is not None
    failure = db_session.scalars(select(AuditLog).where(AuditLog.action == "ACCOUNT_DELETE")).one()
    assert failure.status.value == "FAILURE" and failure.user_id == user.id


def test_deleting_the_account_leaves_only_the_audit_trail_and_revokes_the_grant(
        client, db_session, user, login, provider_servers):
    login(user)
    connect_google(client, provider_servers)
    work = only_connection(db_session, user)
    make_event(db_session, work, utc(2026, 3, 4, 14), title="Budget review")
    token = csrf_token_from(client.get("/settings/subscribe").get_data(as_text=True))
    assert client.post("/settings/subscribe", data={"csrf_token": token, "action": "issue"}).status_code == 200
    db_session.add(SignupRequest(email=user.email, password_hash="x", expires_at=utc(2099, 1, 1)))
    db_session.commit()
    user_id, calendar_id = user.id, work.id
    revokes_before = len([r for r in provider_servers.google_state.requests if r.path == "/revoke"])

    response = post_delete(client, PASSWORD, htmx=True)

    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/login"
    db_session.expire_all()
    assert db_session.get(User, user_id) is None
    for model, column in ((CalendarConnection, CalendarConnection.user_id), (LoginSession, LoginSession.user_id),
                          (CalendarFeed, CalendarFeed.user_id)):
        assert db_session.scalar(select(func.count()).select_from(model).where(column == user_id)) == 0
    assert db_session.scalar(select(func.count()).select_from(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == calendar_id)) == 0
    assert db_session.scalar(select(func.count()).select_from(SignupRequest)) == 0
    assert len([r for r in provider_servers.google_state.requests if r.path == "/revoke"]) == revokes_before + 1
    trail = db_session.scalars(select(AuditLog).order_by(AuditLog.created_at)).all()
    assert trail and all(row.user_id is None for row in trail)
    deletion = next(row for row in trail if row.action == "ACCOUNT_DELETE")
    assert deletion.resource_id == str(user_id) and deletion.metadata_["calendars"] == 1
    assert user.email not in json.dumps([row.metadata_ for row in trail])
    # Rows of the account's own past lose where they came from; the deletion request's rows keep theirs.
    earlier = [row for row in trail if row.action not in ("ACCOUNT_DELETE", "TOKEN_REVOKE")]
    assert earlier and all(row.ip_address is None and row.user_agent is None for row in earlier)
    assert any(row.action == "TOKEN_REVOKE" and row.status.value == "SUCCESS" for row in trail)
    assert client.get("/calendar/week/2026-03-02").status_code == 302  # signed out


def test_an_admin_deleting_an_account_is_the_acting_user_of_its_audit_row(db_session, user):
    admin = make_user(db_session, is_admin=True)
    delete_account(db_session, user, actor_id=admin.id, via="admin")
    db_session.commit()

    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "ACCOUNT_DELETE")).one()
    assert row.user_id == admin.id and row.metadata_["via"] == "admin"


def test_deleting_an_account_with_outlook_says_where_to_end_microsofts_access(client, db_session, user, login,
                                                                              provider_servers):
    from tests.factories import new_microsoft_account

    login(user)
    client.get(authorize(start_connect(client, "microsoft"), new_microsoft_account(provider_servers)))

    post_delete(client, PASSWORD)

    assert "remove it at account.live.com/consent" in client.get("/login").get_data(as_text=True)
