"""Registration, login, logout and database-backed sessions, against the real database and Redis."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token_from
from webapp.auth.sessions import COOKIE_NAME
from webapp.models import AuditLog, AuditStatus, LoginSession, User

# Any page that needs a signed-in user: 200 when the session is live, a redirect to /login when it is not.
SIGNED_IN_PAGE = "/settings/sessions"


def post_form(client, url, data, **kwargs):
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def audit_actions(db_session, action):
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)).all()


def confirm_signup(client, mailbox, address):
    """Open the mailed link and press the button, as a person would."""
    link = mailbox.link_to(address)
    assert link.startswith("/register/confirm?token=")
    page = client.get(link)
    assert page.status_code == 200 and "Finish creating your account" in page.get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/register/confirm", data={"token": token,
                                                  "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def test_register_mails_a_link_that_creates_the_account_and_logs_in(client, db_session, mailbox):
    response = post_form(client, "/register", {
        "email": "  Grace.Hopper@Example.COM ", "password": "a long passphrase", "confirm": "a long passphrase",
        "first_name": "Grace", "last_name": "Hopper",
    }, headers={"User-Agent": "pytest-browser"}, follow_redirects=True)
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.email == "grace.hopper@example.com")) is None  # not yet
    (message,) = mailbox.messages_to("grace.hopper@example.com")
    assert message["subject"] == "Finish creating your Almanac account"
    response = confirm_signup(client, mailbox, "grace.hopper@example.com")
    assert response.status_code == 302 and response.location == "/"
    user = db_session.scalars(select(User).where(User.email == "grace.hopper@example.com")).one()
    assert user.password_hash.startswith("$argon2id$") and user.first_name == "Grace"
    assert "a long passphrase" not in user.password_hash
    assert client.get(SIGNED_IN_PAGE).status_code == 200
    (entry,) = audit_actions(db_session, "USER_REGISTER")
    assert entry.user_id == user.id and entry.user_agent and entry.ip_address
    # The link worked once.
    again = client.get(mailbox.link_to("grace.hopper@example.com"))
    assert again.status_code == 400 and "This link no longer works" in again.get_data(as_text=True)


def test_register_with_a_taken_email_answers_the_same_and_mails_the_owner(app, db_session, user, mailbox):
    fresh, taken = app.test_client(), app.test_client()
    new = post_form(fresh, "/register", {"email": "newcomer@example.com", "password": "another passphrase",
                                         "confirm": "another passphrase", "first_name": "Second"})
    existing = post_form(taken, "/register", {"email": user.email.upper(), "password": "another passphrase",
                                              "confirm": "another passphrase", "first_name": "Second"})
    assert existing.status_code == new.status_code == 303
    assert existing.location == new.location == "/check-your-inbox"
    new, existing = fresh.get(new.location), taken.get(existing.location)
    assert existing.get_data(as_text=True).replace(user.email, "ADDRESS") == new.get_data(as_text=True).replace(
        "newcomer@example.com", "ADDRESS").replace(*_csrf_pair(new, existing))
    (message,) = mailbox.messages_to(user.email)
    assert message["subject"] == "You already have an Almanac account"
    assert "/forgot-password" in message["body"] and "token" not in message["body"]
    assert db_session.scalar(select(User).where(User.first_name == "Second")) is None
    assert db_session.get(User, user.id).password_hash == user.password_hash  # untouched


def _csrf_pair(first, second):
    return csrf_token_from(first.get_data(as_text=True)), csrf_token_from(second.get_data(as_text=True))


def test_register_rejects_short_password_in_place(client, db_session):
    response = post_form(client, "/register", {"email": "new@example.com", "password": "short", "confirm": "short"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Use at least 10 characters." in body and 'value="new@example.com"' in body
    assert 'value="short"' not in body  # passwords are never echoed back
    assert db_session.scalar(select(User).where(User.email == "new@example.com")) is None


def test_long_passphrase_is_accepted(client, db_session, mailbox):
    passphrase = "word " * 60
    response = post_form(client, "/register", {"email": "long@example.com", "password": passphrase,
                                               "confirm": passphrase})
    assert response.status_code == 303
    assert confirm_signup(client, mailbox, "long@example.com").status_code == 302


def test_login_sets_an_opaque_cookie_and_stores_only_its_hash(client, db_session, user, login):
    response = login(user, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"})
    assert response.status_code == 302
    cookie_header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME))
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header and "Secure" not in cookie_header
    token = client.get_cookie(COOKIE_NAME).value
    assert len(token) >= 43  # 32 random bytes, base64url
    row = db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert timedelta(days=29, hours=23) < row.expires_at - row.created_at <= timedelta(days=30)
    page = client.get("/settings/sessions").get_data(as_text=True)
    assert "Chrome on Linux" in page and "This device" in page


def test_secure_cookie_when_served_over_https(client, user):
    https = {"base_url": "https://localhost"}
    token = csrf_token_from(client.get("/login", **https).get_data(as_text=True))
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                           headers={"Referer": "https://localhost/login"}, **https)
    assert response.status_code == 302
    cookie_header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME))
    assert "; Secure" in cookie_header


def test_every_login_gets_a_new_token(app, db_session, user, login):
    first, second = app.test_client(), app.test_client()
    login(user, test_client=first)
    login(user, test_client=second)
    assert first.get_cookie(COOKIE_NAME).value != second.get_cookie(COOKIE_NAME).value
    assert len(db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all()) == 2


def test_wrong_email_and_wrong_password_read_the_same(client, db_session, user, login):
    wrong_password = login(user, password="not the password").get_data(as_text=True)
    unknown = post_form(client, "/login", {"email": "nobody@example.com", "password": "whatever123"})
    message = "That email and password do not match an account."
    assert message in wrong_password and message in unknown.get_data(as_text=True)
    assert unknown.status_code == 422
    failures = audit_actions(db_session, "USER_LOGIN")
    assert [(f.status, f.error_message) for f in failures] == [
        (AuditStatus.FAILURE, "wrong_password"), (AuditStatus.FAILURE, "unknown_email")]
    assert all("not the password" not in str(f.metadata_) for f in failures)


def test_logout_deletes_the_session_row(client, db_session, user, login):
    login(user)
    token = csrf_token_from(client.get(SIGNED_IN_PAGE).get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/login"
    assert db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all() == []
    assert client.get(SIGNED_IN_PAGE).status_code == 302
    assert audit_actions(db_session, "USER_LOGOUT")


def test_expired_idle_and_deleted_users_are_logged_out(app, db_session, user, login):
    for change in ("expired", "idle", "deleted", "disabled"):
        browser = app.test_client()
        login(user, test_client=browser)
        assert browser.get(SIGNED_IN_PAGE).status_code == 200
        row = db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).one()
        user = db_session.get(User, user.id)  # requests closed the session the fixture loaded it in
        now = datetime.now(UTC)
        if change == "expired":
            row.created_at, row.expires_at = now - timedelta(days=31), now - timedelta(seconds=1)
        elif change == "idle":
            row.last_seen_at = now - timedelta(days=14, minutes=1)
        elif change == "deleted":
            user.deleted_at = now
        else:
            user.disabled_at = now
        db_session.commit()
        assert browser.get(SIGNED_IN_PAGE).status_code == 302, change
        db_session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        db_session.execute(update(User).where(User.id == user.id).values(deleted_at=None, disabled_at=None))
        db_session.commit()


def test_unknown_token_is_logged_out(client):
    client.set_cookie(COOKIE_NAME, "forged-token")
    response = client.get(SIGNED_IN_PAGE)
    assert response.status_code == 302 and response.location.startswith("/login")


@pytest.mark.parametrize("target", ["//evil.example/steal", "https://evil.example/", "/%09/evil.example",
                                    "/%0a/evil.example", "/\\evil.example", "evil.example"])
def test_next_parameter_only_redirects_within_the_site(client, user, target):
    page = client.get(f"/login?next={target}")
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post(f"/login?next={target}",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.location == "/"


def test_next_parameter_brings_the_user_back_to_the_page_they_asked_for(client, user):
    page = client.get("/login?next=/calendar/agenda%3Fq%3Dx")
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post("/login?next=/calendar/agenda%3Fq%3Dx",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.location == "/calendar/agenda?q=x"


def test_missing_csrf_token_gets_an_explaining_400(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "did not come from this site" in body and "Traceback" not in body


def test_htmx_revoke_of_another_session_swaps_the_list(app, db_session, user, login):
    phone, laptop = app.test_client(), app.test_client()
    login(user, test_client=phone, headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"})
    login(user, test_client=laptop)
    phone_row = db_session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.user_agent.like("%iPhone%"))).one()
    token = csrf_token_from(laptop.get("/settings/sessions").get_data(as_text=True))
    response = laptop.post(f"/settings/sessions/{phone_row.id}/revoke",
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="sessions"') and "<html" not in body
    assert "Safari on iOS" not in body
    assert "toast" in response.headers["HX-Trigger"]
    assert phone.get(SIGNED_IN_PAGE).status_code == 302  # the phone is signed out
    assert audit_actions(db_session, "SESSION_REVOKE")[0].resource_id == str(phone_row.id)


def test_cannot_revoke_someone_elses_session(app, db_session, user, login):
    stranger = make_user(db_session)
    other = app.test_client()
    login(stranger, test_client=other)
    stranger_session = db_session.scalars(select(LoginSession).where(LoginSession.user_id == stranger.id)).one()
    mine = app.test_client()
    login(user, test_client=mine)
    token = csrf_token_from(mine.get("/settings/sessions").get_data(as_text=True))
    response = mine.post(f"/settings/sessions/{stranger_session.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    assert other.get(SIGNED_IN_PAGE).status_code == 200


def test_sign_out_everywhere_else_keeps_this_session(app, db_session, user, login):
    browsers = [app.test_client() for _ in range(3)]
    for browser in browsers:
        login(user, test_client=browser)
    token = csrf_token_from(browsers[0].get("/settings/sessions").get_data(as_text=True))
    response = browsers[0].post("/settings/sessions/revoke-others", data={"csrf_token": token})
    assert response.status_code == 302
    assert browsers[0].get(SIGNED_IN_PAGE).status_code == 200
    assert [b.get(SIGNED_IN_PAGE).status_code for b in browsers[1:]] == [302, 302]
    assert audit_actions(db_session, "SESSION_REVOKE")[0].metadata_ == {"revoked": 2}
