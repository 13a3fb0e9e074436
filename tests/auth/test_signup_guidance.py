"""Sign-up that guides: "Check your inbox" after a redirect (a reload sends nothing), signing in with the password
of a sign-up still waiting for its link (and the button that sends it again), and where the settings live."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import webapp.auth.accounts
from tests.factories import PASSWORD
from tests.helpers import csrf_token_from
from webapp.models import AuditLog, AuditStatus, User

SIGNUP_PASSWORD = "the password I registered with"
PENDING = "Finish creating your account: open the link we mailed to {email}."


def post_form(client, url, data, **kwargs):
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def register(client, email, password=SIGNUP_PASSWORD):
    return post_form(client, "/register", {"email": email, "password": password, "confirm": password})


def sign_in(client, email, password):
    return post_form(client, "/login", {"email": email, "password": password})


def resend_form(response) -> dict:
    html = response.get_data(as_text=True)
    form = html[html.index('action="/register/resend"'):]
    return {"token": re.search(r'name="token" type="hidden" value="([^"]+)"', form).group(1),
            "csrf_token": csrf_token_from(form)}


def normalised(response, email) -> str:
    html = response.get_data(as_text=True).replace(email, "ADDRESS")
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'value="[^"]+"', 'value=""', html)  # tokens


# Post, redirect, get


def test_check_your_inbox_comes_after_a_redirect_and_a_reload_sends_nothing(app, client, db_session, mailbox,
                                                                            monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_MAIL_PER_EMAIL", "1 per hour")
    response = register(client, "reloader@example.com")
    assert response.status_code == 303 and response.location == "/check-your-inbox"
    for _ in range(3):  # the page, then two reloads
        page = client.get(response.location)
        assert page.status_code == 200
        assert "We are sending a mail to <strong>reloader@example.com</strong>" in page.get_data(as_text=True)
    assert len(mailbox.messages_to("reloader@example.com")) == 1


def test_forgot_password_also_redirects(client, db_session, user, mailbox):
    response = post_form(client, "/forgot-password", {"email": user.email})
    assert response.status_code == 303 and response.location == "/check-your-inbox"
    for _ in range(2):
        assert f"If <strong>{user.email}</strong> has an account" in client.get(response.location).get_data(
            as_text=True)
    assert len(mailbox.messages_to(user.email)) == 1


def test_check_your_inbox_on_its_own_names_no_address(client, db_session):
    page = client.get("/check-your-inbox")
    assert page.status_code == 200 and "If you asked us for a link" in page.get_data(as_text=True)


# Signing in before opening the link


def test_the_password_of_a_waiting_sign_up_says_to_open_the_link(client, db_session, mailbox):
    register(client, "waiting@example.com")
    mailbox.deliver()
    response = sign_in(client, "Waiting@Example.com", SIGNUP_PASSWORD)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert PENDING.format(email="waiting@example.com") in body
    assert "Send the link again" in body and "do not match an account" not in body
    assert SIGNUP_PASSWORD not in body
    (entry,) = db_session.scalars(select(AuditLog).where(AuditLog.action == "USER_LOGIN")).all()
    assert (entry.status, entry.error_message) == (AuditStatus.FAILURE, "signup_pending")

    wrong = sign_in(client, "waiting@example.com", "not what I registered with")
    assert wrong.status_code == 422 and "Finish creating" not in wrong.get_data(as_text=True)
    assert "That email and password do not match an account." in wrong.get_data(as_text=True)


def test_whether_the_email_has_an_account_does_not_show(app, db_session, user, mailbox):
    """Someone registers a stranger's email with a password of their own, then signs in with it: the answer is the
    same whether the email already had an account (its owner got a "you already have an account" mail) or not."""
    for email in (user.email, "nobody-yet@example.com"):
        register(app.test_client(), email)
    mailbox.deliver()
    taken = sign_in(app.test_client(), user.email, SIGNUP_PASSWORD)
    free = sign_in(app.test_client(), "nobody-yet@example.com", SIGNUP_PASSWORD)
    assert taken.status_code == free.status_code == 200
    assert normalised(taken, user.email) == normalised(free, "nobody-yet@example.com")
    assert PENDING.format(email=user.email) in taken.get_data(as_text=True)
    owner = sign_in(app.test_client(), user.email, PASSWORD)
    assert owner.status_code == 302  # the owner's own password still signs in


def test_every_failed_sign_in_costs_the_same_password_checks(app, db_session, user, mailbox, monkeypatch):
    register(app.test_client(), user.email)
    register(app.test_client(), "waiting@example.com")
    checks = []
    real_verify = webapp.auth.accounts._verify
    monkeypatch.setattr(webapp.auth.accounts, "_verify",
                        lambda password_hash, password: checks.append(1) or real_verify(password_hash, password))

    def checks_for(email, password):
        checks.clear()
        sign_in(app.test_client(), email, password)
        return len(checks)

    assert {
        "unknown email": checks_for("ghost@example.com", "some password"),
        "account, wrong password": checks_for(user.email, "some password"),
        "account with a waiting sign-up, wrong password": checks_for(user.email, "another password"),
        "waiting sign-up, wrong password": checks_for("waiting@example.com", "some password"),
        "waiting sign-up, its password": checks_for("waiting@example.com", SIGNUP_PASSWORD),
        "account with a waiting sign-up, its password": checks_for(user.email, SIGNUP_PASSWORD),
    } == dict.fromkeys([
        "unknown email", "account, wrong password", "account with a waiting sign-up, wrong password",
        "waiting sign-up, wrong password", "waiting sign-up, its password",
        "account with a waiting sign-up, its password"], 2)
    assert checks_for(user.email, PASSWORD) == 1


def test_a_waiting_sign_up_counts_against_the_sign_in_throttle(app, client, db_session, redis, mailbox):
    register(client, "hammer@example.com")
    statuses = [sign_in(client, "hammer@example.com", SIGNUP_PASSWORD).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_without_open_sign_up_a_waiting_sign_up_is_an_ordinary_failure(app, client, db_session, mailbox,
                                                                       monkeypatch):
    register(client, "before-the-change@example.com")
    monkeypatch.setitem(app.config, "SIGNUP", "invite")
    response = sign_in(client, "before-the-change@example.com", SIGNUP_PASSWORD)
    assert response.status_code == 422 and "Finish creating" not in response.get_data(as_text=True)


def test_send_the_link_again_mails_a_new_link_and_lands_on_check_your_inbox(app, client, db_session, mailbox):
    register(client, "resend@example.com")
    first_link = mailbox.link_to("resend@example.com")
    pending = sign_in(client, "resend@example.com", SIGNUP_PASSWORD)
    response = client.post("/register/resend", data=resend_form(pending))
    assert response.status_code == 303 and response.location == "/check-your-inbox"
    assert "resend@example.com" in client.get(response.location).get_data(as_text=True)
    messages = mailbox.messages_to("resend@example.com")
    assert len(messages) == 2 and messages[0]["subject"] == "Finish creating your Almanac account"
    second_link = mailbox.link_to("resend@example.com")
    assert second_link != first_link
    assert client.get(first_link).status_code == 400  # the new link replaces the old one
    page = client.get(second_link)
    assert page.status_code == 200
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    created = client.post("/register/confirm", data={"token": token,
                                                     "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert created.status_code == 302
    user = db_session.scalars(select(User).where(User.email == "resend@example.com")).one()
    assert webapp.auth.accounts.hasher_for_profile(app.config["ARGON2_PROFILE"]).verify(user.password_hash,
                                                                                         SIGNUP_PASSWORD)


def test_send_again_to_an_email_with_an_account_reminds_its_owner(app, db_session, user, mailbox):
    browser = app.test_client()
    register(browser, user.email)
    mailbox.deliver()
    pending = sign_in(browser, user.email, SIGNUP_PASSWORD)
    assert browser.post("/register/resend", data=resend_form(pending)).status_code == 303
    assert [message["subject"] for message in mailbox.messages_to(user.email)] == [
        "You already have an Almanac account"] * 2


def test_send_again_keeps_to_the_mail_limits(app, client, db_session, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_MAIL_PER_EMAIL", "2 per hour")
    register(client, "limited@example.com")
    pending = sign_in(client, "limited@example.com", SIGNUP_PASSWORD)
    assert client.post("/register/resend", data=resend_form(pending)).status_code == 303
    assert client.post("/register/resend", data=resend_form(pending)).status_code == 429
    assert len(mailbox.messages_to("limited@example.com")) == 2


@pytest.mark.parametrize("token", ["", "not-a-token", "InN0cmFuZ2VyQGV4YW1wbGUuY29tIg.Zz.forged"])
def test_send_again_needs_the_token_from_the_sign_in_page(client, db_session, mailbox, token):
    register(client, "stranger@example.com")
    mailbox.deliver()
    csrf = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert client.post("/register/resend", data={"token": token, "csrf_token": csrf}).status_code == 400
    assert len(mailbox.messages_to("stranger@example.com")) == 1  # the registration's own


# Settings


def test_settings_redirects_to_its_first_page(client, user, login):
    login(user)
    response = client.get("/settings/")
    assert response.status_code == 302 and response.location == "/settings/profile"


def test_sessions_moved_from_the_main_navigation_into_the_settings(client, db_session, user, login):
    login(user)
    html = client.get("/settings/sessions").get_data(as_text=True)
    main = html[html.index('id="main-nav"'):html.index("</nav>", html.index('id="main-nav"'))]
    settings = html[html.index('class="settings-nav"'):]
    settings = settings[:settings.index("</nav>")]
    assert "Sessions" not in main
    assert re.search(r'href="/settings/profile"[^>]*aria-current="page"[^>]*>Settings</a>', main)
    assert re.search(r'href="/settings/sessions"[^>]*aria-current="page"[^>]*>Sessions</a>', settings)
    subscribe = client.get("/settings/subscribe").get_data(as_text=True)
    assert re.search(r'href="/settings/profile"[^>]*aria-current="page"[^>]*>Settings</a>', subscribe)
