"""Provider → Almanac: one round of the incremental event sync, with no transaction open while a provider answers.

A round reads what it needs and ends the transaction. Then, page by page: fetch the page (nothing open), store it
in one short transaction (upserts only: a page never deletes) and go on. Removals wait for the end: the last
short transaction applies them behind the deletion guard, stores the new cursor and records the outcome. A round
killed at any point keeps the previous cursor and simply runs again over pages it already stored.

Local changes win until pushed: rows PENDING or FAILED are never overwritten or deleted here. When the provider
changed or removed such an event, the conflict is recorded on the row and the user picks a side.
"""
from __future__ import annotations

import hashlib
import logging
import time
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from webapp import audit, changes
from webapp.credentials import PASSWORD_PROVIDERS, credentials_for, refresh_account, reject_access
from webapp.models import CalendarConnection, CalendarEvent, CalendarProvider, CalendarSubscription, User
from webapp.providers import get_provider
from webapp.providers.base import AuthRejected, ChangePage, FeedState, RemoteEvent, SkippedEvent, SyncTokenExpired
from webapp.sync import conflicts, search_index
from webapp.sync import events as store
from webapp.sync.policy import DeletionGuardTripped, ListingIncomplete, record_success

log = logging.getLogger(__name__)

# A sync that would delete more than this share of a calendar (and at least GUARD_MINIMUM events) stops instead.
GUARD_SHARE = 0.5
GUARD_MINIMUM = 20
MAX_PAGES = 1000
MAX_SKIPPED_AUDITED = 50
# A page of at least this many events leaves its search vectors to webapp.sync.search_index, computed right after the
# round (or by a follow-up job) instead of one by one inside the page's insert; smaller pages are indexed at once.
DEFER_SEARCH_FROM = 50


@dataclass(frozen=True)
class Target:
    """What a round needs from the connection, read once before the first provider call."""

    connection_id: uuid.UUID
    user_id: uuid.UUID
    provider: CalendarProvider
    calendar_id: str
    cursor: str | None
    time_zone: str | None  # the user's: floating CalDAV times fall back to it


class SeenIds:
    """The provider ids a round listed, as 8-byte digests: 0.8 MB for a calendar of 100,000 events instead of the
    11 MB of a set of strings. Two ids sharing a digest (one chance in 2**64 for a pair) would keep an event the
    provider removed; none is ever deleted for it."""

    def __init__(self) -> None:
        self._digests = array("Q")
        self._sorted = True

    def update(self, provider_ids: Iterable[str]) -> None:
        self._digests.extend(_digest(provider_id) for provider_id in provider_ids)
        self._sorted = False

    def __contains__(self, provider_id: str) -> bool:
        if not self._sorted:
            self._digests = array("Q", sorted(self._digests))
            self._sorted = True
        digest = _digest(provider_id)
        at = bisect_left(self._digests, digest)
        return at < len(self._digests) and self._digests[at] == digest

    def __bool__(self) -> bool:
        return bool(self._digests)


def _digest(provider_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(provider_id.encode(), digest_size=8).digest(), "little")


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    pages: int = 0
    conflicts: int = 0
    full_resync: bool = False
    duration_ms: int = 0
    removed: set[str] = field(default_factory=set)  # provider ids the provider said are gone
    seen: SeenIds = field(default_factory=SeenIds)  # provider ids a full listing returned
    stale_overrides: set[uuid.UUID] = field(default_factory=set)
    skipped: list[SkippedEvent] = field(default_factory=list)
    feed: FeedState | None = None  # a subscribed feed's new copy: its validators and digest
    search_deferred: bool = False  # some pages left their search vectors for webapp.sync.search_index

    def counts(self) -> dict:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted, "pages": self.pages,
                "full_resync": self.full_resync, "duration_ms": self.duration_ms, "skipped": len(self.skipped),
                "conflicts": self.conflicts}

    def skipped_details(self) -> list[dict]:
        return [{"id": skip.provider_event_id, "reason": skip.reason} for skip in self.skipped]


