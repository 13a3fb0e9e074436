"""While Redis or PostgreSQL is unreachable, requests that need them get a friendly 503 with Retry-After within a
short bound (a Redis call waits at most 1 s, a database connect at most 2 s), never a 500; sign-in fails closed;
pages that need neither keep working; the app recovers by itself when the dependency is back."""
from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text

from tests.factories import PASSWORD, build_app, make_connection
from tests.helpers import CLOSED_POSTGRES, CLOSED_REDIS, csrf_token_from, frozen, screenshot, wait_for
from webapp.auth.sessions import COOKIE_NAME
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus, LoginSession

HTMX = {"HX-Request": "true"}


@contextmanager
def silent_postgres():
    """A port whose listener accepts TCP connections and never says a word: a database that hangs on connect."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"postgresql://almanac:secret@127.0.0.1:{listener.getsockname()[1]}/almanac"
    finally:
        listener.close()


def assert_unavailable(response, *, partial: bool = False):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    html = response.get_data(as_text=True)
    assert "Almanac is briefly unavailable" in html and "Please try again in a moment" in html
    assert ("<html" in html) is not partial and 'id="error"' in html
    for leak in ("Traceback", "redis.sock", "127.0.0.1", "Error 111", "OperationalError", "secret"):
        assert leak not in html


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def signed_in_client(app, cookie: str):
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, cookie)
    return client


@pytest.fixture
def session_cookie(client, login, user):
    """A real sign-in through the app while everything is up."""
    assert login(user).status_code == 302
    return client.get_cookie(COOKIE_NAME).value


def sessions_of(db_session, user) -> int:
    return db_session.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user.id))


def test_sign_in_fails_closed_while_the_throttle_store_is_frozen(app, db_session, user, redis_server):
    stalled = build_app(app.config["SQLALCHEMY_DATABASE_URI"], redis_server.url)
    browser = stalled.test_client()
    form = {"email": user.email, "password": PASSWORD,
            "csrf_token": csrf_token_from(browser.get("/login").get_data(as_text=True))}
    with frozen(redis_server):
        response, seconds = timed(lambda: browser.post("/login", data=form))
        assert_unavailable(response)
        assert seconds < 1.8, f"sign-in waited {seconds:.1f} s on a frozen Redis"
        assert browser.get_cookie(COOKIE_NAME) is None and sessions_of(db_session, user) == 0
        assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "USER_LOGIN", AuditLog.status == AuditStatus.SUCCESS)) == 0
        # The sign-in page itself needs neither Redis nor the database.
        page, seconds = timed(lambda: browser.get("/login"))
        assert page.status_code == 200 and seconds < 0.5
    # Redis answers again: the same process signs the user in, no restart needed.
    assert browser.post("/login", data=form).status_code == 302
    assert sessions_of(db_session, user) == 1


def test_sign_in_fails_closed_when_redis_refuses_connections(app, db_session, user):
    down = build_app(app.config["SQLALCHEMY_DATABASE_URI"], CLOSED_REDIS)
    browser = down.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    response, seconds = timed(lambda: browser.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}))
    assert_unavailable(response)
    assert seconds < 1 and sessions_of(db_session, user) == 0


def test_with_redis_frozen_database_pages_work_and_queueing_a_sync_answers_503(
        app, db_session, user, session_cookie, redis_server):
    connection = make_connection(db_session, user.id)
    stalled = build_app(app.config["SQLALCHEMY_DATABASE_URI"], redis_server.url)
    browser = signed_in_client(stalled, session_cookie)
    page = browser.get("/", follow_redirects=True)
    token = csrf_token_from(page.get_data(as_text=True))
    with frozen(redis_server):
        week, seconds = timed(lambda: browser.get("/", follow_redirects=True))
        assert week.status_code == 200 and "Ada" in week.get_data(as_text=True) and seconds < 1
        # "Sync now" from the connections page (htmx): the partial, not a page, so the row area is left alone.
        response, seconds = timed(lambda: browser.post(
            f"/connections/{connection.id}/sync", headers=HTMX | {"X-CSRFToken": token}))
        assert_unavailable(response, partial=True)
        assert seconds < 1.8
        # Without JavaScript: the full page, still showing who is signed in (the database is fine).
        response = browser.post(f"/connections/{connection.id}/sync", data={"csrf_token": token})
        assert_unavailable(response)
        assert "Ada" in response.get_data(as_text=True)
    assert browser.post(f"/connections/{connection.id}/sync", headers=HTMX | {"X-CSRFToken": token}
                        ).status_code == 200


def test_with_the_database_down_pages_that_need_it_answer_503_and_the_rest_work(app):
    for down in (build_app(CLOSED_POSTGRES, app.config["REDIS_URL"]), build_app(CLOSED_POSTGRES, CLOSED_REDIS)):
        signed_in = signed_in_client(down, "a-session-token")
        response, seconds = timed(lambda client=signed_in: client.get("/"))
        assert_unavailable(response)
        assert seconds < 1
        assert "Log in" in response.get_data(as_text=True)  # the header did not try to load the user
        assert_unavailable(signed_in.get("/", headers=HTMX), partial=True)
        anonymous = down.test_client()
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/register").status_code == 200
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/static/app.css").status_code == 200
        assert anonymous.get("/readyz").status_code == 503


def test_a_database_that_hangs_on_connect_answers_503_within_its_bound(app):
    with silent_postgres() as url:
        hanging = build_app(url, app.config["REDIS_URL"])
        response, seconds = timed(lambda: signed_in_client(hanging, "a-session-token").get("/"))
    assert_unavailable(response)
    assert 1.5 < seconds < 3.5, f"connect gave up after {seconds:.1f} s"


def test_connections_the_server_dropped_are_replaced_without_a_failed_request(app, clean_database):
    server_side = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"])
    browser = signed_in_client(server_side, "a-session-token")  # unknown token: a session lookup, then /login
    with server_side.app_context():
        database = db.engine.url.database
    for _ in range(3):
        assert browser.get("/").status_code == 302
    # What a PostgreSQL restart does to a pool: every connection the server had is gone.
    with app.app_context(), db.engine.connect() as admin:
        ended = admin.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid() AND backend_type = 'client backend'"),
            {"name": database})
        assert ended >= 1
        # pg_terminate_backend only signals: wait until those backends are gone and their sockets closed, as
        # they are by the time a restarted server answers again.
        def backends_gone() -> bool:
            admin.rollback()  # a fresh view of pg_stat_activity, not the transaction's cached one
            return admin.scalar(text(
                "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"), {"name": database})

        wait_for(backends_gone, 10, "the ended backends gone")
    assert [browser.get("/").status_code for _ in range(5)] == [302] * 5


def test_the_unavailable_page_in_a_browser(app, browser):
    from sandbox.serve import serve_in_thread

    server = serve_in_thread(build_app(app.config["SQLALCHEMY_DATABASE_URI"], CLOSED_REDIS))
    try:
        for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            errors = []
            page.on("console", lambda message, errors=errors: errors.append(message.text)
                    if message.type == "error" and "503" not in message.text else None)
            page.goto(f"{server.url}/login")
            page.fill("input[name=email]", "someone@example.com")
            page.fill("input[name=password]", "any password at all")
            with page.expect_navigation():
                page.click("button[type=submit]")
            assert page.locator("h1").inner_text() == "Almanac is briefly unavailable"
            assert page.locator("#error").get_attribute("data-status") == "503"
            assert errors == []  # the page runs under the strict CSP like every other
            screenshot(page, f"unavailable-503-{name}")
            context.close()
    finally:
        server.stop()


def test_a_connection_lost_after_the_response_was_made_does_not_turn_it_into_a_500(app, clean_database):
    """PostgreSQL restarting between a view's last query and the end of the request: ending the session's
    transaction fails, and that must not replace the finished response."""
    probe = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"])

    def read_then_lose_the_connection():
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))  # leaves the transaction open
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        return "read"

    probe.add_url_rule("/probe", view_func=read_then_lose_the_connection)
    response = probe.test_client().get("/probe")
    assert response.status_code == 200 and response.get_data(as_text=True) == "read"
    assert probe.test_client().get("/probe").status_code == 200  # and the pool hands out a live connection next
