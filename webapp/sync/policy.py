"""What a sync outcome means for a connection: the failure policy (plain reasons, retries, backoff, the
provider's Retry-After) and the bookkeeping the status on the page is read from.

Every failure, whatever its exception, is recorded with a short reason and an audit row. Transient trouble
(network, provider 5xx and throttling, our database or queue briefly away) is retried for as long as it lasts,
never later than the next 5-minute cycle; anything else is retried a few times and then stops until someone
presses Retry, because it would only fail the same way again.
"""
from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from webapp import audit, changes
from webapp.models import AuditStatus, CalendarConnection
from webapp.providers import LABELS
from webapp.providers.base import (
    AuthRejected,
    CalendarGone,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    SyncTokenExpired,
)
from webapp.sync import watch

log = logging.getLogger(__name__)

SYNC_INTERVAL = timedelta(minutes=5)
MAX_SKIPPED_SHOWN = 20


class ListingIncomplete(Exception):
    """The provider's listing ended before its last page (our page cap): nothing was deleted."""

    def __init__(self, pages: int):
        super().__init__(f"listing cut short after {pages} pages")
        self.pages = pages


class DeletionGuardTripped(Exception):
    def __init__(self, would_delete: int, existing: int):
        super().__init__(f"would delete {would_delete} of {existing} events")
        self.would_delete = would_delete
        self.existing = existing

    @property
    def reason(self) -> str:
        return (f"Sync stopped: the provider's answer would have removed {self.would_delete} of "
                f"{self.existing} events. Nothing was deleted. Check the calendar, then resync.")


@dataclass(frozen=True)
class Failure:
    kind: str  # short and machine-readable: the audit row's error
    reason: str  # plain words for the page
    is_transient: bool
    retry_after: float | None = None  # seconds the provider asked us to wait


def classify(error: BaseException, label: str) -> Failure:
    """Any exception a sync can meet, as what happened in plain words (never the provider's text)."""
    if isinstance(error, RateLimited):
        return Failure("rate_limited", f"{label} asked Almanac to slow down.", True, error.retry_after)
    if isinstance(error, ProviderUnreachable):
        if error.reason:
            return Failure(error.kind, error.reason, True)
        if error.status:
            return Failure("provider_unavailable", f"{label} had a temporary problem (HTTP {error.status}).", True)
        return Failure("network_error", f"{label} could not be reached (the connection failed or timed out).",
                       True)
    if isinstance(error, AuthRejected):
        return Failure("auth_rejected", f"{label} did not accept Almanac's access.", False)
    if isinstance(error, CalendarGone):
        return Failure(error.kind, f"{label} no longer has this calendar.", False)
    if isinstance(error, SyncTokenExpired):
        return Failure("sync_token_expired", f"{label} reset the calendar's change history; a full sync follows.",
                       True)
    if isinstance(error, ProviderError):
        status = f" (HTTP {error.status})" if error.status else ""
        transient = bool(error.status and (error.status >= 500 or error.status == 408))
        if error.reason:  # the provider said it in plain words already (a feed's trouble, a refused address)
            return Failure(error.kind, error.reason, transient)
        if error.kind == "foreign_host":
            return Failure(error.kind, "The calendar server pointed Almanac at another site; nothing was sent "
                                       "there.", False)
        return Failure(error.kind, f"{label} answered with an error{status}.", transient)
    if isinstance(error, ListingIncomplete):
        return Failure("listing_incomplete", f"{label}'s listing of this calendar ended early (after "
                                             f"{error.pages} pages); nothing was deleted.", False)
    if isinstance(error, OperationalError | InterfaceError):
        return Failure("database_unavailable", "Almanac's database was unavailable.", True)
    if isinstance(error, RedisError):
        return Failure("queue_unavailable", "Almanac's job queue was unavailable.", True)
    if type(error).__name__ in ("JobTimeoutException", "ShutDownImminentException"):
        return Failure("interrupted", "The sync was interrupted (it ran too long or its worker stopped).", True)
    return Failure("internal_error", f"An unexpected error stopped the sync ({type(error).__name__}).", False)


@dataclass(frozen=True)
class Outcome:
    failure: Failure
    next_attempt_at: datetime | None  # None: retries are exhausted, the sync has stopped
    retry_after_until: datetime | None