def pull_changes(session: Session, connection_id: uuid.UUID, *, full: bool = False,
                 allow_mass_delete: bool = False) -> SyncResult | None:
    """One round for one connection. Returns None when the connection is gone or disconnected (also when that
    happens in the middle of the round)."""
    started = time.monotonic()
    target = read_target(session, connection_id)
    if target is None:
        return None
    credentials = credentials_for(session, connection_id)
    result = SyncResult(full_resync=full or target.cursor is None)
    cursor = None if result.full_resync else target.cursor
    page_token: str | None = None
    refreshed = False
    # The next page is fetched (in a thread of its own) while this one is stored: a round takes about as long as
    # the slower of the two instead of their sum. The store's transaction never waits for the provider: it ends
    # before the next page is awaited.
    with get_provider(target.provider) as provider, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch") as fetcher:

        def fetch(token: str | None) -> Future[ChangePage]:
            return fetcher.submit(provider.fetch_changes, credentials, target.calendar_id, cursor, token,
                                  time_zone=target.time_zone)

        coming = fetch(page_token)
        while True:
            try:
                page = coming.result()
            except AuthRejected:
                if refreshed or target.provider in PASSWORD_PROVIDERS:
                    raise reject_access(session, connection_id) from None
                # An access token can die early (revoked session, clock skew): refresh once and retry the page.
                credentials = type(credentials)(access_token=refresh_account(
                    session, connection_id, rejected_access_token=credentials.access_token))
                refreshed = True
                coming = fetch(page_token)
                continue
            except SyncTokenExpired:
                if cursor is None:
                    raise
                log.info("sync token expired, resyncing in full connection_id=%s", connection_id)
                cursor, page_token, result = None, None, SyncResult(full_resync=True, pages=result.pages,
                                                                    search_deferred=result.search_deferred)
                coming = fetch(page_token)
                continue
            result.pages += 1
            result.full_resync = result.full_resync or page.is_full_listing
            if page.next_page and result.pages < MAX_PAGES:
                coming = fetch(page.next_page)
            if not store_page(session, target, page, result):
                return None
            if not page.next_page:
                break
            if result.pages >= MAX_PAGES:
                # Reconciling against part of a listing would delete the rest: keep everything, say so.
                log.warning("listing cut short connection_id=%s pages=%s", connection_id, result.pages)
                raise ListingIncomplete(result.pages)
            page_token = page.next_page
    return finish(session, target, result, page.sync_token, allow_mass_delete=allow_mass_delete, started=started)


def read_target(session: Session, connection_id: uuid.UUID) -> Target | None:
    row = session.execute(
        select(CalendarConnection.id, CalendarConnection.user_id, CalendarConnection.provider,
               CalendarConnection.calendar_id, CalendarConnection.sync_token, User.time_zone)
        .join(User, User.id == CalendarConnection.user_id)
        .where(CalendarConnection.id == connection_id, CalendarConnection.deleted_at.is_(None),
               CalendarConnection.is_connected.is_(True))
    ).first()
    session.commit()
    return Target(*row) if row else None


def store_page(session: Session, target: Target, page: ChangePage, result: SyncResult) -> bool:
    """One page in one short transaction; False when the connection went away meanwhile. A page without events
    (removals are applied at the end) touches nothing."""
    result.skipped += page.skipped
    result.feed = page.feed or result.feed
    result.seen.update(skip.provider_event_id for skip in page.skipped if skip.provider_event_id)
    result.removed.update(page.removed_ids)
    result.seen.update(event.provider_event_id for event in page.events)
    # Providers that hand out occurrences (Graph) instead of a series we created: the occurrences now stand for
    # it, so our own series row retires instead of being expanded a second time beside them.
    result.removed.update({event.metadata.get("seriesMasterId") for event in page.events} - {None})
    if not page.events:
        return True
    alive = session.scalar(select(CalendarConnection.id).where(
        CalendarConnection.id == target.connection_id, CalendarConnection.deleted_at.is_(None),
        CalendarConnection.is_connected.is_(True)).with_for_update(read=True))
    if alive is None:
        session.rollback()
        return False
    now = datetime.now(UTC)
    before = (result.created, result.updated, result.conflicts)
    held = conflicts.record_pull_conflicts(
        session, target.connection_id, {event.provider_event_id: event for event in page.events}, now)
    result.conflicts += len(held)
    incoming = [event for event in page.events if event.provider_event_id not in held]
    masters = [event for event in incoming if not event.parent_provider_event_id]
    children = [event for event in incoming if event.parent_provider_event_id]
    defer = len(incoming) >= DEFER_SEARCH_FROM
    with search_index.deferred(session) if defer else nullcontext():
        _upsert(session, target, result, [store.as_row(event, None, now) for event in masters])
        parent_ids = store.ids_by_provider_id(session, target.connection_id,
                                              {event.parent_provider_event_id for event in children})
        child_rows = []
        for event in children:
            parent_id = parent_ids.get(event.parent_provider_event_id)
            if parent_id is None and event.status == "CANCELLED":
                continue  # a cancelled instance of a series we do not have: nothing to show or hide
            child_rows.append(store.as_row(event, parent_id, now))
        _upsert(session, target, result, child_rows)
    result.search_deferred = result.search_deferred or defer
    if page.series_complete:
        _find_stale_overrides(session, target, page.events, masters, result)
    if (result.created, result.updated, result.conflicts) != before:
        changes.note_change(session, target.user_id)
    session.commit()
    return True


