"""Behind a TLS-terminating proxy: ProxyFix for the trusted hops, FORCE_HTTPS, and the headers that go with it."""
from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.factories import PASSWORD, make_config
from tests.helpers import csrf_token_from
from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.extensions import db
from webapp.models import AuditLog
from webapp.transport import PERMISSIONS_POLICY


@pytest.fixture
def make_app(app, provider_servers):
    made = []

    def build(**settings):
        config = make_config(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"],
                             provider_servers.settings())
        built = create_app({"CONFIG": dataclasses.replace(config, **settings)})
        made.append(built)
        return built

    yield build
    for built in made:
        with built.app_context():
            db.engine.dispose()


# Over https, flask-wtf also checks that a form was posted from our own pages, as browsers say with Referer.
SAME_ORIGIN = {"Referer": "https://localhost/login"}


def log_in(browser, user, headers=None):
    headers = {**SAME_ORIGIN, **(headers or {})}
    token = csrf_token_from(browser.get("/login", headers=headers).get_data(as_text=True))
    return browser.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                        headers=headers)


def cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_permissions_policy_denies_what_we_do_not_use_and_no_hsts_without_https(client):
    response = client.get("/login")
    policy = response.headers["Permissions-Policy"]
    assert policy == PERMISSIONS_POLICY
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy
    assert "Strict-Transport-Security" not in response.headers
    assert client.get("/static/app.css").headers["Permissions-Policy"] == policy


def test_force_https_sends_hsts_and_host_prefixed_secure_cookies(make_app, db_session, redis, user):
    secure_app = make_app(FORCE_HTTPS=True)
    browser = secure_app.test_client()
    page = browser.get("/login")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    response = log_in(browser, user)
    assert response.status_code == 302
    sent = cookies(response)
    assert set(sent) >= {"__Host-almanac_session", "__Host-almanac_device", "__Host-session"}
    for header in sent.values():
        assert "; Secure" in header and "; Path=/" in header and "Domain=" not in header
    assert "; HttpOnly" in sent["__Host-almanac_session"]
    assert browser.get("/settings/sessions").status_code == 200  # the prefixed cookie is the one read back


def test_force_https_builds_https_oauth_callbacks(make_app, db_session, redis, user):
    secure_app = make_app(FORCE_HTTPS=True)
    browser = secure_app.test_client()
    log_in(browser, user)
    token = csrf_token_from(browser.get("/connections/").get_data(as_text=True))
    response = browser.post("/connections/google/connect", data={"csrf_token": token}, headers=SAME_ORIGIN)
    redirect_uri = parse_qs(urlsplit(response.location).query)["redirect_uri"][0]
    assert redirect_uri == "https://localhost/connections/google/callback"


def test_force_https_sends_plain_http_from_a_trusted_proxy_to_https(make_app, redis):
    secure_app = make_app(FORCE_HTTPS=True, TRUSTED_PROXY_HOPS=1)
    response = secure_app.test_client().get("/login?next=/calendar/agenda", headers={
        "X-Forwarded-Proto": "http", "X-Forwarded-For": "198.51.100.4", "Host": "almanac.example.org"})
    assert response.status_code == 308
    assert response.location == "https://almanac.example.org/login?next=/calendar/agenda"
    forwarded_https = secure_app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert forwarded_https.status_code == 200


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, db_session, redis, user):
    log_in(client, user, headers={"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"})
    entry = db_session.scalars(select(AuditLog).where(AuditLog.action == "USER_LOGIN")).one()
    assert entry.ip_address == "127.0.0.1"


