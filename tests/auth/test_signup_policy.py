"""SIGNUP=open|invite|closed, invitations (single-use, 7 days, hashed) and the first account becoming admin."""
from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_user, password_hash
from tests.helpers import csrf_token_from
from webapp.auth.accounts import EmailTaken, register_user
from webapp.auth.invitations import accept_invitation, create_invitation, invitation_for
from webapp.config import Config, ConfigError
from webapp.extensions import db
from webapp.models import AuditLog, Invitation, SignupRequest, User

NEW_PASSWORD = "a long passphrase"
PASSWORD_HASH = password_hash(NEW_PASSWORD)
DEPLOYMENT = {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "SECRET_KEY": "s",
              "TOKEN_ENCRYPTION_KEYS": "k:x"}


def post_form(client, url, data, **kwargs):
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def register(client, email="newcomer@example.com"):
    return post_form(client, "/register", {"email": email, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def invite(app, db_session, email, *, now=None, invited_by=None) -> tuple[Invitation, str]:
    """An invitation made as the admin page makes one (the link is built on PUBLIC_URL); committed."""
    with app.app_context():  # its teardown closes the session: commit before it
        made = create_invitation(db_session, email, invited_by=invited_by, now=now or datetime.now(UTC))
        db_session.commit()
    return made


def audit_rows(db_session, action):
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)).all()


def accept(client, link, password=NEW_PASSWORD, **extra):
    page = client.get(path_of(link))
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/register/invitation", data={"token": token, "password": password, "confirm": password,
                                                     "csrf_token": csrf_token_from(html), **extra})


@pytest.fixture
def policy(app, monkeypatch):
    def set_policy(value: str):
        monkeypatch.setitem(app.config, "SIGNUP", value)

    return set_policy


# The setting


def test_a_deployment_defaults_to_invite_and_the_local_default_to_open():
    assert Config.from_env(DEPLOYMENT).SIGNUP == "invite"
    assert Config.from_env({**DEPLOYMENT, "ALMANAC_ENV": "development"}).SIGNUP == "open"
    assert Config.from_env({**DEPLOYMENT, "SIGNUP": " Closed "}).SIGNUP == "closed"
    assert Config.from_env({**DEPLOYMENT, "ALMANAC_ENV": "development", "SIGNUP": "invite"}).SIGNUP == "invite"
    with pytest.raises(ConfigError, match="SIGNUP must be open, invite or closed, got 'approval'"):
        Config.from_env({**DEPLOYMENT, "SIGNUP": "approval"})


# open


def test_open_shows_the_form_and_links_to_it(client, db_session, policy):
    policy("open")
    assert 'id="password"' in client.get("/register").get_data(as_text=True)
    login_page = client.get("/login").get_data(as_text=True)
    assert "Create an account" in login_page and 'href="/register"' in login_page


# invite


def test_invite_refuses_registration_for_every_email_alike(app, db_session, user, policy, mailbox):
    policy("invite")
    page = app.test_client().get("/register")
    assert page.status_code == 200 and "Accounts are by invitation" in page.get_data(as_text=True)
    assert 'id="password"' not in page.get_data(as_text=True)
    known, unknown = register(app.test_client(), user.email), register(app.test_client(), "ghost@example.com")
    assert known.status_code == unknown.status_code == 403
    strip = [(user.email, "ADDRESS"), ("ghost@example.com", "ADDRESS")]

    def normalised(response):
        html = re.sub(r'"X-CSRFToken": "[^"]+"', "", response.get_data(as_text=True))
        for old, new in strip:
            html = html.replace(old, new)
        return html

    assert normalised(known) == normalised(unknown)
    assert db_session.scalar(select(func.count()).select_from(SignupRequest)) == 0
    assert mailbox.deliver() == []
    login_page = app.test_client().get("/login").get_data(as_text=True)
    assert "Accounts on this Almanac are by invitation" in login_page and 'href="/register"' not in login_page