def _upsert(session: Session, target: Target, result: SyncResult, rows: list[dict]) -> None:
    """All rows in one statement; if the database refuses one, row by row, skipping (and noting) the refused."""
    if not rows:
        return
    try:
        with session.begin_nested():
            created, updated = store.upsert_events(session, target.connection_id, rows)
    except StatementError as error:
        if isinstance(error, OperationalError | InterfaceError):
            raise
        created = updated = 0
        for row in rows:
            try:
                with session.begin_nested():
                    one_created, one_updated = store.upsert_events(session, target.connection_id, [row])
            except StatementError as row_error:
                if isinstance(row_error, OperationalError | InterfaceError):
                    raise
                reason = f"could not be stored ({_database_reason(row_error)})"
                log.warning("skipping an event the database refused provider_event_id=%s reason=%s",
                            row["provider_event_id"], reason)
                result.skipped.append(SkippedEvent(row["provider_event_id"], reason))
                continue
            created, updated = created + one_created, updated + one_updated
    result.created += created
    result.updated += updated


def _database_reason(error: StatementError) -> str:
    """The kind of refusal and the constraint, never the values."""
    original = getattr(error, "orig", None)
    constraint = getattr(getattr(original, "diag", None), "constraint_name", None)
    return type(original or error).__name__ + (f" on {constraint}" if constraint else "")


def _find_stale_overrides(session: Session, target: Target, events: list[RemoteEvent], masters: list[RemoteEvent],
                          result: SyncResult) -> None:
    # Every master, recurring or no longer: a resource rewritten without its overrides (or its rule) drops them.
    listed = {event.provider_event_id for event in events}
    master_ids = store.ids_by_provider_id(session, target.connection_id,
                                          {event.provider_event_id for event in masters})
    for child_id, provider_id in store.children_of(session, list(master_ids.values())):
        if provider_id not in listed:
            result.stale_overrides.add(child_id)


def finish(session: Session, target: Target, result: SyncResult, new_cursor: str | None, *,
           allow_mass_delete: bool, started: float) -> SyncResult | None:
    """The round's last short transaction: removals behind the guard, the cursor, the outcome, the audit row."""
    if _reported_nothing(result) and _record_quiet_success(session, target, new_cursor):
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
    connection = session.get(CalendarConnection, target.connection_id, with_for_update=True, populate_existing=True)
    if connection is None or connection.deleted_at is not None or not connection.is_connected:
        session.rollback()
        return None
    now = datetime.now(UTC)
    conflicts_before = result.conflicts
    apply_deletions(session, connection, result, allow_mass_delete=allow_mass_delete, now=now)
    if result.deleted or result.conflicts != conflicts_before or connection.provider_removed_at is not None:
        changes.note_change(session, connection.user_id)
    if connection.provider_removed_at is not None:
        # A sync the user asked for found the calendar again (shared anew, or the provider's answer was wrong).
        audit.record(session, "CALENDAR_BACK_AT_PROVIDER", user_id=connection.user_id,
                     resource=("calendar_connection", connection.id), provider=connection.provider.value)
    connection.sync_token = new_cursor
    if result.feed is not None:
        _keep_feed_state(session, connection.id, result.feed, now)
    record_success(connection, _still_skipped(connection, result), now)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    details = result.counts()
    if result.skipped:
        details["skipped_events"] = result.skipped_details()[:MAX_SKIPPED_AUDITED]
    audit.record(session, "EVENT_SYNC_SUCCESS", user_id=connection.user_id,
                 resource=("calendar_connection", connection.id), **details)
    session.commit()
    return result


