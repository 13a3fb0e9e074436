"""Every page: strict CSP and friends, page-or-partial rendering, friendly error pages."""
from __future__ import annotations

import re

import pytest

from tests.factories import make_config
from webapp import CONTENT_SECURITY_POLICY, create_app
from webapp.config import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"


def assert_security_headers(response):
    policy = response.headers["Content-Security-Policy"]
    # Only form-action may name more (the configured OAuth consent origins); everything else is exact.
    strict = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    sent = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert {k: v for k, v in sent.items() if k != "form-action"} == {
        k: v for k, v in strict.items() if k != "form-action"}
    assert sent["form-action"].startswith("'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_form_action_allows_only_the_configured_consent_origins(app, client):
    policy = client.get("/login").headers["Content-Security-Policy"]
    form_action = next(part for part in policy.split(";") if part.strip().startswith("form-action"))
    google = app.config["PROVIDERS"]["google"]["auth_url"].split("/o/")[0]
    microsoft = app.config["PROVIDERS"]["microsoft"]["authority"].split("/common")[0]
    assert set(form_action.split()[1:]) == {"'self'", google, microsoft}


def test_policy_is_the_strict_one():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_every_page_carries_the_security_headers(app, client, user, login):
    anonymous_pages = ["/login", "/register", "/no-such-page", "/static/app.css"]
    for path in anonymous_pages:
        assert_security_headers(client.get(path))
    login(user)
    rules = [rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments]
    assert len(rules) >= 3
    for rule in rules:
        response = client.get(rule.rule)
        assert response.status_code < 500, rule.rule
        assert_security_headers(response)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
HX_ON = re.compile(r"\bhx-on", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_scripts_or_handlers(template):
    source = template.read_text()
    assert not INLINE_SCRIPT.search(source), "inline <script>"
    assert not EVENT_HANDLER.search(source), "inline event handler"
    assert not HX_ON.search(source), "hx-on needs eval"
    assert not JAVASCRIPT_URL.search(source), "javascript: URL"


def test_htmx_requests_get_the_partial_and_others_the_page(client, user, login):
    login(user)
    page = client.get("/settings/sessions")
    partial = client.get("/settings/sessions", headers={"HX-Request": "true"})
    restore = client.get("/settings/sessions",
                         headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in page.get_data(as_text=True)
    assert partial.get_data(as_text=True).lstrip().startswith('<section id="sessions"')
    assert "<html" in restore.get_data(as_text=True)
    for response in (page, partial):
        assert "HX-Request" in response.headers["Vary"]


def test_navigation_links_keep_href_and_push_url(client, user, login):
    login(user)
    body = client.get("/settings/sessions").get_data(as_text=True)
    link = re.search(r'<a href="/settings/sessions"[^>]*>', body).group(0)
    assert 'hx-get="/settings/sessions"' in link and 'hx-push-url="true"' in link
    assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'[ >]', body)


def test_not_found_page_is_friendly(client):
    response = client.get("/nowhere")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "Page not found" in body and "Traceback" not in body


def test_wrong_method_gets_405_with_allow(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "That action is not allowed here" in response.get_data(as_text=True)


def test_htmx_error_gets_a_partial(client):
    response = client.get("/nowhere", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.get_data(as_text=True).lstrip().startswith('<section id="error"')


def test_unexpected_error_shows_no_internals(app):
    fresh = create_app({"CONFIG": make_config(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"])})

    @fresh.route("/boom-for-test")
    def boom():
        raise RuntimeError("secret-token-abc SELECT * FROM users")

    response = fresh.test_client().get("/boom-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert "secret-token-abc" not in body and "Traceback" not in body and "SELECT" not in body
