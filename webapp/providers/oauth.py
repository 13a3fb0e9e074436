"""The OAuth 2.0 authorization-code flow with PKCE (S256), shared by Google and Microsoft, through
requests_oauthlib.OAuth2Session.

oauthlib refuses plain http unless OAUTHLIB_INSECURE_TRANSPORT is set; only the sandbox and the test processes set
it, for the emulators on 127.0.0.1. `require_secure` below refuses http to any other host even then, so a
misconfigured endpoint fails loudly instead of sending a client secret in the clear.
"""
from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from webapp.providers.base import ProviderError, ProviderUnreachable, TokenSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OAuthClient:
    """One registered app at one identity provider. `failure` turns a non-200 token answer into the
    provider's ProviderError subclass (InvalidGrant, RateLimited, ...)."""

    label: str  # "Google", "Microsoft": for error messages
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scopes: Sequence[str]
    failure: Callable[[requests.Response], ProviderError]
    timeout: float
    # Microsoft wants the scopes on every token request; Google takes them from the grant.
    scopes_in_token_requests: bool = False


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return
    raise ProviderError(f"OAuth endpoint {parts.scheme}://{parts.hostname} must use https")


def authorization_url(client: OAuthClient, *, state: str, redirect_uri: str, **extra: str) -> tuple[str, str]:
    """The consent page address and the PKCE code verifier behind its challenge (the caller keeps the verifier
    server-side until the callback)."""
    require_secure(client.authorize_url)
    oauth_client = WebApplicationClient(client.client_id)
    with OAuth2Session(client=oauth_client, redirect_uri=redirect_uri, scope=list(client.scopes),
                       pkce="S256") as session:
        try:
            url, _ = session.authorization_url(client.authorize_url, state=state, **extra)
        except OAuth2Error as exc:  # InsecureTransportError: plain http without OAUTHLIB_INSECURE_TRANSPORT
            raise ProviderError(f"{client.label} authorization endpoint: {exc.error}") from None
    return url, oauth_client.code_verifier


def exchange_code(client: OAuthClient, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
    scope = {"scope": list(client.scopes)} if client.scopes_in_token_requests else {}
    with _token_session(client, redirect_uri) as session:
        token = _call(client, lambda: session.fetch_token(
            client.token_url, code=code, code_verifier=code_verifier, client_secret=client.client_secret,
            include_client_id=True, timeout=client.timeout, **scope))
    return _token_set(client, token, previous_refresh_token=None)


def refresh(client: OAuthClient, refresh_token: str) -> TokenSet:
    """A fresh access token. A provider that rotates refresh tokens sends a new one; one that does not (Google)
    sends none, and the old one stays good."""
    with _token_session(client) as session:
        token = _call(client, lambda: session.refresh_token(
            client.token_url, refresh_token=refresh_token, client_id=client.client_id,
            client_secret=client.client_secret, timeout=client.timeout))
    return _token_set(client, token, previous_refresh_token=refresh_token)


def _token_session(client: OAuthClient, redirect_uri: str | None = None) -> OAuth2Session:
    require_secure(client.token_url)
    # The granted scopes are checked by us (Google's granular consent, see google.missing_scopes); oauthlib must not
    # reject an answer whose scope differs from the request ("email" comes back as ".../userinfo.email").
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    session = OAuth2Session(client=WebApplicationClient(client.client_id), redirect_uri=redirect_uri,
                            scope=list(client.scopes) if client.scopes_in_token_requests else None)

    def reject_failures(response: requests.Response) -> requests.Response:
        if response.status_code != 200:
            raise client.failure(response)
        return response

    session.register_compliance_hook("access_token_response", reject_failures)
    session.register_compliance_hook("refresh_token_response", reject_failures)
    return session


def _call(client: OAuthClient, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fetch()
    except requests.RequestException as exc:
        log.warning("token request failed provider=%s error=%s", client.label, type(exc).__name__)
        raise ProviderUnreachable(f"{client.label} token endpoint unreachable: {type(exc).__name__}") from None
    except OAuth2Error as exc:  # a 200 answer that is not a usable token; the description may echo the request
        raise ProviderError(f"{client.label} token endpoint: {exc.error}") from None
    except ValueError:
        raise ProviderError(f"{client.label} token endpoint: unreadable answer") from None


def _token_set(client: OAuthClient, token: dict[str, Any], previous_refresh_token: str | None) -> TokenSet:
    if not token.get("access_token"):
        raise ProviderError(f"{client.label} token endpoint: no access_token in the response")
    expires_at = token.get("expires_at")
    scope = token.get("scope")
    return TokenSet(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or previous_refresh_token,
        expires_at=datetime.fromtimestamp(float(expires_at), UTC) if expires_at is not None else None,
        scope=" ".join(scope) if isinstance(scope, list | tuple) else scope,
    )
