"""Account recovery: a single-use, 30-minute link, the same answer for every email, every other session ended."""
from __future__ import annotations

import hashlib
import re
import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from tests.factories import make_config, make_user
from tests.helpers import csrf_token_from
from webapp import create_app
from webapp.extensions import db
from webapp.mail import MailNotConfigured, Message, outbox, send
from webapp.models import AuditLog, AuditStatus, LoginSession, PasswordReset, User

SIGNED_IN_PAGE = "/settings/sessions"
NEW_PASSWORD = "a brand new passphrase"


def ask_for_link(client, email):
    token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
    return client.post("/forgot-password", data={"email": email, "csrf_token": token})


def choose_password(client, link, password=NEW_PASSWORD, confirm=None):
    page = client.get(link)
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/reset-password", data={"token": token, "password": password,
                                                "confirm": confirm or password, "csrf_token": csrf_token_from(html)})


def audit_rows(db_session, action):
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)).all()


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(app, db_session, user, mailbox):
    known_browser, unknown_browser = app.test_client(), app.test_client()
    known, unknown = ask_for_link(known_browser, user.email), ask_for_link(unknown_browser, "ghost@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.location == unknown.location == "/check-your-inbox"
    known, unknown = known_browser.get(known.location), unknown_browser.get(unknown.location)

    def normalised(response, email):
        html = response.get_data(as_text=True).replace(email, "ADDRESS")
        return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)

    assert normalised(known, user.email) == normalised(unknown, "ghost@example.com")
    assert "If <strong>ADDRESS</strong> has an account" in normalised(known, user.email)
    assert mailbox.messages_to("ghost@example.com") == []
    (message,) = mailbox.messages_to(user.email)
    assert message["subject"] == "Choose a new Almanac password" and "30 minutes" in message["body"]
    requests = audit_rows(db_session, "PASSWORD_RESET_REQUEST")
    assert {(row.user_id, row.status, row.error_message) for row in requests} == {
        (user.id, AuditStatus.SUCCESS, None), (None, AuditStatus.FAILURE, "unknown_email")}
    assert all(row.ip_address for row in requests)  # the requester's address, although a job wrote them


def test_the_link_is_stored_hashed_and_lasts_thirty_minutes(db_session, client, user, mailbox):
    ask_for_link(client, user.email)
    link = mailbox.link_to(user.email)
    token = link.split("token=", 1)[1]
    (row,) = db_session.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)


def test_resetting_sets_the_password_signs_in_and_ends_every_other_session(app, db_session, user, login, mailbox):
    phone, laptop = app.test_client(), app.test_client()
    login(user, test_client=phone)
    login(user, test_client=laptop)
    stranger = make_user(db_session)
    login(stranger, test_client=app.test_client())

    browser = app.test_client()
    ask_for_link(browser, user.email)
    link = mailbox.link_to(user.email)
    page = browser.get(link)
    assert page.status_code == 200 and user.email in page.get_data(as_text=True)
    response = choose_password(browser, link)
    assert response.status_code == 302 and response.location == "/"
    assert "every other device is signed out" in browser.get("/", follow_redirects=True).get_data(as_text=True)

    assert phone.get(SIGNED_IN_PAGE).status_code == 302 and laptop.get(SIGNED_IN_PAGE).status_code == 302
    assert browser.get(SIGNED_IN_PAGE).status_code == 200
    sessions = db_session.scalars(select(LoginSession.user_id)).all()
    assert sessions.count(user.id) == 1 and sessions.count(stranger.id) == 1
    (entry,) = audit_rows(db_session, "PASSWORD_RESET")
    assert entry.user_id == user.id and entry.metadata_ == {"sessions_ended": 2}

    assert login(user, test_client=app.test_client()).status_code == 422  # the old password is gone
    assert login(user, password=NEW_PASSWORD, test_client=app.test_client()).status_code == 302

    used = browser.get(link)  # single use
    assert used.status_code == 400 and "This link no longer works" in used.get_data(as_text=True)


