"""An event deleted here stays until its provider confirms the deletion.

The user's deletion sets `deletion_requested_at` and leaves the row live (PENDING, then FAILED if the push fails),
so the calendar shows it as being deleted and a conflict it meets can be settled. The deletion is confirmed when
the push succeeds, or when the provider turns out to have removed the event too; only then is the row gone
(deleted_at) — or, for one instance of a series, its override becomes the CANCELLED occurrence the providers keep.
Deleting a series covers its overrides through the master's row: they go when the master's deletion is confirmed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from webapp.models import CalendarEvent, EventStatus, SyncStatus


def is_instance_deletion(event: CalendarEvent) -> bool:
    """A deletion of one instance of a series: the providers cancel the occurrence instead of deleting a row."""
    return event.deletion_requested_at is not None and event.parent_event_id is not None


def confirm(session: Session, event: CalendarEvent, now: datetime) -> None:
    """The provider no longer has the event (or the instance): it leaves Almanac too."""
    event.deletion_requested_at = None
    event.last_synced_at = now
    metadata = {key: value for key, value in (event.provider_metadata or {}).items()
                if key not in ("conflict", "push_error", "push_attempts")}
    event.provider_metadata = metadata
    if event.parent_event_id is not None:
        event.status = EventStatus.CANCELLED
        event.sync_status = SyncStatus.SYNCED
    else:
        event.deleted_at = now
        event.sync_status = SyncStatus.DELETED
        # The overrides went with their series at the provider; their own pending changes are moot now.
        session.execute(
            update(CalendarEvent)
            .where(CalendarEvent.parent_event_id == event.id, CalendarEvent.deleted_at.is_(None))
            .values(deleted_at=now, deletion_requested_at=None, sync_status=SyncStatus.DELETED)
        )
    session.flush()


def withdraw(event: CalendarEvent) -> None:
    """The user kept the provider's version: the event is no longer being deleted."""
    event.deletion_requested_at = None
