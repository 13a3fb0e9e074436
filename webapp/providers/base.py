"""The small interface every calendar provider implements, and the plain values it speaks in.

Provider modules know nothing about our tables: they turn HTTP/CalDAV into these dataclasses and back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from webapp.providers.content import CALENDAR_NAME_LIMIT, clean_event, clean_text


class ProviderError(Exception):
    """A provider call failed; `kind` is a short machine-readable reason safe to store and audit; `reason`, when
    set, is a plain sentence the page may show as it is."""

    kind = "provider_error"
    reason: str | None = None

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class ProviderUnreachable(ProviderError):
    kind = "network_error"


class AuthRejected(ProviderError):
    """401 from an API call: the access token (or Apple password) was not accepted."""

    kind = "auth_rejected"


class InvalidGrant(ProviderError):
    """The refresh token or authorization code is dead; the user must connect again."""

    kind = "invalid_grant"


class SyncTokenExpired(ProviderError):
    """The stored cursor is no longer valid; the caller must resync in full."""

    kind = "sync_token_expired"


class RateLimited(ProviderError):
    kind = "rate_limited"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PreconditionFailed(ProviderError):
    """The etag we sent no longer matches (412): someone else changed the event."""

    kind = "precondition_failed"


class NotFound(ProviderError):
    kind = "not_found"


class CalendarGone(ProviderError):
    """The calendar itself no longer exists for this account: deleted at the provider, or no longer shared with it
    (Google 404 notFound on the calendar, Graph 404 ErrorItemNotFound, CalDAV 404 on the collection)."""

    kind = "calendar_gone"


class ReadOnly(ProviderError):
    """The provider refused a write because this account may only read the calendar (or the event)."""

    kind = "read_only"


class WatchRefused(ProviderError):
    """The provider would not send change notifications to our address (not https, validation failed, ...). The
    message says why in plain words, fit for the connections page."""

    kind = "watch_refused"


@dataclass(frozen=True)
class Channel:
    """A notification channel as the provider answered: its id (Google: ours; Graph: the subscription's), what
    it watches (Google's resourceId, needed to stop it) and when the provider will end it."""

    channel_id: str
    resource_id: str | None
    expires_at: datetime


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None = None


@dataclass(frozen=True)
class FeedValidators:
    """HTTP validators of a feed's last good copy, sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeedState:
    """What a changed feed copy leaves on its subscription: validators, digest, and what the check cost."""

    validators: FeedValidators
    sha256: str | None
    status: int
    bytes_moved: int


@dataclass(frozen=True)
class Credentials:
    """What an API call needs: an OAuth access token, or (CalDAV) a username and password, with the account's
    server when it is not the provider's configured one."""

    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    server_url: str | None = None
    validators: FeedValidators | None = None  # a feed: the last good copy's, for a conditional GET


@dataclass(frozen=True)
class RemoteCalendar:
    calendar_id: str  # Google calendar id, Graph calendar id, or the CalDAV collection URL
    name: str
    color: str | None  # "#rrggbb" or None
    is_primary: bool = False
    can_write: bool = True

    def __post_init__(self) -> None:
        # Cleaned as it is made, like a ChangePage's events (webapp.providers.content).
        object.__setattr__(self, "name", clean_text(self.name, CALENDAR_NAME_LIMIT, one_line=True) or "")


@dataclass
class RemoteEvent:
    provider_event_id: str
    title: str
    start_time: datetime  # aware, UTC; all-day events at 00:00 UTC of their first day
    end_time: datetime  # exclusive; all-day events at 00:00 UTC of the day after their last
    is_all_day: bool = False
    timezone: str = "UTC"  # IANA name
    status: str = "CONFIRMED"  # CONFIRMED | TENTATIVE | CANCELLED
    description: str | None = None
    location: str | None = None
    # Series master: the RRULE/EXDATE/RDATE lines, newline-separated.
    recurrence_rule: str | None = None
    # Override or cancelled occurrence of a series: the master's provider id and the instance's original start.
    parent_provider_event_id: str | None = None
    original_start_time: datetime | None = None
    attendees: list[dict[str, Any]] | None = None  # {email, name, responseStatus, organizer}
    reminders: list[dict[str, Any]] | None = None  # {method, minutes}
    html_link: str | None = None
    etag: str | None = None
    ical_uid: str | None = None
    sequence: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # other provider facts worth keeping (e.g. CalDAV href)
    # Set by create_event when the provider already had the event under our id (an earlier attempt got through):
    # what it answers is then the provider's version, which someone may have changed or deleted since.
    found_existing: bool = False

    @property
    def is_recurring(self) -> bool:
        return bool(self.recurrence_rule)


@dataclass(frozen=True)
class SkippedEvent:
    """An event of a page that cannot be read or stored: its id (None when even that is unknown) and why."""

    provider_event_id: str | None
    reason: str


@dataclass
class ChangePage:
    """One page of changes. `next_page` continues this round; `sync_token` is set only on the last page.

    Building a page cleans its events (see webapp.providers.content): what leaves a provider is safe to store,
    and an event that is not moves to `skipped` instead of stopping the page.
    """

    events: list[RemoteEvent]
    removed_ids: list[str]
    next_page: str | None = None
    sync_token: str | None = None
    # The page lists every event the calendar has, not just changes: what it lacks was removed.
    is_full_listing: bool = False
    # Each series master arrives together with all its overrides (one CalDAV resource), so a stored override
    # that is missing beside its master was removed.
    series_complete: bool = False
    skipped: list[SkippedEvent] = field(default_factory=list)
    # A subscribed feed that changed: what to keep on its subscription with the new copy.
    feed: FeedState | None = None

    def __post_init__(self) -> None:
        usable = []
        for event in self.events:
            reason = clean_event(event)
            if reason:
                self.skipped.append(SkippedEvent(event.provider_event_id or None, reason))
            else:
                usable.append(event)
        self.events = usable


class HttpClient:
    """Session lifetime shared by the provider classes: `with get_provider(kind) as provider: ...`."""

    session: Any

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Provider(Protocol):
    kind: str  # "GOOGLE" | "MICROSOFT" | "APPLE" | "CALDAV" | "ICS"

    def list_calendars(self, credentials: Credentials) -> list[RemoteCalendar]: ...

    def fetch_changes(
        self, credentials: Credentials, calendar_id: str, sync_token: str | None, page: str | None, *,
        time_zone: str | None = None,
    ) -> ChangePage:
        """`time_zone` (the user's) gives floating times a meaning when the calendar names no zone of its own."""

    def create_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent: ...

    def update_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent: ...

    def delete_event(
        self, credentials: Credentials, calendar_id: str, provider_event_id: str, etag: str | None
    ) -> None: ...

    def respond(self, credentials: Credentials, calendar_id: str, event: RemoteEvent, response: str,
                email: str) -> RemoteEvent:
        """The account's answer to an invitation ("accepted", "declined" or "tentative"), the provider's way;
        `event.attendees` already carries it for `email`. Returns the event as the provider has it now."""

    def close(self) -> None:
        """Close the HTTP session; an instance serves one job or one request, never several users."""


class OAuthProvider(Provider, Protocol):
    def authorization_url(self, *, state: str, redirect_uri: str) -> tuple[str, str]:
        """The consent page address and the PKCE code verifier to keep until the callback."""

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet: ...

    def refresh(self, refresh_token: str) -> TokenSet: ...

    def revoke(self, token: str) -> None: ...
