"""A local change and a provider change to the same event: recorded on the row, settled by the user.

`provider_metadata["conflict"]` holds what the provider has now ({"remote": fields or None, "etag": …,
"remote_deleted": bool, "detected_at": …}). While it is there the local version stays PENDING and is not pushed;
the event panel offers "Keep mine" (push ours over theirs) and "Take theirs" (replace ours) — for an event
deleted here, "Delete anyway" and "Keep theirs". A conflict a push discovered (412) has no remote fields yet: the
next pull fills them in. Deleted on both sides is no conflict: the deletion is confirmed.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.models import AuditStatus, CalendarConnection, CalendarEvent, EventStatus, SyncStatus
from webapp.providers import LABELS
from webapp.providers.base import RemoteEvent
from webapp.sync import deletions
from webapp.sync.events import local_changes
from webapp.sync.status import clock

# The fields the event panel compares and "Take theirs" applies.
COMPARED_FIELDS = ("title", "description", "location", "start_time", "end_time", "is_all_day", "timezone", "status")
DATETIME_FIELDS = ("start_time", "end_time")


@dataclass(frozen=True)
class ConflictView:
    """What the event panel says about a conflict: whose side changed what."""

    provider: str
    remote_deleted: bool
    title: str | None = None  # theirs, when known
    when: str | None = None
    local_deleted: bool = False  # ours is a deletion
    can_resolve: bool = True  # the calendar still takes changes (not removed at the provider, not read-only)

    @property
    def is_waiting_for_theirs(self) -> bool:
        return not self.remote_deleted and self.title is None


def describe(session: Session, event: CalendarEvent, zone: str | None) -> ConflictView | None:
    conflict = conflict_of(event)
    if conflict is None:
        return None
    calendar = session.execute(select(
        CalendarConnection.provider, CalendarConnection.is_connected, CalendarConnection.can_write,
        CalendarConnection.provider_removed_at).where(CalendarConnection.id == event.calendar_connection_id)).one()
    provider = LABELS[calendar.provider]
    remote = conflict.get("remote") or {}
    when = None
    if remote.get("start_time"):
        now = datetime.now(UTC)
        start = datetime.fromisoformat(remote["start_time"])
        when = start.date().isoformat() if remote.get("is_all_day") else clock(start, zone, now)
    return ConflictView(provider, bool(conflict.get("remote_deleted")), remote.get("title"), when,
                        event.deletion_requested_at is not None,
                        calendar.is_connected and calendar.can_write and calendar.provider_removed_at is None)


def conflict_of(event: CalendarEvent) -> dict[str, Any] | None:
    conflict = (event.provider_metadata or {}).get("conflict")
    return conflict if isinstance(conflict, dict) else None


def remote_fields(remote: RemoteEvent) -> dict[str, Any]:
    values = {name: getattr(remote, name) for name in COMPARED_FIELDS}
    return {name: value.isoformat() if name in DATETIME_FIELDS else value for name, value in values.items()}


def differs(ours: RemoteEvent, theirs: RemoteEvent) -> bool:
    """Whether the provider's version says something else than ours, in the fields the panel compares (an
    all-day event's zone means nothing, and a missing text is an empty one)."""
    for name in COMPARED_FIELDS:
        if name == "timezone" and ours.is_all_day and theirs.is_all_day:
            continue
        mine, other = getattr(ours, name), getattr(theirs, name)
        if isinstance(mine, str | None) and isinstance(other, str | None):
            mine, other = mine or None, other or None
        if mine != other:
            return True
    return False


def _has_reached_provider(event: CalendarEvent) -> bool:
    metadata = event.provider_metadata or {}
    return bool(metadata.get("etag") or metadata.get("pushed"))


def _set_conflict(event: CalendarEvent, now: datetime, *, remote: dict | None, etag: str | None,
                  remote_deleted: bool) -> None:
    metadata = dict(event.provider_metadata or {})
    metadata["conflict"] = {"detected_at": now.isoformat(), "remote": remote, "etag": etag,
                            "remote_deleted": remote_deleted}
    event.provider_metadata = metadata
    event.sync_status = SyncStatus.PENDING


def _audit(session: Session, event: CalendarEvent, user_id: uuid.UUID, action: str, **details) -> None:
    audit.record(session, action, user_id=user_id, resource=("calendar_event", event.id),
                 status=AuditStatus.FAILURE if action == "EVENT_SYNC_CONFLICT" else AuditStatus.SUCCESS, **details)


def _owner(session: Session, connection_id: uuid.UUID) -> uuid.UUID:
    return session.scalar(select(CalendarConnection.user_id).where(CalendarConnection.id == connection_id))