def retry_intervals() -> tuple[int, ...]:
    """Seconds before the next attempt after the 1st, 2nd, 3rd… failure in a row (SYNC_RETRY_SECONDS); past
    the last, a failure that is not transient stops the sync."""
    return current_app.config["SYNC_RETRY_SECONDS"]


def next_cycle(now: datetime) -> datetime:
    """When the 5-minute sweep (cron */5, UTC) next runs."""
    step = SYNC_INTERVAL.total_seconds()
    return datetime.fromtimestamp(math.floor(now.timestamp() / step) * step + step, UTC)


def record_failure(session: Session, connection_id: uuid.UUID, error: BaseException,
                   now: datetime | None = None) -> Outcome | None:
    """Note a failed attempt on the connection and in the audit log; returns when to try again. The caller
    rolled back the attempt's own writes and commits this."""
    now = now or datetime.now(UTC)
    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        return None
    failure = classify(error, LABELS[connection.provider])
    failures = connection.sync_failures + 1
    intervals = retry_intervals()
    retry_after_until = None
    if failure.retry_after is not None:
        retry_after_until = now + timedelta(seconds=max(failure.retry_after, 1))
        next_attempt_at = retry_after_until
    elif failure.is_transient or failures <= len(intervals):
        delay = timedelta(seconds=intervals[min(failures, len(intervals)) - 1])
        # Never later than the next cycle, when the sweep would take it up anyway.
        next_attempt_at = min(now + delay, next_cycle(now))
    else:
        next_attempt_at = None
    connection.sync_failures = failures
    connection.last_sync_error = failure.reason
    connection.last_failure_kind = failure.kind
    connection.last_attempt_at = now
    connection.next_attempt_at = next_attempt_at
    connection.retry_after_until = retry_after_until
    audit.record(session, "EVENT_SYNC_FAILURE", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error=failure.kind, resource=("calendar_connection", connection.id), failures=failures,
                 reason=failure.reason, transient=failure.is_transient,
                 next_attempt_at=next_attempt_at.isoformat() if next_attempt_at else None)
    session.flush()
    log.warning("sync failed connection_id=%s kind=%s failures=%s next_attempt_at=%s", connection_id, failure.kind,
                failures, next_attempt_at)
    return Outcome(failure, next_attempt_at, retry_after_until)


def record_removed(session: Session, connection_id: uuid.UUID, *, found_by: str,
                   now: datetime | None = None) -> bool:
    """The provider no longer has the calendar for this account (deleted there, or unshared): no more retries,
    the page says so, and the detection is audited once. `found_by`: "sync" or "push". Returns whether it is news.
    The caller commits."""
    now = now or datetime.now(UTC)
    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        return False
    connection.last_attempt_at = now
    connection.next_attempt_at = connection.retry_after_until = None
    connection.sync_failures = 0
    connection.last_sync_error = connection.last_failure_kind = None
    if connection.provider_removed_at is not None:
        session.flush()
        return False
    connection.provider_removed_at = now
    watch.release(session, connection, keep_token=False, now=now)
    changes.note_change(session, connection.user_id)
    audit.record(session, "CALENDAR_REMOVED_AT_PROVIDER", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error="calendar_gone", resource=("calendar_connection", connection.id),
                 provider=connection.provider.value, found_by=found_by)
    session.flush()
    log.warning("calendar removed at the provider connection_id=%s found_by=%s", connection_id, found_by)
    return True


def record_success(connection: CalendarConnection, skipped: list[dict], now: datetime) -> None:
    connection.provider_removed_at = None
    connection.last_synced_at = connection.last_attempt_at = now
    connection.sync_failures = 0
    connection.last_sync_error = connection.last_failure_kind = connection.attention_reason = None
    connection.next_attempt_at = connection.retry_after_until = None
    connection.skipped_events = skipped[:MAX_SKIPPED_SHOWN] or None


def record_guard(session: Session, connection_id: uuid.UUID, tripped: DeletionGuardTripped,
                 now: datetime | None = None) -> None:
    """After the round's final writes were rolled back: park the connection until someone looks."""
    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        return
    connection.attention_reason = tripped.reason
    connection.last_attempt_at = now or datetime.now(UTC)
    audit.record(session, "EVENT_SYNC_FAILURE", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error="deletion_guard", resource=("calendar_connection", connection.id),
                 would_delete=tripped.would_delete, existing=tripped.existing)
    session.flush()