def test_invite_stops_sign_up_links_mailed_before_the_change(client, db_session, policy, mailbox):
    policy("open")
    register(client)
    link = mailbox.link_to("newcomer@example.com")
    policy("invite")
    page = client.get(link)
    assert page.status_code == 403 and "This link can no longer create an account" in page.get_data(as_text=True)
    response = client.post("/register/confirm", data={"token": token_of(link),
                                                      "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 403
    assert db_session.scalar(select(User).where(User.email == "newcomer@example.com")) is None


def test_an_invitation_creates_the_account_once(app, client, db_session, policy):
    policy("invite")
    admin = make_user(db_session, is_admin=True)
    invitation, link = invite(app, db_session, " Invited@Example.com", invited_by=admin.id)
    assert "/register/invitation?token=" in link
    page = client.get(path_of(link))
    assert page.status_code == 200 and "invited@example.com" in page.get_data(as_text=True)
    assert "yours will be the first" not in page.get_data(as_text=True)

    response = accept(client, link, first_name="Ada")
    assert response.status_code == 302 and response.location == "/"
    user = db_session.scalars(select(User).where(User.email == "invited@example.com")).one()
    assert user.first_name == "Ada" and not user.is_admin
    assert client.get("/settings/profile").status_code == 200  # signed in
    (entry,) = audit_rows(db_session, "USER_REGISTER")
    assert entry.user_id == user.id and entry.metadata_ == {"via": "invitation", "invitation": str(invitation.id)}

    again = app.test_client().get(path_of(link))
    assert again.status_code == 400 and "This invitation no longer works" in again.get_data(as_text=True)
    replay = app.test_client().post("/register/invitation", data={
        "token": token_of(link), "password": "another passphrase", "confirm": "another passphrase",
        "csrf_token": csrf_token_from(again.get_data(as_text=True))})
    assert replay.status_code == 400
    assert db_session.scalar(select(func.count()).select_from(User).where(User.email == user.email)) == 1


def test_a_bad_password_is_refused_in_place_and_the_invitation_still_works(app, client, db_session, policy):
    policy("invite")
    _, link = invite(app, db_session, "invited@example.com")
    response = accept(client, link, password="short")
    assert response.status_code == 422 and "Use at least 10 characters." in response.get_data(as_text=True)
    assert accept(client, link).status_code == 302


def test_only_a_hash_of_the_invitation_token_is_stored(app, db_session):
    invitation, link = invite(app, db_session, "hashed@example.com")
    token = token_of(link)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = db_session.execute(select(Invitation.__table__)).mappings().one()
    assert token not in {str(value) for value in stored.values()}


def test_an_invitation_works_for_seven_days(app, db_session):
    made = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    _, link = invite(app, db_session, "week@example.com", now=made)
    token, password_hash = token_of(link), PASSWORD_HASH
    assert invitation_for(db_session, token, now=made + timedelta(days=7, seconds=-1)) is not None
    late = made + timedelta(days=7)
    assert invitation_for(db_session, token, now=late) is None
    assert accept_invitation(db_session, token, password_hash=password_hash, first_name=None, last_name=None,
                             now=late) is None
    accepted = accept_invitation(db_session, token, password_hash=password_hash, first_name=None, last_name=None,
                                 now=late - timedelta(minutes=1))
    assert accepted is not None and accepted[0].email == "week@example.com"
    assert accept_invitation(db_session, token, password_hash=password_hash, first_name=None, last_name=None,
                             now=late - timedelta(minutes=1)) is None  # once


def test_an_expired_invitation_link_is_refused(app, client, db_session, policy):
    policy("invite")
    _, link = invite(app, db_session, "late@example.com", now=datetime.now(UTC) - timedelta(days=8))
    page = client.get(path_of(link))
    assert page.status_code == 400 and "Invitations work once, for 7 days" in page.get_data(as_text=True)


def test_only_the_newest_invitation_of_an_email_works_and_taken_emails_get_none(app, db_session, user):
    now = datetime.now(UTC)
    _, first = invite(app, db_session, "twice@example.com", now=now)
    _, second = invite(app, db_session, "twice@example.com", now=now)
    assert invitation_for(db_session, token_of(first), now=now) is None
    assert invitation_for(db_session, token_of(second), now=now) is not None
    with pytest.raises(EmailTaken):
        invite(app, db_session, user.email.upper(), now=now)


def test_an_invitation_for_an_email_that_got_an_account_meanwhile_sends_to_log_in(app, client, db_session, policy):
    policy("invite")
    _, link = invite(app, db_session, "raced@example.com")
    page = client.get(path_of(link))
    make_user(db_session, email="raced@example.com")
    response = client.post("/register/invitation", data={
        "token": token_of(link), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 303 and response.location == "/login"


def test_operators_can_print_an_invitation(app, client, db_session, policy):
    policy("invite")
    result = app.test_cli_runner().invoke(args=["users", "invite", " Family@Example.org "])
    assert result.exit_code == 0, result.output
    assert "Invitation for family@example.org (works once, for 7 days)" in result.output
    link = re.search(r"https?://\S+", result.output).group(0)
    (entry,) = audit_rows(db_session, "INVITATION_CREATE")
    assert entry.user_id is None and entry.metadata_ == {"email": "family@example.org", "via": "cli"}
    assert token_of(link) not in str(entry.metadata_)
    assert accept(client, link).status_code == 302

    taken = app.test_cli_runner().invoke(args=["users", "invite", "family@example.org"])
    assert taken.exit_code == 1 and "family@example.org already has an account." in taken.output
    nonsense = app.test_cli_runner().invoke(args=["users", "invite", "not-an-address"])
    assert nonsense.exit_code == 1 and "not-an-address is not an email address" in nonsense.output


# closed


def test_closed_refuses_registration_invitations_and_says_so(app, client, db_session, policy, mailbox):
    _, link = invite(app, db_session, "invited@example.com")
    policy("closed")
    login_page = client.get("/login").get_data(as_text=True)
    assert "Sign-up is closed" in login_page and 'href="/register"' not in login_page
    page = client.get("/register")
    assert page.status_code == 200 and "Sign-up is closed" in page.get_data(as_text=True)
    assert register(client).status_code == 403
    refused = client.get(path_of(link))
    assert refused.status_code == 403 and "Sign-up is closed" in refused.get_data(as_text=True)
    response = client.post("/register/invitation", data={
        "token": token_of(link), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token_from(refused.get_data(as_text=True))})
    assert response.status_code == 403
    assert db_session.scalar(select(func.count()).select_from(User)) == 0
    assert mailbox.deliver() == []
    cli = app.test_cli_runner().invoke(args=["users", "invite", "someone@example.org"])
    assert cli.exit_code == 1 and "Sign-up is closed (SIGNUP=closed)" in cli.output


# The first account


def test_the_first_account_of_an_empty_instance_is_its_admin_and_is_told_so(app, client, db_session, policy,
                                                                            mailbox):
    policy("open")
    register(client, "first@example.com")
    link = mailbox.link_to("first@example.com")
    page = client.get(link).get_data(as_text=True)
    assert "yours will be the first, so it will be the admin" in page
    response = client.post("/register/confirm", data={"token": token_of(link), "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    first = db_session.scalars(select(User).where(User.email == "first@example.com")).one()
    assert first.is_admin
    welcome = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Yours is the first account here, so you are its admin" in welcome
    (grant,) = audit_rows(db_session, "ADMIN_GRANT")
    assert grant.user_id == first.id and grant.metadata_ == {"reason": "first_account"}

    second_browser = app.test_client()
    register(second_browser, "second@example.com")
    link = mailbox.link_to("second@example.com")
    page = second_browser.get(link).get_data(as_text=True)
    assert "yours will be the first" not in page
    second_browser.post("/register/confirm", data={"token": token_of(link), "csrf_token": csrf_token_from(page)})
    assert not db_session.scalars(select(User).where(User.email == "second@example.com")).one().is_admin
    assert len(audit_rows(db_session, "ADMIN_GRANT")) == 1


def test_an_invitation_printed_for_an_empty_instance_makes_its_admin(app, client, db_session, policy):
    policy("invite")
    result = app.test_cli_runner().invoke(args=["users", "invite", "owner@example.org"])
    link = re.search(r"https?://\S+", result.output).group(0)
    assert "yours will be the first" in client.get(path_of(link)).get_data(as_text=True)
    accept(client, link)
    assert db_session.scalars(select(User).where(User.email == "owner@example.org")).one().is_admin
    assert client.get("/admin/users").status_code == 200


def test_a_user_made_by_the_factories_means_the_instance_is_not_empty(client, db_session, policy, mailbox):
    policy("open")
    make_user(db_session, password=PASSWORD)
    register(client, "later@example.com")
    link = mailbox.link_to("later@example.com")
    page = client.get(link).get_data(as_text=True)
    client.post("/register/confirm", data={"token": token_of(link), "csrf_token": csrf_token_from(page)})
    assert not db_session.scalars(select(User).where(User.email == "later@example.com")).one().is_admin


def test_two_first_sign_ups_at_once_make_one_admin(app, clean_database):
    """Two transactions on two connections: the second waits at the advisory lock until the first commits, then
    sees its account."""
    with app.app_context():
        engine = db.engine
    with engine.connect() as first, engine.connect() as second, engine.connect() as observer:
        one, two = Session(bind=first), Session(bind=second)
        assert register_user(one, email="alice@example.com", password_hash="x").is_admin
        outcome = {}
        waiter = threading.Thread(target=lambda: outcome.setdefault(
            "bob", register_user(two, email="bob@example.com", password_hash="x").is_admin))
        waiter.start()
        deadline = time.monotonic() + 10
        while not observer.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")):
            assert time.monotonic() < deadline, "the second sign-up never waited at the lock"
            observer.rollback()
        one.commit()
        waiter.join(timeout=10)
        two.commit()
    assert outcome == {"bob": False}
