"""`get_provider(kind)` is the only way the rest of the app reaches a provider implementation: one registry entry
per provider, with its label and how to build it from its settings."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from webapp.models import CalendarProvider
from webapp.providers.base import Provider
from webapp.providers.guard import GuardSettings


@dataclass(frozen=True)
class Registered:
    label: str
    build: Callable[[dict, dict], Provider]  # (its settings, shared options: timeout, guard) -> a new provider
    is_oauth: bool = False
    is_read_only: bool = False  # every calendar of it is read-only (a subscribed feed)


def _google(settings: dict, options: dict) -> Provider:
    from webapp.providers.google import GoogleProvider

    return GoogleProvider(
        settings["client_id"], settings["client_secret"], auth_url=settings["auth_url"],
        token_url=settings["token_url"], revoke_url=settings["revoke_url"], api_url=settings["api_url"],
        userinfo_url=settings["userinfo_url"], **_timeout(options))


def _microsoft(settings: dict, options: dict) -> Provider:
    from webapp.providers.microsoft import MicrosoftProvider

    return MicrosoftProvider(settings["client_id"], settings["client_secret"], authority=settings["authority"],
                             graph_url=settings["graph_url"], **_timeout(options))


def _apple(settings: dict, options: dict) -> Provider:
    from webapp.providers.apple import AppleProvider

    return AppleProvider(settings["base_url"], **options)


def _caldav(settings: dict, options: dict) -> Provider:
    from webapp.providers.caldav import CalDavProvider

    return CalDavProvider(**options)


def _ics(settings: dict, options: dict) -> Provider:
    from webapp.providers.ics import IcsProvider

    return IcsProvider(**options)


def _timeout(options: dict) -> dict:
    return {"timeout": options["timeout"]} if "timeout" in options else {}


REGISTRY: dict[CalendarProvider, Registered] = {
    CalendarProvider.GOOGLE: Registered("Google", _google, is_oauth=True),
    CalendarProvider.MICROSOFT: Registered("Microsoft Outlook", _microsoft, is_oauth=True),
    CalendarProvider.APPLE: Registered("Apple iCloud", _apple),
    CalendarProvider.CALDAV: Registered("CalDAV", _caldav),
    CalendarProvider.ICS: Registered("Subscription", _ics, is_read_only=True),
}
LABELS = {kind: entry.label for kind, entry in REGISTRY.items()}
OAUTH_PROVIDERS = tuple(kind for kind, entry in REGISTRY.items() if entry.is_oauth)


def provider_settings(kind: CalendarProvider) -> dict:
    return current_app.config["PROVIDERS"].get(kind.value.lower(), {})


def is_configured(kind: CalendarProvider) -> bool:
    """OAuth providers need a registered client; CalDAV and feeds need nothing but what the user gives."""
    return not REGISTRY[kind].is_oauth or bool(provider_settings(kind).get("client_id"))


def guard_settings() -> GuardSettings:
    """The request forgery guard as this deployment runs it (ALLOW_PRIVATE_SOURCES)."""
    return GuardSettings(allow_private=bool(current_app.config["PROVIDERS"].get("allow_private_sources")))


def get_provider(kind: CalendarProvider | str) -> Provider:
    """A new provider with its own HTTP session, for one job or one request: never shared across users or threads.
    Use it as a context manager (or call close()) so its connections are released."""
    kind = CalendarProvider(kind)
    timeout = current_app.config["PROVIDERS"].get("timeout")
    options: dict = {"timeout": timeout} if timeout else {}
    if kind not in OAUTH_PROVIDERS:
        options["guard"] = guard_settings()
    return REGISTRY[kind].build(provider_settings(kind), options)
