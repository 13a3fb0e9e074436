"""Almanac → provider: send one locally created, edited or deleted event, exactly once under retries.

Idempotency comes from the providers: Google inserts use the id we chose, Graph dedupes on transactionId,
CalDAV creates with If-None-Match: *. Updates and deletes carry the etag we last saw; on a 412 the provider's
version wins and the user's lost change is kept in the audit row.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.connections.tokens import credentials_for
from webapp.models import AuditStatus, CalendarConnection, CalendarEvent, SyncStatus
from webapp.providers import get_provider
from webapp.providers.base import NotFound, PreconditionFailed, ProviderError, RemoteEvent
from webapp.sync.events import remote_from_row

log = logging.getLogger(__name__)

PUSHABLE = (SyncStatus.PENDING, SyncStatus.FAILED)


def push_event(session: Session, event_id: uuid.UUID) -> str:
    """Returns what happened: "created", "updated", "deleted", "conflict", or "nothing" (already in sync)."""
    event = session.get(CalendarEvent, event_id, with_for_update=True)
    if event is None or event.sync_status not in PUSHABLE:
        return "nothing"
    connection = session.get(CalendarConnection, event.calendar_connection_id)
    provider = get_provider(connection.provider)
    credentials = credentials_for(session, connection)
    metadata = dict(event.provider_metadata or {})
    try:
        if event.deleted_at is not None:
            if metadata.get("etag") or metadata.get("pushed"):
                provider.delete_event(credentials, connection.calendar_id, event.provider_event_id,
                                      metadata.get("etag"))
            _mark(event, SyncStatus.DELETED, metadata)
            outcome = "deleted"
        elif metadata.get("pushed") or metadata.get("etag"):
            _store_remote(event, provider.update_event(credentials, connection.calendar_id, remote_from_row(event)))
            outcome = "updated"
        else:
            _store_remote(event, provider.create_event(credentials, connection.calendar_id, remote_from_row(event)))
            outcome = "created"
    except PreconditionFailed:
        _record_conflict(session, connection, event)
        outcome = "conflict"
    except NotFound:
        if event.deleted_at is None:
            raise
        _mark(event, SyncStatus.DELETED, metadata)  # already gone at the provider: what we wanted
        outcome = "deleted"
    session.flush()
    log.info("pushed event_id=%s outcome=%s", event_id, outcome)
    return outcome


def record_push_failure(session: Session, event_id: uuid.UUID, failure: ProviderError | Exception) -> None:
    event = session.get(CalendarEvent, event_id)
    if event is None:
        return
    metadata = dict(event.provider_metadata or {})
    metadata["push_error"] = getattr(failure, "kind", "error")
    metadata["push_attempts"] = metadata.get("push_attempts", 0) + 1
    event.provider_metadata = metadata
    event.sync_status = SyncStatus.FAILED
    session.flush()


def retry_push(session: Session, event: CalendarEvent) -> None:
    """The user's Retry button: back to PENDING; the caller queues the push."""
    event.sync_status = SyncStatus.PENDING
    session.flush()


def pending_events(session: Session, connection_id: uuid.UUID) -> list[uuid.UUID]:
    """The seed's Query 2: what still has to reach the provider, oldest first."""
    return list(session.scalars(
        select(CalendarEvent.id)
        .where(CalendarEvent.calendar_connection_id == connection_id,
               CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]))
        .order_by(CalendarEvent.created_at)
    ))


def _store_remote(event: CalendarEvent, remote: RemoteEvent) -> None:
    """What the provider answered: its id (CalDAV names the resource), etag and link."""
    metadata = dict(event.provider_metadata or {})
    metadata.pop("push_error", None)
    metadata.pop("push_attempts", None)
    metadata.update({"etag": remote.etag, "pushed": True, **(remote.metadata or {})})
    if remote.ical_uid:
        metadata["ical_uid"] = remote.ical_uid
    event.provider_event_id = remote.provider_event_id or event.provider_event_id
    if remote.html_link and remote.html_link.startswith(("https://", "http://")):
        event.html_link = remote.html_link
    _mark(event, SyncStatus.SYNCED, metadata)


def _mark(event: CalendarEvent, status: SyncStatus, metadata: dict) -> None:
    event.provider_metadata = metadata
    event.sync_status = status
    event.last_synced_at = datetime.now(UTC)


def _record_conflict(session: Session, connection: CalendarConnection, event: CalendarEvent) -> None:
    """The provider changed the event since we last saw it: its version wins. Keep the user's attempt in the audit
    row and a notice on the event, forget our etag, and drop the cursor: the provider's change was already
    delivered (and skipped while our edit was pending), so only a full round brings it back."""
    lost = {key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in asdict(remote_from_row(event)).items()
            if key in ("title", "start_time", "end_time", "location", "description", "is_all_day")}
    audit.record(session, "EVENT_PUSH_CONFLICT", user_id=connection.user_id, status=AuditStatus.FAILURE,
                 error="precondition_failed", resource=("calendar_event", event.id), lost_change=lost)
    metadata = dict(event.provider_metadata or {})
    metadata["etag"] = None
    metadata["conflict_notice"] = "Someone changed this event elsewhere; their version was kept over your edit."
    _mark(event, SyncStatus.SYNCED, metadata)
    connection.sync_token = None
