"""Almanac → provider: send one locally created, edited or deleted event, exactly once under retries, with no
transaction open while the provider answers.

A push reads the row and its version (PostgreSQL's xmin) and ends the transaction, calls the provider, then writes
the answer in a fresh transaction. If the user changed the row meanwhile, the provider's facts (id, etag) are kept
but the row stays PENDING, and the newer change is pushed next.

Idempotency comes from the providers: Google inserts use the id we chose, Graph dedupes on transactionId, CalDAV
creates with If-None-Match: *. Updates and deletes carry the etag we last saw; a 412 (or a 404 on an update) is
a conflict the user settles (webapp.sync.conflicts), and so is a create that finds the provider's copy of an
earlier attempt changed or deleted since.

A deletion is confirmed only here (or by a pull that finds the event gone too): until then the row stays, being
deleted (webapp.sync.deletions). A calendar the provider no longer has, or that this account may only read, gets
no write at all: the change fails with that reason.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from webapp import changes
from webapp.credentials import credentials_for
from webapp.models import CalendarConnection, CalendarEvent, CalendarProvider, SyncStatus
from webapp.providers import get_provider
from webapp.providers.base import NotFound, PreconditionFailed, ProviderError, ProviderUnreachable, RemoteEvent
from webapp.sync import conflicts, deletions
from webapp.sync.events import LOCAL_CHANGES, remote_from_row

log = logging.getLogger(__name__)

ROW_VERSION = literal_column("calendar_events.xmin::text")


@dataclass(frozen=True)
class Snapshot:
    """The row as it was read before the provider call."""

    event_id: uuid.UUID
    version: str
    connection_id: uuid.UUID
    provider: CalendarProvider
    calendar_id: str
    remote: RemoteEvent
    is_deleted: bool  # the provider is asked to delete it
    is_deletion: bool  # the user deleted it (the event, or one instance: a cancelled occurrence is sent)
    has_reached_provider: bool
    etag: str | None
    # Besides the row's content, the provider's own operation (PROVIDER_ACTIONS): an answer to an invitation, or
    # Outlook's "this and following" (a series of occurrences there).
    action: dict | None = None


# Metadata keys asking the push for an operation of its own rather than (or before) the row's content.
RSVP, SERIES_SPLIT = "rsvp", "series_split"
PROVIDER_ACTIONS = (RSVP, SERIES_SPLIT)


def connection_of(session: Session, event_id: uuid.UUID) -> uuid.UUID | None:
    connection_id = session.scalar(select(CalendarEvent.calendar_connection_id).where(CalendarEvent.id == event_id))
    session.rollback()
    return connection_id


def push_event(session: Session, event_id: uuid.UUID) -> str:
    """Returns what happened: "created", "updated", "deleted", "conflict", "held" (a conflict waits for the
    user), "refused" (the calendar is gone or read-only: nothing was sent) or "nothing" (already in sync)."""
    snapshot = _read(session, event_id)
    if isinstance(snapshot, str):
        return snapshot
    credentials = credentials_for(session, snapshot.connection_id)
    remote = None
    try:
        with get_provider(snapshot.provider) as provider:
            if snapshot.action and snapshot.has_reached_provider:
                remote, outcome = _provider_action(provider, credentials, snapshot)
            elif snapshot.is_deleted:
                if snapshot.has_reached_provider:
                    provider.delete_event(credentials, snapshot.calendar_id, snapshot.remote.provider_event_id,
                                          snapshot.etag)
                outcome = "deleted"
            elif snapshot.has_reached_provider:
                remote, outcome = provider.update_event(credentials, snapshot.calendar_id, snapshot.remote), "updated"
            else:
                remote, outcome = provider.create_event(credentials, snapshot.calendar_id, snapshot.remote), "created"
    except PreconditionFailed:
        return _write_conflict(session, snapshot, remote_deleted=False)
    except NotFound:
        if not snapshot.is_deletion:
            return _write_conflict(session, snapshot, remote_deleted=True)
        outcome = "deleted"  # already gone at the provider: what we wanted
    if remote is not None and remote.found_existing:
        # An earlier attempt of this create got through, and someone may have changed or deleted it since.
        if remote.status == "CANCELLED" and snapshot.remote.status != "CANCELLED":
            return _write_conflict(session, snapshot, remote_deleted=True, theirs=remote)
        if conflicts.differs(snapshot.remote, remote):
            return _write_conflict(session, snapshot, remote_deleted=False, theirs=remote)
    _write_result(session, snapshot, outcome, remote)
    log.info("pushed event_id=%s outcome=%s", event_id, outcome)
    return outcome


def _provider_action(provider, credentials, snapshot: Snapshot) -> tuple[RemoteEvent | None, str]:
    action = snapshot.action
    if action["kind"] == RSVP:
        return provider.respond(credentials, snapshot.calendar_id, snapshot.remote, action["response"],
                                action["email"]), "responded"
    following = None if snapshot.is_deletion else snapshot.remote
    created = provider.split_series(credentials, snapshot.calendar_id, action["master"],
                                    datetime.fromisoformat(action["from"]), following)
    return created, "split"


def _read(session: Session, event_id: uuid.UUID) -> Snapshot | str:
    row = session.execute(
        select(CalendarEvent, ROW_VERSION, CalendarConnection.provider, CalendarConnection.calendar_id,
               CalendarConnection.provider_removed_at, CalendarConnection.can_write)
        .join(CalendarConnection, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.id == event_id)
    ).first()
    if row is None or row[0].sync_status not in LOCAL_CHANGES:
        session.rollback()
        return "nothing"
    event, version, provider, calendar_id, removed_at, can_write = row
    if conflicts.conflict_of(event):
        session.rollback()
        return "held"
    if removed_at is not None or not can_write:
        _mark_failed(event, "calendar_gone" if removed_at is not None else "read_only")
        _note(session, event.calendar_connection_id)
        session.commit()
        return "refused"
    metadata = event.provider_metadata or {}
    remote = remote_from_row(event)
    instance_deletion = deletions.is_instance_deletion(event)
    if instance_deletion:
        remote = replace(remote, status="CANCELLED")
    is_deletion = event.deletion_requested_at is not None or event.deleted_at is not None
    action = next(({"kind": key, **metadata[key]} for key in PROVIDER_ACTIONS if metadata.get(key)), None)
    snapshot = Snapshot(event.id, version, event.calendar_connection_id, provider, calendar_id, remote,
                        is_deletion and not instance_deletion, is_deletion,
                        bool(metadata.get("etag") or metadata.get("pushed")), metadata.get("etag"), action)
    session.commit()
    return snapshot


def _locked_row(session: Session, snapshot: Snapshot) -> tuple[CalendarEvent | None, bool]:
    """The row again, locked for this short transaction, and whether the user changed it since the read."""
    row = session.execute(select(CalendarEvent, ROW_VERSION).where(CalendarEvent.id == snapshot.event_id)
                          .with_for_update()).first()
    if row is None:
        return None, False
    return row[0], row[1] != snapshot.version


def _write_result(session: Session, snapshot: Snapshot, outcome: str, remote: RemoteEvent | None) -> None:
    event, changed = _locked_row(session, snapshot)
    if event is None:
        session.rollback()
        return
    metadata = dict(event.provider_metadata or {})
    metadata.pop("push_error", None)
    metadata.pop("push_attempts", None)
    if not changed:
        for key in PROVIDER_ACTIONS:
            metadata.pop(key, None)
    event.provider_metadata = metadata
    if outcome == "split":
        # The series' following occurrences come back with the next pull (a new series for an edit): this row,
        # one occurrence of the old series, has gone at Outlook.
        remote = None
        if not changed and not snapshot.is_deletion:
            event.deleted_at, event.sync_status = datetime.now(UTC), SyncStatus.SYNCED
            session.commit()
            return
    if remote is not None:
        _take_provider_facts(session, event, remote)
    if not changed:
        if snapshot.is_deletion:
            deletions.confirm(session, event, datetime.now(UTC))
        else:
            event.sync_status = SyncStatus.DELETED if outcome == "deleted" else SyncStatus.SYNCED
            event.last_synced_at = datetime.now(UTC)
    else:
        log.info("event changed while its push travelled; pushing again event_id=%s", snapshot.event_id)
    _note(session, snapshot.connection_id)
    session.commit()


def _take_provider_facts(session: Session, event: CalendarEvent, remote: RemoteEvent) -> None:
    """What the provider answered: its id (CalDAV names the resource), etag and link."""
    metadata = dict(event.provider_metadata or {})
    metadata.update({"etag": remote.etag, "pushed": True, **(remote.metadata or {})})
    if remote.ical_uid:
        metadata["ical_uid"] = remote.ical_uid
    if remote.provider_event_id and remote.provider_event_id != event.provider_event_id:
        _absorb_echo(session, event, remote.provider_event_id)
        event.provider_event_id = remote.provider_event_id
    if remote.html_link and remote.html_link.startswith(("https://", "http://")):
        event.html_link = remote.html_link
    event.provider_metadata = metadata


def _absorb_echo(session: Session, event: CalendarEvent, provider_event_id: str) -> None:
    """An earlier attempt of this push got through but died before writing its answer, and a pull has since
    stored the provider's copy as a row of its own: that row is this event, so it goes (its overrides move
    over), and the event takes the provider's id."""
    echo = session.scalar(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == event.calendar_connection_id,
        CalendarEvent.provider_event_id == provider_event_id, CalendarEvent.id != event.id))
    if echo is None:
        return
    log.info("merging the pulled copy of a pushed event event_id=%s copy_id=%s", event.id, echo.id)
    session.execute(update(CalendarEvent).where(CalendarEvent.parent_event_id == echo.id)
                    .values(parent_event_id=event.id))
    session.delete(echo)
    session.flush()


