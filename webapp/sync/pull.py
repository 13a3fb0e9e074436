"""Provider → Almanac: the seed's incremental event sync, made safe to retry and to crash in the middle.

Everything one run writes (events, the new cursor, last_synced_at, the audit row) is flushed into the caller's
transaction, so a run killed at any point leaves the previous state and simply runs again.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.connections.tokens import credentials_for, refresh_account
from webapp.models import AuditStatus, CalendarConnection, CalendarEvent
from webapp.providers import get_provider
from webapp.providers.base import AuthRejected, ChangePage, Credentials, SyncTokenExpired
from webapp.sync import events as store

log = logging.getLogger(__name__)

# A sync that would delete more than this share of a calendar (and at least GUARD_MINIMUM events) stops instead.
GUARD_SHARE = 0.5
GUARD_MINIMUM = 20
MAX_PAGES = 1000


class DeletionGuardTripped(Exception):
    def __init__(self, would_delete: int, existing: int):
        super().__init__(f"would delete {would_delete} of {existing} events")
        self.would_delete = would_delete
        self.existing = existing

    @property
    def reason(self) -> str:
        return (f"Sync stopped: the provider's answer would have removed {self.would_delete} of "
                f"{self.existing} events. Nothing was deleted. Check the calendar, then resync.")


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    pages: int = 0
    full_resync: bool = False
    duration_ms: int = 0
    removed: set[str] = field(default_factory=set)  # provider ids the provider said are gone
    seen: set[str] = field(default_factory=set)  # provider ids a full listing returned
    stale_overrides: set[uuid.UUID] = field(default_factory=set)

    def counts(self) -> dict:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted, "pages": self.pages,
                "full_resync": self.full_resync, "duration_ms": self.duration_ms}


def pull_changes(session: Session, connection_id: uuid.UUID, *, full: bool = False,
                 allow_mass_delete: bool = False) -> SyncResult | None:
    """One round for one connection. Returns None when the connection is gone or disconnected."""
    started = time.monotonic()
    connection = session.get(CalendarConnection, connection_id, with_for_update=True)
    if connection is None or connection.deleted_at is not None or not connection.is_connected:
        return None
    provider = get_provider(connection.provider)
    credentials = credentials_for(session, connection)
    result = SyncResult(full_resync=full or connection.sync_token is None)
    cursor = None if result.full_resync else connection.sync_token
    page_token: str | None = None
    refreshed = False
    while True:
        try:
            page = provider.fetch_changes(credentials, connection.calendar_id, cursor, page_token)
        except AuthRejected:
            if refreshed or connection.refresh_token is None:
                raise
            # An access token can die early (revoked session, clock skew): refresh once and retry the page.
            credentials, refreshed = Credentials(access_token=refresh_account(session, connection)), True
            continue
        except SyncTokenExpired:
            if cursor is None:
                raise
            log.info("sync token expired, resyncing in full connection_id=%s", connection_id)
            cursor, page_token, result = None, None, SyncResult(full_resync=True, pages=result.pages)
            continue
        result.pages += 1
        if page.is_full_listing:
            result.full_resync = True
        apply_page(session, connection, page, result)
        if page.next_page and result.pages < MAX_PAGES:
            page_token = page.next_page
            continue
        new_cursor = page.sync_token
        break
    apply_deletions(session, connection, result, allow_mass_delete=allow_mass_delete)
    now = datetime.now(UTC)
    connection.sync_token = new_cursor
    connection.last_synced_at = now
    connection.sync_failures = 0
    connection.last_sync_error = connection.attention_reason = None
    result.duration_ms = int((time.monotonic() - started) * 1000)
    audit.record(session, "EVENT_SYNC_SUCCESS", user_id=connection.user_id,
                 resource=("calendar_connection", connection.id), **result.counts())
    session.flush()
    return result


def apply_page(session: Session, connection: CalendarConnection, page: ChangePage, result: SyncResult) -> None:
    now = datetime.now(UTC)
    masters = [event for event in page.events if not event.parent_provider_event_id]
    children = [event for event in page.events if event.parent_provider_event_id]
    created, updated = store.upsert_events(
        session, connection.id, [store.as_row(event, connection.id, None, now) for event in masters])
    parent_ids = store.ids_by_provider_id(session, connection.id,
                                          {event.parent_provider_event_id for event in children})
    child_rows = []
    for event in children:
        parent_id = parent_ids.get(event.parent_provider_event_id)
        if parent_id is None and event.status == "CANCELLED":
            continue  # a cancelled instance of a series we do not have: nothing to show or hide
        child_rows.append(store.as_row(event, connection.id, parent_id, now))
    more_created, more_updated = store.upsert_events(session, connection.id, child_rows)
    result.created += created + more_created
    result.updated += updated + more_updated
    result.removed.update(page.removed_ids)
    result.seen.update(event.provider_event_id for event in page.events)
    # Providers that hand out occurrences (Graph) instead of a series we created: the occurrences now stand for
    # it, so our own series row retires instead of being expanded a second time beside them.
    series_ids = {event.metadata.get("seriesMasterId") for event in page.events} - {None}
    result.removed.update(series_ids)
    if page.series_complete:
        listed = {event.provider_event_id for event in page.events}
        master_ids = store.ids_by_provider_id(session, connection.id,
                                              {event.provider_event_id for event in masters if event.is_recurring})
        for child_id, provider_id in store.children_of(session, list(master_ids.values())):
            if provider_id not in listed:
                result.stale_overrides.add(child_id)


def apply_deletions(session: Session, connection: CalendarConnection, result: SyncResult, *,
                    allow_mass_delete: bool) -> None:
    """Removals the provider announced, plus (after a full listing) what it no longer has — behind the guard."""
    live = store.live_event_ids(session, connection.id)
    doomed = {provider_id for provider_id in result.removed if provider_id in live}
    if result.full_resync:
        doomed |= {provider_id for provider_id in live if provider_id not in result.seen}
    doomed_ids = [live[provider_id] for provider_id in doomed] + list(result.stale_overrides)
    existing = session.scalar(select(func.count()).select_from(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection.id, CalendarEvent.deleted_at.is_(None)))
    if (not allow_mass_delete and len(doomed_ids) >= GUARD_MINIMUM
            and len(doomed_ids) > GUARD_SHARE * existing):
        raise DeletionGuardTripped(len(doomed_ids), existing)
    result.deleted = store.soft_delete(session, connection.id, doomed_ids, datetime.now(UTC))


def record_guard(session: Session, connection: CalendarConnection, tripped: DeletionGuardTripped) -> None:
    """After the run's own writes were rolled back: park the connection until someone looks."""
    connection.attention_reason = tripped.reason
    audit.record(session, "EVENT_SYNC_FAILURE", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error="deletion_guard", resource=("calendar_connection", connection.id),
                 would_delete=tripped.would_delete, existing=tripped.existing)
    session.flush()


def record_failure(session: Session, connection: CalendarConnection, kind: str, message: str) -> None:
    connection.sync_failures += 1
    connection.last_sync_error = message
    audit.record(session, "EVENT_SYNC_FAILURE", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error=kind, resource=("calendar_connection", connection.id), failures=connection.sync_failures)
    session.flush()
