"""`get_provider(kind)` is the only way the rest of the app reaches a provider implementation."""
from __future__ import annotations

from flask import current_app

from webapp.models import CalendarProvider
from webapp.providers.base import Provider

LABELS = {CalendarProvider.GOOGLE: "Google", CalendarProvider.MICROSOFT: "Microsoft Outlook",
          CalendarProvider.APPLE: "Apple iCloud"}
OAUTH_PROVIDERS = (CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT)


def provider_settings(kind: CalendarProvider) -> dict:
    return current_app.config["PROVIDERS"][kind.value.lower()]


def is_configured(kind: CalendarProvider) -> bool:
    """OAuth providers need a registered client; CalDAV needs nothing but the user's password."""
    return kind == CalendarProvider.APPLE or bool(provider_settings(kind)["client_id"])


def get_provider(kind: CalendarProvider | str) -> Provider:
    """A new provider with its own HTTP session, for one job or one request: never shared across users or threads.
    Use it as a context manager (or call close()) so its connections are released."""
    kind = CalendarProvider(kind)
    settings = provider_settings(kind)
    timeout = current_app.config["PROVIDERS"].get("timeout")
    options = {"timeout": timeout} if timeout else {}
    if kind == CalendarProvider.GOOGLE:
        from webapp.providers.google import GoogleProvider

        return GoogleProvider(
            settings["client_id"], settings["client_secret"], auth_url=settings["auth_url"],
            token_url=settings["token_url"], revoke_url=settings["revoke_url"], api_url=settings["api_url"],
            userinfo_url=settings["userinfo_url"], **options,
        )
    if kind == CalendarProvider.MICROSOFT:
        from webapp.providers.microsoft import MicrosoftProvider

        return MicrosoftProvider(
            settings["client_id"], settings["client_secret"], authority=settings["authority"],
            graph_url=settings["graph_url"], **options,
        )
    from webapp.providers.apple import AppleProvider

    return AppleProvider(settings["base_url"], **options)
