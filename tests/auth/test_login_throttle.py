"""Sign-in throttling: strangers' failures slow down guessing but never lock the owner out."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token_from
from webapp.models import AuditLog


def browser_at(app, address: str):
    """A test client whose requests come from `address`."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def attempt(browser, email: str, password: str):
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    return browser.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_five_failures_pause_that_address_but_the_owner_elsewhere_still_signs_in(app, db_session, redis, user):
    attacker = browser_at(app, "203.0.113.66")
    for _ in range(5):
        assert attempt(attacker, user.email, "wrong password").status_code == 422
    refused = attempt(attacker, user.email, PASSWORD)  # even the right password waits, from there
    assert refused.status_code == 429
    assert 800 < int(refused.headers["Retry-After"]) <= 900
    body = refused.get_data(as_text=True)
    assert "Try again in 15 minutes" in body
    assert "Back to your calendar" not in body and "Go to the log-in page" in body and "/forgot-password" in body
    rate_limited = db_session.scalars(select(AuditLog).where(AuditLog.error_message == "rate_limited")).all()
    assert [row.ip_address for row in rate_limited] == ["203.0.113.66"]

    owner = browser_at(app, "198.51.100.7")  # another network, never failing
    assert attempt(owner, user.email, PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_paused(app, db_session, redis, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ADDRESS", "3 per 15 minutes")
    users = [make_user(db_session) for _ in range(4)]
    sprayer = browser_at(app, "203.0.113.9")
    for victim in users[:3]:
        assert attempt(sprayer, victim.email, "wrong password").status_code == 422
    assert attempt(sprayer, users[3].email, PASSWORD).status_code == 429
    assert attempt(browser_at(app, "198.51.100.8"), users[3].email, PASSWORD).status_code == 302


def test_many_addresses_guessing_one_account_slow_it_down_for_seconds_only(app, db_session, redis, user,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_DELAY_AFTER", 3)
    for n in range(4):  # each bot fails once: no (account, address) pair ever gets close to its limit
        assert attempt(browser_at(app, f"192.0.2.{n + 1}"), user.email, "wrong password").status_code == 422
    owner = browser_at(app, "198.51.100.30")
    waiting = attempt(owner, user.email, PASSWORD)
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    assert "Try again in 1 second." in waiting.get_data(as_text=True)
    time.sleep(1.1)
    assert attempt(owner, user.email, PASSWORD).status_code == 302


def test_delay_doubles_and_is_capped(app, db_session, redis, user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_DELAY_AFTER", 2)
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_DELAY_MAX_SECONDS", 8)
    waits = []
    for n in range(7):
        redis.delete(*redis.keys("ratelimit:login:delay:*") or ["none"])
        attempt(browser_at(app, f"192.0.2.{n + 1}"), user.email, "wrong password")
        waits.append(redis.pttl(next(iter(redis.keys("ratelimit:login:delay:*")), "none")))
    seconds = [round(ms / 1000) if ms > 0 else 0 for ms in waits]
    assert seconds == [0, 0, 1, 2, 4, 8, 8]


def test_account_ceiling_stops_strangers_but_not_a_browser_that_signed_in_before(app, db_session, redis, user,
                                                                               monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ACCOUNT", "6 per hour")
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_DELAY_AFTER", 100)
    laptop = browser_at(app, "198.51.100.20")
    assert attempt(laptop, user.email, PASSWORD).status_code == 302  # the owner's laptop gets a device cookie
    laptop.post("/logout", data={"csrf_token": csrf_token_from(laptop.get("/settings/sessions").get_data(
        as_text=True))})
    for n in range(6):
        assert attempt(browser_at(app, f"192.0.2.{n + 1}"), user.email, "wrong password").status_code == 422
    stranger = attempt(browser_at(app, "192.0.2.200"), user.email, PASSWORD)
    assert stranger.status_code == 429 and 3500 < int(stranger.headers["Retry-After"]) <= 3600
    assert attempt(laptop, user.email, PASSWORD).status_code == 302

    other = make_user(db_session)  # the cookie vouches for its own account only
    for n in range(6):
        attempt(browser_at(app, f"192.0.2.{n + 50}"), other.email, "wrong password")
    laptop.post("/logout", data={"csrf_token": csrf_token_from(laptop.get("/settings/sessions").get_data(
        as_text=True))})
    assert attempt(laptop, other.email, PASSWORD).status_code == 429


def known_browser(app, address: str, user):
    """A browser at `address` that signed in to `user`'s account before (it keeps the device cookie), signed out."""
    browser = browser_at(app, address)
    assert attempt(browser, user.email, PASSWORD).status_code == 302
    browser.post("/logout", data={"csrf_token": csrf_token_from(browser.get("/settings/sessions").get_data(
        as_text=True))})
    return browser


def test_colleagues_behind_the_same_nat_cannot_lock_out_a_browser_that_signed_in_before(app, db_session, redis,
                                                                                       user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ADDRESS", "8 per 15 minutes")
    office = "198.51.100.40"
    laptop = known_browser(app, office, user)
    colleagues = browser_at(app, office)
    for _ in range(5):
        assert attempt(colleagues, user.email, "wrong password").status_code == 422
    for other in [make_user(db_session) for _ in range(3)]:
        assert attempt(colleagues, other.email, "wrong password").status_code == 422
    # Both the (account, office) pair and the office's address are paused now, for browsers without the cookie.
    assert attempt(colleagues, user.email, PASSWORD).status_code == 429

    assert attempt(laptop, user.email, PASSWORD).status_code == 302


def test_browsers_that_signed_in_before_share_a_per_account_limit_that_nobody_else_fills(app, db_session, redis,
                                                                                        user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ACCOUNT_ON_KNOWN_BROWSERS", "3 per 15 minutes")
    laptop, phone = known_browser(app, "198.51.100.41", user), known_browser(app, "203.0.113.77", user)
    for _ in range(3):
        assert attempt(laptop, user.email, "wrong password").status_code == 422

    refused = attempt(phone, user.email, PASSWORD)  # another address, the same account: the same count
    assert refused.status_code == 429 and 800 < int(refused.headers["Retry-After"]) <= 900
    # A browser without the cookie is counted apart, so the owner's typos do not pause it either.
    assert attempt(browser_at(app, "192.0.2.5"), user.email, PASSWORD).status_code == 302


def test_a_forged_device_cookie_vouches_for_nothing(app, db_session, redis, user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_PER_ACCOUNT", "2 per hour")
    for n in range(2):
        attempt(browser_at(app, f"192.0.2.{n + 1}"), user.email, "wrong password")
    forger = browser_at(app, "192.0.2.99")
    forger.set_cookie("almanac_device", "eyJhIjoiYiJ9.forged.signature")
    assert attempt(forger, user.email, PASSWORD).status_code == 429


@pytest.mark.parametrize("password", ["wrong password", PASSWORD])
def test_unknown_emails_are_throttled_exactly_like_real_ones(app, db_session, redis, user, password):
    real, unknown = browser_at(app, "203.0.113.1"), browser_at(app, "203.0.113.2")
    statuses = {"real": [], "unknown": []}
    for _ in range(6):
        statuses["real"].append(attempt(real, user.email, "wrong password").status_code)
        statuses["unknown"].append(attempt(unknown, "nobody-here@example.com", "wrong password").status_code)
    assert statuses["real"] == statuses["unknown"] == [422] * 5 + [429]


def test_a_signed_in_visitor_gets_a_429_page_that_leads_back_to_the_calendar(app, client, db_session, redis, user,
                                                                            login, monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_MAIL_PER_EMAIL", "1 per hour")
    login(user)
    for expected in (303, 429):
        token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
        response = client.post("/forgot-password", data={"email": user.email, "csrf_token": token})
        assert response.status_code == expected
    body = response.get_data(as_text=True)
    assert "Back to your calendar" in body and "Go to the log-in page" not in body
    assert "sent enough mail for now" in body
