"""Almanac: one week view over Google, Microsoft and Apple calendars."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request

from webapp.config import PROJECT_ROOT, Config, SignupPolicy

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    config = overrides.pop("CONFIG", None) if overrides else None
    app.config.from_mapping((config or Config.from_env()).as_flask_config())
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the cookie session
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)

    from webapp.observability import configure_logging

    configure_logging(app)
    init_secret_box(app)
    init_extensions(app)
    register_blueprints(app)
    register_security_headers(app)
    register_input_guard(app)
    register_template_helpers(app)

    from webapp import errors, heartbeat

    errors.register(app)
    heartbeat.init_app(app)
    wrap_transport(app)
    return app


def register_input_guard(app: Flask) -> None:
    from webapp import budget
    from webapp.forms import reject_control_characters_in_url

    app.before_request(reject_control_characters_in_url)
    app.before_request(lambda: budget.open_budget(app.config["REQUEST_CPU_SECONDS"]))
    app.teardown_request(lambda error: budget.close_budget())


def wrap_transport(app: Flask) -> None:
    from webapp import transport

    app.wsgi_app = transport.wrap(app.wsgi_app, trusted_proxy_hops=app.config["TRUSTED_PROXY_HOPS"],
                                  force_https=app.config["FORCE_HTTPS"])


def init_secret_box(app: Flask) -> None:
    from webapp.config import ConfigError
    from webapp.crypto import KeyConfigError, SecretBox

    try:
        app.extensions["almanac_secret_box"] = SecretBox.from_setting(app.config["TOKEN_ENCRYPTION_KEYS"])
    except KeyConfigError as error:
        raise ConfigError(f"TOKEN_ENCRYPTION_KEYS: {error}") from None


def init_extensions(app: Flask) -> None:
    from webapp import changes, transactions
    from webapp.auth.loader import load_user_from_cookie
    from webapp.extensions import csrf, db, login_manager, migrate, replace_closed_connections

    transactions.install()
    changes.install()
    db.init_app(app)
    with app.app_context():
        replace_closed_connections(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=False)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.request_loader(load_user_from_cookie)


def register_blueprints(app: Flask) -> None:
    from webapp import admin, auth, calendar, connections, ops, settings
    from webapp.admin import views as admin_views  # noqa: F401  (routes attach to their blueprint)
    from webapp.admin.cli import users_cli
    from webapp.auth import views as auth_views  # noqa: F401
    from webapp.calendar import views as calendar_views  # noqa: F401
    from webapp.connections import views as connections_views  # noqa: F401
    from webapp.connections.cli import tokens_cli
    from webapp.settings import views as settings_views  # noqa: F401

    for blueprint in (auth.bp, calendar.bp, connections.bp, settings.bp, admin.bp, ops.bp):
        app.register_blueprint(blueprint)
    register_feature_blueprints(app)
    for command_group in (tokens_cli, users_cli):
        app.cli.add_command(command_group)


def register_feature_blueprints(app: Flask) -> None:
    """Search across calendars, the merged iCalendar feed, live updates of open tabs, and the providers' change
    notifications (which carry no session and so no CSRF token: each must prove itself with its channel's secret)."""
    from webapp import feeds, live, search, webhooks
    from webapp.extensions import csrf
    from webapp.feeds import views as feeds_views  # noqa: F401
    from webapp.live import views as live_views  # noqa: F401
    from webapp.search import views as search_views  # noqa: F401
    from webapp.webhooks import views as webhooks_views  # noqa: F401

    app.register_blueprint(search.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(live.bp)
    csrf.exempt(webhooks.bp)
    app.register_blueprint(webhooks.bp)


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """The strict policy; `form_targets` are origins a form may end up at (Chromium applies form-action to the
    redirect after a POST, and "Connect" posts to us, then redirects to the provider's consent page)."""
    if not form_targets:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", "form-action 'self' " + " ".join(form_targets))


def oauth_origins(providers: dict) -> tuple[str, ...]:
    urls = [providers.get("google", {}).get("auth_url"), providers.get("microsoft", {}).get("authority")]
    origins = {f"{parts.scheme}://{parts.netloc}" for parts in map(urlsplit, filter(None, urls)) if parts.netloc}
    return tuple(sorted(origins))


def register_security_headers(app: Flask) -> None:
    from webapp.transport import PERMISSIONS_POLICY, STRICT_TRANSPORT_SECURITY

    policy = content_security_policy(oauth_origins(app.config["PROVIDERS"]))
    force_https = app.config["FORCE_HTTPS"]

    @app.after_request
    def add_security_headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
        if force_https:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        if request.path.startswith("/static/"):
            return response
        response.headers.setdefault("Cache-Control", "no-store")
        return response


# Top navigation: (endpoint, label); endpoints whose blueprint has no page yet are left out.
NAV_LINKS = (
    ("calendar.home", "Calendar"),
    ("connections.index", "Connections"),
    ("settings.profile", "Settings"),
)
ADMIN_NAV_LINKS = (("admin.index", "Admin"),)


def register_template_helpers(app: Flask) -> None:
    from flask_login import current_user

    from webapp.formatting import exact_time, time_ago

    app.add_template_filter(time_ago)
    app.add_template_filter(exact_time)

    @app.context_processor
    def navigation():
        def nav_links():
            links = NAV_LINKS + (ADMIN_NAV_LINKS if getattr(current_user, "is_admin", False) else ())
            return [(endpoint, label) for endpoint, label in links if endpoint in app.view_functions]

        def connect_providers():
            from webapp.connections.views import CONNECT_PAGES
            from webapp.models import CalendarProvider
            from webapp.providers import LABELS, is_configured

            return [(kind, LABELS[kind], is_configured(kind), CONNECT_PAGES.get(kind)) for kind in CalendarProvider]

        def twelve_hour_clock() -> bool:
            from webapp.calendar.display import uses_twelve_hour

            return uses_twelve_hour()

        return {"nav_links": nav_links, "signup_policy": SignupPolicy(app.config["SIGNUP"]),
                "connect_providers": connect_providers, "twelve_hour_clock": twelve_hour_clock}
