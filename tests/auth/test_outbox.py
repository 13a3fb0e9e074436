"""The local outbox lists live sign-up and reset links, so it opens only in development and only to a browser on
this machine: the client's address, after exactly the proxies TRUSTED_PROXY_HOPS names, must be loopback."""
from __future__ import annotations

import pytest

from tests.factories import build_app
from tests.helpers import csrf_token_from
from webapp.extensions import db


def outbox_status(app, peer: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    client = app.test_client()
    return client.get("/dev/outbox", environ_base={"REMOTE_ADDR": peer}, headers=headers).status_code


@pytest.mark.parametrize(("peer", "forwarded_for", "status"), [
    ("127.0.0.1", None, 200),
    ("127.8.9.10", None, 200),
    ("::1", None, 200),
    ("192.0.2.10", None, 404),
    ("10.1.2.3", None, 404),
    ("::ffff:192.0.2.10", None, 404),
    ("127.0.0.1", "203.0.113.5", 404),  # a tunnel or proxy on this machine that the app was not told of
    ("127.0.0.1", "127.0.0.1", 404),
])
def test_without_proxies_only_a_loopback_peer_sees_it(app, redis, peer, forwarded_for, status):
    assert outbox_status(app, peer, forwarded_for) == status


@pytest.fixture(scope="module")
def behind_one_proxy(app):
    proxied = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"], TRUSTED_PROXY_HOPS=1)
    yield proxied
    with proxied.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("forwarded_for", "status"), [
    ("127.0.0.1", 200),  # a browser on the proxy's machine
    ("203.0.113.5", 404),  # the proxy is loopback, its client is not
    ("127.0.0.1, 203.0.113.5", 404),  # the proxy appended the real client after the one the client wrote
    ("203.0.113.5, 127.0.0.1", 404),  # one entry more than the proxies we trust: written by someone else
    ("not-an-address", 404),
    (None, 404),  # it did not come through the proxy
])
def test_behind_a_trusted_proxy_the_client_is_the_one_it_names(behind_one_proxy, redis, forwarded_for, status):
    assert outbox_status(behind_one_proxy, "127.0.0.1", forwarded_for) == status


def test_outside_development_it_is_not_there_even_for_this_machine(app, redis, monkeypatch):
    monkeypatch.setitem(app.config, "ENVIRONMENT", "production")
    assert outbox_status(app, "127.0.0.1") == 404


@pytest.mark.parametrize(("peer", "linked"), [("127.0.0.1", True), ("192.0.2.10", False)])
def test_the_check_your_inbox_page_links_it_only_where_it_opens(app, db_session, redis, user, peer, linked):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
    page = client.post("/forgot-password", data={"email": user.email, "csrf_token": token}, follow_redirects=True)
    assert page.status_code == 200
    assert ('href="/dev/outbox"' in page.get_data(as_text=True)) is linked
