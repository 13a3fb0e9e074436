"""Every admin URL, present and future, is closed to everyone but admins."""
from __future__ import annotations

import uuid

import pytest

from tests.factories import make_user
from tests.helpers import csrf_token_from

SAMPLE_VALUES = {"uuid": lambda: str(uuid.uuid4()), "default": lambda: "sample"}


def admin_urls(app) -> list[tuple[str, str]]:
    """(method, url) for every rule of the admin blueprint, with sample values for its arguments."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        values = {name: SAMPLE_VALUES.get(type(converter).__name__.replace("Converter", "").lower(),
                                          SAMPLE_VALUES["default"])()
                  for name, converter in rule._converters.items()}
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((method, url))
    return urls


def test_the_admin_blueprint_has_pages_and_actions(app):
    methods = {method for method, _ in admin_urls(app)}
    assert methods == {"GET", "POST"}
    assert len(admin_urls(app)) >= 9


def test_non_admins_get_403_on_every_admin_url(app, client, login, db_session):
    member = make_user(db_session)
    login(member)
    app.config["WTF_CSRF_ENABLED"] = False  # a POST must reach the admin check, not stop at the CSRF check
    try:
        for method, url in admin_urls(app):
            response = client.open(url, method=method)
            assert response.status_code == 403, (method, url)
            assert "You do not have access to this page" in response.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def test_anonymous_visitors_are_sent_to_log_in(app, client):
    for method, url in admin_urls(app):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302, url
            assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/audit", "/admin/health", "/admin/users"])
def test_admins_see_the_admin_pages(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert 'aria-label="Admin"' in response.get_data(as_text=True)


def test_admin_nav_link_only_for_admins(client, login, db_session, admin):
    member = make_user(db_session)
    login(member)
    page = client.get("/settings/sessions").get_data(as_text=True)
    assert 'href="/admin/"' not in page
    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    login(admin)
    assert 'href="/admin/"' in client.get("/settings/sessions").get_data(as_text=True)


@pytest.mark.parametrize(("path", "region"), [("/admin/audit", "audit"), ("/admin/health", "health"),
                                               ("/admin/users", "users"), ("/admin/", "admin")])
def test_htmx_gets_the_region_and_a_browser_the_page(admin_client, path, region):
    partial = admin_client.get(path, headers={"HX-Request": "true"})
    assert partial.get_data(as_text=True).lstrip().startswith(f'<section id="{region}"')
    assert "HX-Request" in partial.headers["Vary"]
    page = admin_client.get(path)
    assert page.get_data(as_text=True).lstrip().startswith("<!doctype html>")