def test_trusted_proxy_hops_give_the_client_address_to_the_audit_log_and_the_throttle(make_app, db_session, redis,
                                                                                      user):
    proxied = make_app(TRUSTED_PROXY_HOPS=1)
    headers = {"X-Forwarded-For": "203.0.113.200, 198.51.100.5", "X-Forwarded-Proto": "https", **SAME_ORIGIN}
    attacker = proxied.test_client()
    token = csrf_token_from(attacker.get("/login").get_data(as_text=True))
    for _ in range(5):
        attacker.post("/login", data={"email": user.email, "password": "wrong", "csrf_token": token},
                      headers=headers)
    rows = db_session.scalars(select(AuditLog).where(AuditLog.action == "USER_LOGIN")).all()
    assert {row.ip_address for row in rows} == {"198.51.100.5"}  # one hop: the last address is the client
    assert attacker.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                         headers=headers).status_code == 429
    # Another client behind the same proxy is not throttled, and the proxy's https reaches the cookies.
    owner = proxied.test_client()
    response = log_in(owner, user, headers={"X-Forwarded-For": "192.0.2.44", "X-Forwarded-Proto": "https"})
    assert response.status_code == 302
    assert "; Secure" in cookies(response)["almanac_session"]


@pytest.mark.parametrize("forwarded", ["not-an-address", "999.1.1.1", "a" * 300, "<script>", ""])
def test_a_broken_forwarded_address_falls_back_to_the_connection(make_app, db_session, redis, user, forwarded):
    proxied = make_app(TRUSTED_PROXY_HOPS=1)
    response = log_in(proxied.test_client(), user, headers={"X-Forwarded-For": forwarded,
                                                             "X-Forwarded-Proto": "gopher"})
    assert response.status_code == 302
    entry = db_session.scalars(select(AuditLog).where(AuditLog.action == "USER_LOGIN")).one()
    assert entry.ip_address == "127.0.0.1"


def test_a_forwarded_host_cannot_choose_our_links_host(make_app, db_session, redis, user):
    proxied = make_app(TRUSTED_PROXY_HOPS=1)
    browser = proxied.test_client()
    log_in(browser, user)
    token = csrf_token_from(browser.get("/connections/").get_data(as_text=True))
    response = browser.post("/connections/google/connect", data={"csrf_token": token},
                            headers={"X-Forwarded-Host": "evil.example", **SAME_ORIGIN})
    assert "evil.example" not in response.location


BASE_ENV = {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "SECRET_KEY": "s",
            "TOKEN_ENCRYPTION_KEYS": "k:x"}


def test_settings_from_the_environment():
    config = Config.from_env({**BASE_ENV, "FORCE_HTTPS": "1", "TRUSTED_PROXY_HOPS": "2",
                              "PUBLIC_URL": "https://almanac.example.org/", "SMTP_URL": "smtps://u:p@mail:465"})
    assert config.TRUSTED_PROXY_HOPS == 2 and config.FORCE_HTTPS and config.SESSION_COOKIE_SECURE
    assert config.PUBLIC_URL == "https://almanac.example.org" and config.ENVIRONMENT == "production"
    flask_config = config.as_flask_config()
    assert flask_config["SESSION_COOKIE_NAME"] == "__Host-session" and flask_config["COOKIE_PREFIX"] == "__Host-"
    plain = Config.from_env({**BASE_ENV, "PORT": "8080"})
    assert plain.TRUSTED_PROXY_HOPS == 0 and plain.PUBLIC_URL == "http://127.0.0.1:8080"
    assert plain.as_flask_config()["SESSION_COOKIE_NAME"] == "session"


@pytest.mark.parametrize(("env", "message"), [
    ({"TRUSTED_PROXY_HOPS": "one"}, "TRUSTED_PROXY_HOPS must be a whole number"),
    ({"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS cannot be negative"),
    ({"SMTP_URL": "http://mail"}, "SMTP_URL must start with smtp://"),
    ({"DATABASE_URL": "postgres://db/x?sslmode=verify-full&sslrootcert=/nowhere/ca.pem"},
     "DATABASE_URL names sslrootcert=/nowhere/ca.pem, but there is no such file"),
])
def test_bad_settings_stop_start_up_with_one_line(env, message):
    with pytest.raises(ConfigError, match=message) as error:
        Config.from_env({**BASE_ENV, **env})
    assert "\n" not in str(error.value)