def _write_conflict(session: Session, snapshot: Snapshot, *, remote_deleted: bool,
                    theirs: RemoteEvent | None = None) -> str:
    """`theirs`: the provider's version, when the push already holds it (a create that found its earlier copy)."""
    event, _ = _locked_row(session, snapshot)
    if event is None:
        session.rollback()
        return "nothing"
    if theirs is not None and not remote_deleted:
        _take_provider_facts(session, event, theirs)
    conflicts.record_push_conflict(session, event, remote_deleted=remote_deleted, now=datetime.now(UTC),
                                   theirs=None if remote_deleted else theirs)
    _note(session, snapshot.connection_id)
    session.commit()
    return "conflict"


def record_push_failure(session: Session, event_id: uuid.UUID, failure: Exception) -> None:
    """The change did not reach the provider: FAILED, with the kind of failure the event panel explains."""
    event = session.get(CalendarEvent, event_id)
    if event is None or event.sync_status not in LOCAL_CHANGES:
        return
    if isinstance(failure, ProviderUnreachable) and failure.status:
        kind = "provider_unavailable"  # it answered, with a 5xx: not a network problem
    else:
        kind = failure.kind if isinstance(failure, ProviderError) else "error"
    _mark_failed(event, kind)
    _note(session, event.calendar_connection_id)
    session.flush()


