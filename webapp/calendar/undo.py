"""Undo for a move, a resize or a deletion, offered by the toast that says it happened (UNDO_SECONDS).

The toast carries a signed token naming the change (the user, the row, the times before a move, the sync state
before a deletion); nothing is stored for it. A deletion's push waits out the undo time (webapp.sync.queue.
enqueue_push_after), so undoing one never needs the provider: the row simply stops being deleted. A move's push
goes at once; undoing it is another move back.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from webapp.calendar import editing
from webapp.calendar.editing import THIS_EVENT
from webapp.calendar.queries import event_details
from webapp.models import CalendarEvent, SyncStatus

UNDO_SECONDS = 10
# A click in the toast's last second still counts, however long the request takes to arrive.
_GRACE_SECONDS = 5


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="almanac-undo")


def undo_token(secret_key: str, user_id: uuid.UUID, action: str, event: CalendarEvent, **facts) -> str:
    return _serializer(secret_key).dumps({"u": str(user_id), "a": action, "e": str(event.id), **facts})


def read_token(secret_key: str, user_id: uuid.UUID, token: str) -> dict | None:
    """The change the token names, if it is this user's and still young enough; else None."""
    try:
        change = _serializer(secret_key).loads(token, max_age=UNDO_SECONDS + _GRACE_SECONDS)
    except BadSignature:
        return None
    return change if isinstance(change, dict) and change.get("u") == str(user_id) else None


def _reached_provider(row: CalendarEvent) -> bool:
    metadata = row.provider_metadata or {}
    return bool(metadata.get("etag") or metadata.get("pushed"))


def undo(session: Session, user_id: uuid.UUID, change: dict) -> tuple[CalendarEvent | None, str]:
    """Undo the change; returns the row whose push carries the undo (None: nothing to send) and what to say."""
    row = session.get(CalendarEvent, uuid.UUID(change["e"]))
    if row is None or event_details(session, user_id, row.id) is None:
        return None, "That event is gone: there is nothing to undo."
    if change["a"] == "delete":
        return _undo_deletion(session, row, change)
    return _undo_move(session, user_id, row, change)


def _undo_deletion(session: Session, row: CalendarEvent, change: dict) -> tuple[CalendarEvent | None, str]:
    if row.deleted_at is not None or row.deletion_requested_at is None:
        return None, "Too late to undo: the deletion has reached the calendar."
    if change.get("n") and not _reached_provider(row):
        session.delete(row)  # the cancelled instance existed for the deletion only
        session.flush()
        return None, "Deletion undone."
    row.deletion_requested_at = None
    row.sync_status = SyncStatus(change.get("p") or SyncStatus.SYNCED.value)
    session.flush()
    return (row if row.sync_status is SyncStatus.PENDING else None), "Deletion undone."


def _undo_move(session: Session, user_id: uuid.UUID, row: CalendarEvent, change: dict) -> tuple[CalendarEvent | None,
                                                                                                 str]:
    start, end = datetime.fromisoformat(change["s"]), datetime.fromisoformat(change["t"])
    details = event_details(session, user_id, row.id)
    if change.get("n") and not _reached_provider(row):
        session.delete(row)  # the moved instance goes back to being the series' own
        session.flush()
        return None, "Move undone."
    scope = "" if details.series is None else THIS_EVENT
    event = editing.edit_event(session, details, scope, editing.moved_input(details, scope, start, end))
    return event, "Move undone."
