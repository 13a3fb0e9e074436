"""Users page: search, connection counts and last login; disable and re-enable; `flask users make-admin`."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.factories import add_audit_rows, add_users, make_connection, make_user
from tests.helpers import csrf_token_from
from webapp.admin.cli import users_cli
from webapp.models import AuditLog, AuditStatus, LoginSession, User

ROW = re.compile(r'<tr id="user-[0-9a-f-]+" data-user-email="([^"]+)">')


def emails(response) -> list[str]:
    return ROW.findall(response.get_data(as_text=True))


def post(client, url, **headers):
    token = csrf_token_from(client.get("/admin/users").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, headers=headers)


def test_search_matches_email_or_name(admin_client, db_session):
    make_user(db_session, email="turing@example.com", first_name="Alan")
    make_user(db_session, email="someone@example.org", last_name="Lovelace")
    assert emails(admin_client.get("/admin/users?q=TURING")) == ["turing@example.com"]
    assert emails(admin_client.get("/admin/users?q=lovelace")) == ["someone@example.org"]
    assert emails(admin_client.get("/admin/users?q=%25")) == []  # a literal percent sign, not a wildcard


def test_list_shows_connection_counts_and_last_login(admin_client, db_session):
    member = make_user(db_session, email="counted@example.com")
    make_connection(db_session, member.id)
    make_connection(db_session, member.id)
    make_connection(db_session, member.id, deleted_at=datetime.now(UTC))
    logged_in_at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    add_audit_rows(db_session, 1, newest=logged_in_at, action="USER_LOGIN", user_id=member.id)
    add_audit_rows(db_session, 1, newest=logged_in_at + timedelta(days=1), action="USER_LOGIN",
                   status=AuditStatus.FAILURE, user_id=member.id)
    html = admin_client.get("/admin/users?q=counted").get_data(as_text=True)
    row = html[html.index('data-user-email="counted@example.com"'):]
    row = row[:row.index("</tr>")]
    assert '<td data-label="Connections">2</td>' in row
    assert "2026-11-20 09:30:00" in row


def test_users_are_paged_by_email(admin_client, db_session):
    add_users(db_session, [f"paged{number:02d}@example.com" for number in range(55)])
    first = admin_client.get("/admin/users?q=paged")
    assert len(emails(first)) == 50
    more = re.search(r'<a href="([^"]+)"[^>]*rel="next"', first.get_data(as_text=True)).group(1)
    assert emails(admin_client.get(more.replace("&amp;", "&"))) == [f"paged{n}@example.com" for n in range(50, 55)]


def test_disabling_ends_the_users_sessions_at_once(app, admin_client, db_session, login, admin):
    member = make_user(db_session)
    their_browser = app.test_client()
    login(member, test_client=their_browser)
    assert their_browser.get("/settings/sessions").status_code == 200

    response = post(admin_client, f"/admin/users/{member.id}/disable")
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(User, member.id).disabled_at is not None
    assert db_session.scalar(
        select(func.count()).select_from(LoginSession).where(LoginSession.user_id == member.id)) == 0
    assert "/login" in their_browser.get("/settings/sessions").headers["Location"]
    assert login(member, test_client=their_browser).status_code == 422  # and cannot log in again
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "ADMIN_USER_DISABLE"))
    assert (entry.user_id, entry.resource_id, entry.metadata_) == (admin.id, str(member.id), {"sessions_ended": 1})


def test_enable_lets_the_user_back_in(admin_client, db_session, login, app):
    member = make_user(db_session, disabled_at=datetime.now(UTC))
    response = post(admin_client, f"/admin/users/{member.id}/enable", **{"HX-Request": "true"})
    assert response.status_code == 200
    assert "can log in again" in response.headers["HX-Trigger"]
    assert response.get_data(as_text=True).lstrip().startswith(f'<tr id="user-{member.id}"')
    assert ">Disable</a>" in response.get_data(as_text=True)
    assert login(member, test_client=app.test_client()).status_code == 302
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "ADMIN_USER_ENABLE")) is not None


def test_admins_cannot_disable_themselves_or_unknown_users(admin_client, admin):
    response = post(admin_client, f"/admin/users/{admin.id}/disable")
    assert response.status_code == 400
    assert "You cannot disable your own account." in response.get_data(as_text=True)
    assert post(admin_client, "/admin/users/00000000-0000-0000-0000-000000000000/disable").status_code == 404


def test_users_page_query_count_does_not_grow_with_rows(admin_client, db_session, count_queries):
    def page_queries() -> int:
        before = count_queries.count
        assert admin_client.get("/admin/users").status_code == 200
        return count_queries.count - before

    page_queries()  # warm up: the login session's last_seen_at write
    few = page_queries()
    for user_id in add_users(db_session, [f"many{number}@example.com" for number in range(20)]):
        make_connection(db_session, user_id)
    assert page_queries() == few <= 3


def test_make_admin_cli(app, db_session):
    member = make_user(db_session, email="future.admin@example.com")
    runner = app.test_cli_runner()
    result = runner.invoke(users_cli, ["make-admin", "Future.Admin@Example.com "])
    assert result.exit_code == 0, result.output
    assert "future.admin@example.com is now an admin." in result.output
    db_session.expire_all()
    assert db_session.get(User, member.id).is_admin
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "ADMIN_GRANT"))
    assert entry.user_id is None and entry.resource_id == str(member.id)

    again = runner.invoke(users_cli, ["make-admin", "future.admin@example.com"])
    assert again.exit_code == 0 and "already an admin" in again.output

    missing = runner.invoke(users_cli, ["make-admin", "nobody@example.com"])
    assert missing.exit_code == 1
    assert "No account with the email nobody@example.com." in missing.output
