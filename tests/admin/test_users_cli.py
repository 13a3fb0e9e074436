"""`flask users …` in the test app: each command's effect, its audit row (no user id, via="cli") and its errors.
tests/test_local_default.py runs the same commands as real processes beside `make run`."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.factories import add_audit_rows, make_user
from tests.helpers import audit_rows
from webapp.admin.cli import users_cli
from webapp.feeds import tokens as feed_tokens
from webapp.models import CalendarFeed, LoginSession, User


@pytest.fixture
def users(app, db_session):
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(users_cli, list(args), input=input)

    return run


def account(db_session, email: str) -> User:
    db_session.expire_all()
    return db_session.scalar(select(User).where(User.email == email))


def assert_from_the_console(entry, user: User) -> None:
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (None, "user", str(user.id))
    assert entry.metadata_["via"] == "cli"


def test_the_first_account_created_is_the_instances_admin(users, db_session):
    result = users("create", "first@example.com", input="a fine passphrase\n")

    assert result.exit_code == 0 and "As the instance's first account, it is its admin." in result.output
    assert account(db_session, "first@example.com").is_admin


def test_create_makes_a_confirmed_account_that_signs_in_at_once(users, db_session, login):
    make_user(db_session)  # not the instance's first account
    result = users("create", "Ada@Example.com ", "--name", "Ada King Lovelace", input="a fine passphrase\n")
    assert result.exit_code == 0, result.output
    assert result.output == "Created ada@example.com; it can sign in now.\n"
    user = account(db_session, "ada@example.com")
    assert (user.first_name, user.last_name, user.is_admin, user.is_active) == ("Ada King", "Lovelace", False, True)
    assert login(user, password="a fine passphrase").status_code == 302
    (entry,) = audit_rows(db_session, "USER_CREATE")
    assert_from_the_console(entry, user)
    assert audit_rows(db_session, "ADMIN_GRANT") == []


def test_create_admin_with_a_one_word_name(users, db_session):
    make_user(db_session)  # not the instance's first account
    result = users("create", "grace@example.com", "--admin", "--name", "Grace", input="a fine passphrase\n")
    assert result.exit_code == 0 and "Created the admin grace@example.com" in result.output
    user = account(db_session, "grace@example.com")
    assert (user.first_name, user.last_name, user.is_admin) == ("Grace", None, True)
    (grant,) = audit_rows(db_session, "ADMIN_GRANT")
    assert_from_the_console(grant, user)


@pytest.mark.parametrize(("email", "password", "error"), [
    ("short@example.com", "too short", "Error: Password: Use at least 10 characters."),
    ("short@example.com", "", "Error: Password: This field is required."),
    ("not-an-email", "a fine passphrase", "Error: Email: Invalid email address."),
    ("nul@example.com", "a fine\x00passphrase", "Error: Password: Remove the invisible control characters"),
])
def test_create_keeps_the_sign_up_forms_rules(users, db_session, email, password, error):
    result = users("create", email, input=password + "\n")
    assert result.exit_code == 1 and result.output.startswith(error) and result.output.count("\n") == 1
    assert db_session.scalar(select(func.count()).select_from(User)) == 0


def test_create_refuses_an_email_that_has_an_account(users, db_session):
    make_user(db_session, email="taken@example.com")
    result = users("create", "TAKEN@example.com", input="a fine passphrase\n")
    assert result.exit_code == 1
    assert result.output == "Error: There is already an account with the email taken@example.com.\n"
    assert audit_rows(db_session, "USER_CREATE") == []


def test_list_prints_a_table_of_every_account(users, db_session):
    make_user(db_session, email="b.admin@example.com", first_name="Grace", last_name="Hopper", is_admin=True,
              created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    member = make_user(db_session, email="a.member@example.com", disabled_at=datetime.now(UTC))
    add_audit_rows(db_session, 1, newest=datetime(2026, 11, 20, 9, 30, tzinfo=UTC), action="USER_LOGIN",
                   user_id=member.id)
    result = users("list")
    assert result.exit_code == 0, result.output
    header, first, second = result.output.splitlines()
    assert header.split() == ["EMAIL", "NAME", "ADMIN", "DISABLED", "CREATED", "(UTC)", "LAST", "SIGN-IN", "(UTC)"]
    assert second.index("Grace") == header.index("NAME") and second.index("yes") == header.index("ADMIN")
    assert first.split() == ["a.member@example.com", "no", "yes", *first.split()[3:5], "2026-11-20", "09:30"]
    assert second.split() == ["b.admin@example.com", "Grace", "Hopper", "yes", "no", "2026-01-02", "03:04", "-"]


def test_list_on_an_empty_instance_says_how_to_begin(users):
    assert users("list").output == "No accounts yet: `flask users create EMAIL --admin` makes the first.\n"


def test_disable_ends_sessions_and_the_private_feed_at_once(app, users, db_session, login, client):
    member = make_user(db_session, email="leaving@example.com")
    login(member)
    token = feed_tokens.issue_token(db_session, member.id, datetime.now(UTC))
    db_session.commit()
    assert client.get(f"/feeds/{token}.ics").status_code == 200

    result = users("disable", "leaving@example.com")
    assert result.exit_code == 0 and result.output == "leaving@example.com is disabled; 1 session ended.\n"
    assert account(db_session, "leaving@example.com").disabled_at is not None
    assert db_session.scalar(
        select(func.count()).select_from(LoginSession).where(LoginSession.user_id == member.id)) == 0
    assert db_session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == member.id)) is None
    assert "/login" in client.get("/settings/sessions").headers["Location"]
    assert client.get(f"/feeds/{token}.ics").status_code == 404
    (entry,) = audit_rows(db_session, "ADMIN_USER_DISABLE")
    assert_from_the_console(entry, member)
    assert entry.metadata_["sessions_ended"] == 1
    assert audit_rows(db_session, "FEED_REVOKE")[0].metadata_ == {"reason": "account_disabled"}
    assert users("disable", "leaving@example.com").output == "leaving@example.com is already disabled.\n"


def test_enable_lets_the_account_sign_in_again(users, db_session, login):
    member = make_user(db_session, email="back@example.com", disabled_at=datetime.now(UTC))
    assert login(member).status_code == 422
    result = users("enable", "back@example.com")
    assert result.exit_code == 0 and result.output == "back@example.com can sign in again.\n"
    assert login(member).status_code == 302
    assert_from_the_console(audit_rows(db_session, "ADMIN_USER_ENABLE")[0], member)
    assert users("enable", "back@example.com").output == "back@example.com is not disabled.\n"


def test_revoke_admin_never_leaves_no_admin_who_can_sign_in(users, db_session):
    only = make_user(db_session, email="only.admin@example.com", is_admin=True)
    make_user(db_session, email="former.admin@example.com", is_admin=True, disabled_at=datetime.now(UTC))
    for command in ("revoke-admin", "disable"):
        refused = users(command, "only.admin@example.com")
        assert refused.exit_code == 1
        assert refused.output == ("Error: only.admin@example.com is the last admin who can sign in: "
                                  "make another account an admin first.\n")
    assert account(db_session, "only.admin@example.com").is_admin

    assert users("make-admin", "second.admin@example.com").exit_code == 1  # no such account yet
    make_user(db_session, email="second.admin@example.com", is_admin=True)
    result = users("revoke-admin", "only.admin@example.com")
    assert result.exit_code == 0 and result.output == "only.admin@example.com is no longer an admin.\n"
    assert not account(db_session, "only.admin@example.com").is_admin
    assert_from_the_console(audit_rows(db_session, "ADMIN_REVOKE")[0], only)
    assert users("revoke-admin", "only.admin@example.com").output == "only.admin@example.com is not an admin.\n"


@pytest.mark.parametrize("command", ["disable", "enable", "revoke-admin"])
def test_commands_name_an_unknown_email_in_one_line(users, command):
    result = users(command, "Nobody@Example.com")
    assert result.exit_code == 1 and result.output == "Error: No account with the email nobody@example.com.\n"


def test_delete_asks_first_then_removes_the_account_and_leaves_its_trail(users, db_session):
    make_user(db_session, email="admin@example.com", is_admin=True)
    user = make_user(db_session, email="gone@example.com")
    user_id = user.id

    declined = users("delete", "gone@example.com", input="n\n")
    assert declined.exit_code == 1 and account(db_session, "gone@example.com") is not None
    result = users("delete", "gone@example.com", input="y\n")

    assert result.exit_code == 0 and "Deleted gone@example.com: 0 calendars, 0 events." in result.output
    assert account(db_session, "gone@example.com") is None
    (entry,) = audit_rows(db_session, "ACCOUNT_DELETE")
    assert (entry.user_id, entry.resource_id, entry.metadata_["via"]) == (None, str(user_id), "cli")


def test_delete_never_removes_the_last_admin_while_others_remain(users, db_session):
    make_user(db_session, email="only-admin@example.com", is_admin=True)
    make_user(db_session, email="member@example.com")

    refused = users("delete", "only-admin@example.com", "--yes")
    assert refused.exit_code == 1 and "is the last admin who can sign in" in refused.output
    assert account(db_session, "only-admin@example.com") is not None
    assert users("delete", "member@example.com", "--yes").exit_code == 0
    assert users("delete", "only-admin@example.com", "--yes").exit_code == 0  # the last account may go