def _note(session: Session, connection_id: uuid.UUID) -> None:
    """What the calendar pages show of the event changes: its owner's open tabs redraw."""
    changes.note_change(session, session.scalar(
        select(CalendarConnection.user_id).where(CalendarConnection.id == connection_id)))


def _mark_failed(event: CalendarEvent, kind: str) -> None:
    metadata = dict(event.provider_metadata or {})
    metadata["push_error"] = kind
    metadata["push_attempts"] = metadata.get("push_attempts", 0) + 1
    event.provider_metadata = metadata
    event.sync_status = SyncStatus.FAILED


def needs_push(session: Session, event_id: uuid.UUID) -> bool:
    """Still a local change to send (the user changed it again while the last push travelled)."""
    event = session.get(CalendarEvent, event_id)
    waiting = event is not None and event.sync_status == SyncStatus.PENDING and not conflicts.conflict_of(event)
    session.rollback()
    return waiting


def retry_push(session: Session, event: CalendarEvent) -> None:
    """The user's Retry button: back to PENDING; the caller queues the push."""
    event.sync_status = SyncStatus.PENDING
    session.flush()


def pending_events(session: Session, connection_id: uuid.UUID) -> list[uuid.UUID]:
    """What still has to reach the provider (pending, or failed and worth another try), oldest first; nothing
    when the calendar no longer takes changes (removed at the provider, or read-only)."""
    return list(session.scalars(
        select(CalendarEvent.id)
        .join(CalendarConnection, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.calendar_connection_id == connection_id,
               CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]),
               CalendarConnection.provider_removed_at.is_(None), CalendarConnection.can_write.is_(True))
        .order_by(CalendarEvent.created_at)
    ))
