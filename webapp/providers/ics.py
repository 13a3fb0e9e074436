"""Subscribed iCalendar feeds (https://, http://, webcal://): read-only calendars fetched whole.

Every check is a conditional GET (If-None-Match / If-Modified-Since from the last good copy): a 304 moves no body
and changes nothing. A 200 whose content has the digest of the last copy changes nothing either. Otherwise the
whole file is the calendar: a full listing, whose missing events were removed. A feed may be at most MAX_BYTES
(after gzip, which is asked for) and must arrive within MAX_SECONDS; every address, redirects included, passes the
request forgery guard. The sync token is the copy's SHA-256.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests

from webapp.providers.base import (
    ChangePage,
    Credentials,
    FeedState,
    FeedValidators,
    HttpClient,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    ReadOnly,
    RemoteCalendar,
    RemoteEvent,
)
from webapp.providers.guard import GuardedSession, GuardSettings
from webapp.providers.http import parse_retry_after
from webapp.providers.ical import FeedContents, parse_feed

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 60.0
URL_LIMIT = 1024  # the length of calendar_connections.calendar_id
_ACCEPT = "text/calendar, text/plain;q=0.8, */*;q=0.1"
_CHUNK = 64 * 1024


class FeedError(ProviderError):
    """The feed could not be used; the message is plain words for the page."""

    kind = "feed_error"

    def __init__(self, message: str, *, kind: str, status: int | None = None):
        super().__init__(message, status=status)
        self.kind = kind
        self.reason = message


def feed_url(typed: str) -> str:
    """The address to fetch: webcal:// and webcals:// mean https://; http:// stays only when typed. Raises
    FeedError for anything else, and for an address carrying a user name or password (a subscription holds no
    credentials)."""
    text = typed.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("webcal", "webcals"):
        scheme = "https"
    if scheme not in ("http", "https") or not parts.hostname:
        raise FeedError("Use an https://, http:// or webcal:// address of an iCalendar feed.", kind="bad_address")
    if parts.username or parts.password:
        raise FeedError("Feeds that need a user name and password are not supported: use the feed's private "
                        "address instead.", kind="bad_address")
    url = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    if len(url) > URL_LIMIT:
        raise FeedError(f"The address is longer than {URL_LIMIT} characters.", kind="bad_address")
    return url


@dataclass(frozen=True)
class FeedCopy:
    """What one GET found: `contents` None when the copy we have is still current (304, or the same digest)."""

    status: int
    validators: FeedValidators
    sha256: str | None
    bytes_moved: int
    contents: FeedContents | None


class IcsProvider(HttpClient):
    kind = "ICS"

    def __init__(self, timeout: float = 30.0, guard: GuardSettings | None = None, session: requests.Session | None
                 = None, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS):
        self.session = session or GuardedSession(guard or GuardSettings())
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    def fetch(self, url: str, validators: FeedValidators | None = None, previous_sha256: str | None = None,
              time_zone: str | None = None) -> FeedCopy:
        headers = {"Accept": _ACCEPT}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        deadline = time.monotonic() + self.max_seconds
        try:
            with self.session.get(url, headers=headers, stream=True, timeout=min(self.timeout, self.max_seconds),
                                  allow_redirects=True) as response:
                if response.status_code == 304:
                    return FeedCopy(304, validators or FeedValidators(), previous_sha256, 0, None)
                self._check_status(response)
                body, moved = self._read(response, deadline)
                found = FeedValidators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
        except requests.TooManyRedirects:
            raise FeedError("The feed's address redirected too many times.", kind="too_many_redirects") from None
        except (requests.ConnectionError, requests.Timeout) as error:
            unreachable = ProviderUnreachable(f"The feed could not be reached ({type(error).__name__})")
            unreachable.reason = "The feed could not be reached (the connection failed or timed out)."
            raise unreachable from error
        digest = hashlib.sha256(body).hexdigest()
        if digest == previous_sha256:
            return FeedCopy(200, found, digest, moved, None)
        try:
            contents = parse_feed(body.decode("utf-8", errors="replace"), time_zone or "UTC")
        except ValueError:
            raise FeedError("The address does not serve an iCalendar feed (the file is not iCalendar).",
                            kind="not_icalendar") from None
        return FeedCopy(200, found, digest, moved, contents)

    def _check_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status in (429, 503):
            raise RateLimited(f"The feed's server is busy (HTTP {status})", status=status,
                              retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            trouble = ProviderUnreachable(f"The feed's server had a problem (HTTP {status})", status=status)
            trouble.reason = f"The feed's server had a temporary problem (HTTP {status}); Almanac tries again."
            raise trouble
        if status != 200:
            raise FeedError(f"The feed's server answered HTTP {status} ({response.reason or 'error'}).",
                            kind="feed_http_error", status=status)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes and "gzip" not in response.headers.get(
                "Content-Encoding", ""):
            raise FeedError(self._too_large(), kind="feed_too_large")

    def _read(self, response: requests.Response, deadline: float) -> tuple[bytes, int]:
        """The (decompressed) body, at most max_bytes, before the deadline; and the bytes that crossed the wire."""
        chunks, size = [], 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise FeedError(self._too_large(), kind="feed_too_large")
            if time.monotonic() > deadline:
                raise FeedError(f"The feed took longer than {self.max_seconds:.0f} s to arrive.",
                                kind="feed_too_slow")
            chunks.append(chunk)
        moved = response.raw.tell() if hasattr(response.raw, "tell") else size
        return b"".join(chunks), moved

    def _too_large(self) -> str:
        return f"The feed is larger than {self.max_bytes // (1024 * 1024)} MB."

    # ------------------------------------------------------------------ the Provider interface

    def list_calendars(self, credentials: Credentials) -> list[RemoteCalendar]:
        return []

    def fetch_changes(self, credentials: Credentials, calendar_id: str, sync_token: str | None, page: str | None, *,
                      time_zone: str | None = None) -> ChangePage:
        """One check of the feed at `calendar_id`. Without a sync token (a first or full sync) the GET is
        unconditional, so the answer is always the whole calendar."""
        validators = credentials.validators if sync_token else None
        copy = self.fetch(calendar_id, validators, sync_token, time_zone)
        if copy.contents is None:
            return ChangePage(events=[], removed_ids=[], sync_token=copy.sha256 or sync_token)
        return ChangePage(events=copy.contents.events, removed_ids=[], sync_token=copy.sha256, is_full_listing=True,
                          series_complete=True,
                          feed=FeedState(copy.validators, copy.sha256, copy.status, copy.bytes_moved))

    def create_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        raise ReadOnly("A subscribed feed is read-only")

    def update_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        raise ReadOnly("A subscribed feed is read-only")

    def delete_event(self, credentials: Credentials, calendar_id: str, provider_event_id: str,
                     etag: str | None) -> None:
        raise ReadOnly("A subscribed feed is read-only")