def test_an_expired_link_does_nothing(client, db_session, user, mailbox):
    ask_for_link(client, user.email)
    link = mailbox.link_to(user.email)
    db_session.execute(update(PasswordReset).values(created_at=datetime.now(UTC) - timedelta(minutes=40),
                                                    expires_at=datetime.now(UTC) - timedelta(minutes=10)))
    db_session.commit()
    assert client.get(link).status_code == 400
    token = link.split("token=", 1)[1]
    page = client.get("/forgot-password").get_data(as_text=True)
    response = client.post("/reset-password", data={"token": token, "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD, "csrf_token": csrf_token_from(page)})
    assert response.status_code == 400
    assert db_session.get(User, user.id).password_hash == user.password_hash


def test_only_the_newest_link_works(client, db_session, user, mailbox):
    ask_for_link(client, user.email)
    first = mailbox.link_to(user.email)
    ask_for_link(client, user.email)
    second = mailbox.link_to(user.email)
    assert first != second
    assert client.get(first).status_code == 400 and client.get(second).status_code == 200


def test_a_bad_new_password_is_refused_in_place_and_the_link_still_works(client, db_session, user, mailbox):
    ask_for_link(client, user.email)
    link = mailbox.link_to(user.email)
    response = choose_password(client, link, password=NEW_PASSWORD, confirm="something else entirely")
    assert response.status_code == 422 and "The passwords do not match." in response.get_data(as_text=True)
    assert NEW_PASSWORD not in response.get_data(as_text=True)
    assert choose_password(client, link).status_code == 302


def test_disabled_accounts_get_no_link(client, db_session, mailbox):
    disabled = make_user(db_session, disabled_at=datetime.now(UTC))
    assert ask_for_link(client, disabled.email).status_code == 303
    assert mailbox.messages_to(disabled.email) == []
    (row,) = audit_rows(db_session, "PASSWORD_RESET_REQUEST")
    assert row.error_message == "account_inactive"


def test_operators_can_print_a_link(app, db_session, user, client):
    result = app.test_cli_runner().invoke(args=["users", "reset-link", user.email.upper()])
    assert result.exit_code == 0, result.output
    link = re.search(r"https?://\S+", result.output).group(0)
    assert "/reset-password?token=" in link
    assert choose_password(client, link.split("5000", 1)[1]).status_code == 302
    (entry,) = audit_rows(db_session, "PASSWORD_RESET_LINK")
    assert entry.user_id is None and entry.resource_id == str(user.id) and entry.metadata_ == {"via": "cli"}
    missing = app.test_cli_runner().invoke(args=["users", "reset-link", "nobody@example.com"])
    assert missing.exit_code != 0 and "No account with the email nobody@example.com" in missing.output


def test_mail_requests_are_limited_per_email(app, client, db_session, user, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_MAIL_PER_EMAIL", "2 per hour")
    assert [ask_for_link(app.test_client(), user.email).status_code for _ in range(3)] == [303, 303, 429]
    assert len(mailbox.messages_to(user.email)) == 2


class Collector:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    yield collector, port
    controller.stop()


def test_with_smtp_url_the_link_goes_out_by_smtp(app, client, db_session, user, mailbox, redis, smtp_server,
                                                monkeypatch):
    collector, port = smtp_server
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}?starttls=off")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Almanac <almanac@example.org>")
    ask_for_link(client, user.email)
    assert mailbox.deliver() == []  # nothing in the local outbox
    ((recipients, message),) = collector.received
    assert recipients == [user.email] and message["From"] == "Almanac <almanac@example.org>"
    link = re.search(r"https?://\S+", message.get_payload(decode=True).decode()).group(0)
    assert choose_password(client, link.split("5000", 1)[1]).status_code == 302


def test_production_without_smtp_has_no_outbox_and_refuses_to_pretend(app, redis):
    config = make_config(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"])
    config.ENVIRONMENT = "production"
    production = create_app({"CONFIG": config})
    assert production.test_client().get("/dev/outbox").status_code == 404
    with production.app_context(), pytest.raises(MailNotConfigured):
        send(Message(to="someone@example.com", subject="Hello", body="A link"))
    assert outbox(redis) == []
    with production.app_context():
        db.engine.dispose()


def test_signed_in_users_can_use_a_link_too(app, client, db_session, user, login, mailbox):
    login(user)
    ask_for_link(client, user.email)
    assert choose_password(client, mailbox.link_to(user.email)).status_code == 302
    assert client.get(SIGNED_IN_PAGE).status_code == 200