def record_pull_conflicts(session: Session, connection_id: uuid.UUID, incoming: dict[str, RemoteEvent],
                          now: datetime) -> set[str]:
    """Provider ids of this page whose local row holds an unpushed change: those are not upserted. A provider
    version that differs from the one the local change started from is recorded as a conflict."""
    held = set()
    for event in local_changes(session, connection_id, set(incoming)):
        held.add(event.provider_event_id)
        remote = incoming[event.provider_event_id]
        current = conflict_of(event)
        if not _has_reached_provider(event):
            continue  # a creation whose earlier push got through: the provider echoes ours
        if event.deletion_requested_at is not None and remote.status == "CANCELLED":
            deletions.confirm(session, event, now)  # an instance deleted here was cancelled there too
            continue
        if current and current.get("remote") and remote.etag == current.get("etag"):
            continue  # this version of theirs is already recorded
        if not current and remote.etag and remote.etag == (event.provider_metadata or {}).get("etag"):
            continue  # the version our change started from: no conflict, the push goes ahead
        _set_conflict(event, now, remote=remote_fields(remote), etag=remote.etag, remote_deleted=False)
        _audit(session, event, _owner(session, connection_id), "EVENT_SYNC_CONFLICT", error="changed_at_provider")
    session.flush()
    return held


def record_remote_removals(session: Session, connection_id: uuid.UUID, removed_ids: set[str],
                           now: datetime) -> int:
    """The provider removed events whose local change has not reached it: kept, and recorded as conflicts —
    except deletions made here, which the removal confirms."""
    count = 0
    for event in local_changes(session, connection_id, removed_ids):
        if event.deletion_requested_at is not None or event.deleted_at is not None:
            deletions.confirm(session, event, now)
            continue
        if not _has_reached_provider(event) or (conflict_of(event) or {}).get("remote_deleted"):
            continue
        _set_conflict(event, now, remote=None, etag=None, remote_deleted=True)
        _audit(session, event, _owner(session, connection_id), "EVENT_SYNC_CONFLICT", error="removed_at_provider")
        count += 1
    session.flush()
    return count


def record_push_conflict(session: Session, event: CalendarEvent, *, remote_deleted: bool, now: datetime,
                         theirs: RemoteEvent | None = None) -> None:
    """A push found the provider's version changed (412, or a create that found its earlier copy changed:
    `theirs`) or gone (404): hold ours until the user chooses."""
    _set_conflict(event, now, remote=remote_fields(theirs) if theirs else None, etag=theirs.etag if theirs else None,
                  remote_deleted=remote_deleted)
    _audit(session, event, _owner(session, event.calendar_connection_id), "EVENT_SYNC_CONFLICT",
           error="removed_at_provider" if remote_deleted else "changed_at_provider" if theirs else
           "precondition_failed")
    session.flush()


def keep_mine(session: Session, event: CalendarEvent, user_id: uuid.UUID) -> None:
    """Our version goes to the provider over theirs; the caller commits and queues the push."""
    conflict = conflict_of(event) or {}
    metadata = {key: value for key, value in (event.provider_metadata or {}).items() if key != "conflict"}
    if conflict.get("remote_deleted"):
        # Gone at the provider: ours is created again, under a new id.
        for key in ("etag", "pushed", "href", "push_error", "push_attempts"):
            metadata.pop(key, None)
        event.provider_event_id = uuid.uuid4().hex
    else:
        metadata["etag"] = conflict.get("etag")  # theirs, so the push replaces it (none known: unconditional)
        metadata["pushed"] = True
    event.provider_metadata = metadata
    event.sync_status = SyncStatus.PENDING
    _audit(session, event, user_id, "EVENT_SYNC_CONFLICT_RESOLVED", choice="keep_mine")
    session.flush()


def take_theirs(session: Session, event: CalendarEvent, user_id: uuid.UUID) -> bool:
    """Their version replaces ours. Returns True when it is not known yet, and a full pull must bring it (the
    caller queues it); ours stays in the audit row."""
    conflict = conflict_of(event) or {}
    ours = {name: getattr(event, name) for name in COMPARED_FIELDS}
    metadata = {key: value for key, value in (event.provider_metadata or {}).items()
                if key not in ("conflict", "push_error", "push_attempts")}
    needs_pull = False
    now = datetime.now(UTC)
    discarded_deletion = event.deletion_requested_at is not None
    deletions.withdraw(event)
    if conflict.get("remote_deleted"):
        event.deleted_at = now
        event.sync_status = SyncStatus.DELETED
    elif conflict.get("remote"):
        for name, value in conflict["remote"].items():
            if name in COMPARED_FIELDS:
                setattr(event, name, datetime.fromisoformat(value) if name in DATETIME_FIELDS else
                        EventStatus(value) if name == "status" else value)
        metadata["etag"] = conflict.get("etag")
        event.sync_status = SyncStatus.SYNCED
    else:
        metadata["etag"] = None  # unknown: the next full pull overwrites the row with the provider's version
        event.sync_status = SyncStatus.SYNCED
        connection = session.get(CalendarConnection, event.calendar_connection_id)
        connection.sync_token = None
        needs_pull = True
    event.provider_metadata = metadata
    event.last_synced_at = now
    discarded = {name: value.isoformat() if isinstance(value, datetime) else getattr(value, "value", value)
                 for name, value in ours.items()}
    if discarded_deletion:
        discarded["deleted"] = True
    _audit(session, event, user_id, "EVENT_SYNC_CONFLICT_RESOLVED", choice="take_theirs", discarded=discarded)
    session.flush()
    return needs_pull