def _keep_feed_state(session: Session, connection_id: uuid.UUID, feed: FeedState, now: datetime) -> None:
    """The subscription's validators and digest move with the copy they describe, in the same transaction."""
    subscription = session.get(CalendarSubscription, connection_id, with_for_update=True)
    if subscription is None:
        subscription = CalendarSubscription(connection_id=connection_id)
        session.add(subscription)
    subscription.etag, subscription.last_modified = feed.validators.etag, feed.validators.last_modified
    subscription.content_sha256, subscription.last_status = feed.sha256, feed.status
    subscription.last_bytes, subscription.last_checked_at = feed.bytes_moved, now


def _reported_nothing(result: SyncResult) -> bool:
    """An incremental round in which the provider listed no event and no removal."""
    return not (result.full_resync or result.seen or result.removed or result.skipped or result.stale_overrides)


def _record_quiet_success(session: Session, target: Target, new_cursor: str | None) -> bool:
    """A round that changed nothing on a healthy connection: the new cursor and the time, in one statement (the
    page must not call the calendar stale) and no audit row. False when the connection is not healthy (its
    recovery is worth an audit row) or gone: the full bookkeeping takes over."""
    now = datetime.now(UTC)
    # Losing this commit in a crash costs only a repeat of a sync that found nothing: no need to wait for the
    # write-ahead log to reach the disk, which is most of this round's time otherwise.
    session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    written = session.execute(
        update(CalendarConnection)
        .where(CalendarConnection.id == target.connection_id, CalendarConnection.deleted_at.is_(None),
               CalendarConnection.is_connected.is_(True), CalendarConnection.sync_failures == 0,
               CalendarConnection.attention_reason.is_(None), CalendarConnection.provider_removed_at.is_(None))
        .values(sync_token=new_cursor, last_synced_at=now, last_attempt_at=now)
        .returning(CalendarConnection.id)
        .execution_options(synchronize_session=False)
    ).first()
    session.commit()
    return written is not None


def _still_skipped(connection: CalendarConnection, result: SyncResult) -> list[dict]:
    """What the page keeps listing as not stored: this round's skips, plus (after an incremental round) earlier
    ones the provider has not changed or removed since."""
    earlier = [] if result.full_resync else [
        entry for entry in connection.skipped_events or []
        if entry.get("id") and entry["id"] not in result.seen and entry["id"] not in result.removed]
    return earlier + result.skipped_details()


def apply_deletions(session: Session, connection: CalendarConnection, result: SyncResult, *,
                    allow_mass_delete: bool, now: datetime) -> None:
    """Removals the provider announced, plus (after a complete full listing) what it no longer has — behind the
    guard. Local changes are never deleted: an announced removal of one becomes a conflict. Only a full listing
    reads every live event; an incremental round reads the ones it was told about."""
    if not (result.removed or result.full_resync or result.stale_overrides):
        return
    announced = dict(store.live_event_ids(session, connection.id, among=result.removed))
    doomed = dict(announced)  # provider id -> row id
    if result.full_resync:
        unidentified = any(skip.provider_event_id is None for skip in result.skipped)
        if unidentified:
            log.warning("not reconciling: the listing had an event without an id connection_id=%s", connection.id)
        else:
            skipped_resources = {skip.provider_event_id for skip in result.skipped}
            for provider_id, row_id in store.live_event_ids(session, connection.id):
                if provider_id not in result.seen and provider_id.split("::")[0] not in skipped_resources:
                    doomed[provider_id] = row_id
    result.conflicts += conflicts.record_remote_removals(session, connection.id, result.removed - set(announced),
                                                         now)
    doomed_ids = list(doomed.values()) + list(result.stale_overrides)
    if not allow_mass_delete and len(doomed_ids) >= GUARD_MINIMUM:
        existing = session.scalar(select(func.count()).select_from(CalendarEvent).where(
            CalendarEvent.calendar_connection_id == connection.id, CalendarEvent.deleted_at.is_(None)))
        if len(doomed_ids) > GUARD_SHARE * existing:
            raise DeletionGuardTripped(len(doomed_ids), existing)
    result.deleted = store.soft_delete(session, connection.id, doomed_ids, now)
