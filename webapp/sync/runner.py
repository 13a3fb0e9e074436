"""What the sync jobs run: one pull or one push under the failure policy, and the 5-minute sweep.

The jobs (jobs/sync.py) only open an app context, take the connection's lock and call these. Whatever goes wrong
is recorded on the connection (or the event) with a plain reason and an audit row before the exception goes on
to RQ, and the next attempt is scheduled here.
"""
from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from webapp import audit
from webapp.credentials import NeedsReconnect
from webapp.models import AuditStatus, CalendarConnection
from webapp.providers.base import CalendarGone, ReadOnly
from webapp.sync import due, policy, pull, push, search_index
from webapp.sync.queue import (
    cancel_retry,
    enqueue_push,
    enqueue_pushes,
    enqueue_search_index,
    enqueue_sweep,
    enqueue_sync,
    schedule_retry,
)

log = logging.getLogger(__name__)

# A round that left at most this many search vectors for later computes them itself (a fraction of a second); more
# go to a follow-up job, so a large first sync shows its calendar without waiting for them.
INDEX_INLINE_MAX = 1000
# Vectors the sweep computes for rounds whose follow-up never ran (a worker killed in between).
INDEX_CATCH_UP_MAX = 20000


def run_sync(session: Session, connection_id: uuid.UUID, *, full: bool = False,
             allow_mass_delete: bool = False) -> dict | None:
    try:
        result = pull.pull_changes(session, connection_id, full=full, allow_mass_delete=allow_mass_delete)
    except policy.DeletionGuardTripped as tripped:
        session.rollback()
        policy.record_guard(session, connection_id, tripped)
        session.commit()
        log.warning("deletion guard tripped connection_id=%s %s", connection_id, tripped)
        return {"guard": str(tripped)}
    except NeedsReconnect:
        session.rollback()  # the reason and its audit row are already committed
        return {"needs_reconnect": True}
    except CalendarGone:
        # Not a failure to retry: the calendar is gone for this account until the user says otherwise.
        session.rollback()
        policy.record_removed(session, connection_id, found_by="sync")
        session.commit()
        cancel_retry(connection_id)
        return {"removed_at_provider": True}
    except Exception as error:
        outcome = _record(session, connection_id, error)
        if outcome is not None and outcome.retry_after_until is not None:
            # The provider said when to come back: not an error of ours, nothing for RQ to record.
            return {"rate_limited": math.ceil(outcome.failure.retry_after or 0)}
        raise
    if result is None:
        return None
    pending = push.pending_events(session, connection_id)
    session.rollback()
    enqueue_pushes([(event_id, connection_id) for event_id in pending])
    if result.search_deferred:
        index_for_search(session, connection_id)
    return result.counts()


def index_for_search(session: Session, connection_id: uuid.UUID) -> None:
    """The search vectors the round left for later: now when they are few, else in a follow-up job."""
    if search_index.pending_count(session, connection_id, INDEX_INLINE_MAX + 1) <= INDEX_INLINE_MAX:
        search_index.index_pending(session, connection_id)
    else:
        session.rollback()
        enqueue_search_index(connection_id)


def _record(session: Session, connection_id: uuid.UUID, error: Exception) -> policy.Outcome | None:
    """The failure on the connection, then the retry; a database too broken to record it leaves the original
    error to RQ, and the page shows the calendar as behind."""
    try:
        session.rollback()
        outcome = policy.record_failure(session, connection_id, error)
        session.commit()
    except Exception:
        log.exception("could not record a sync failure connection_id=%s", connection_id)
        session.rollback()
        retry_soon(connection_id, error)
        return None
    if outcome is not None and outcome.next_attempt_at is not None:
        schedule_retry(connection_id, outcome.next_attempt_at)
    return outcome


def retry_soon(connection_id: uuid.UUID | str, error: BaseException) -> None:
    """A transient failure we could not write down (our database was away): try again at the first retry
    interval rather than waiting for the next sweep. The page shows the calendar as behind meanwhile."""
    if not policy.classify(error, "").is_transient:
        return
    try:
        schedule_retry(connection_id, datetime.now(UTC) + timedelta(seconds=policy.retry_intervals()[0]))
    except Exception:
        log.exception("could not schedule a retry connection_id=%s; the sweep takes it up", connection_id)


def run_push(session: Session, event_id: uuid.UUID, connection_id: uuid.UUID) -> str:
    try:
        outcome = push.push_event(session, event_id)
    except NeedsReconnect:
        session.rollback()
        return "needs_reconnect"
    except (CalendarGone, ReadOnly) as refusal:
        # Trying again cannot help: the change fails with the reason, and no retry follows.
        session.rollback()
        push.record_push_failure(session, event_id, refusal)
        if isinstance(refusal, CalendarGone):
            policy.record_removed(session, connection_id, found_by="push")
        else:
            _audit_refused_push(session, event_id, connection_id, refusal)
        session.commit()
        log.warning("push refused event_id=%s kind=%s", event_id, refusal.kind)
        return refusal.kind
    except Exception as error:
        session.rollback()
        push.record_push_failure(session, event_id, error)
        session.commit()
        raise
    if outcome in ("conflict", "split"):
        # A conflict: the pull brings their version for the user to compare; a split: the new series' occurrences.
        enqueue_sync(connection_id)
    elif push.needs_push(session, event_id):
        enqueue_push(event_id, connection_id)
    return outcome


def _audit_refused_push(session: Session, event_id: uuid.UUID, connection_id: uuid.UUID, refusal: ReadOnly) -> None:
    user_id = session.get(CalendarConnection, connection_id).user_id
    audit.record(session, "EVENT_PUSH_FAILURE", user_id=user_id, status=AuditStatus.FAILURE, error=refusal.kind,
                 resource=("calendar_event", event_id), calendar_id=connection_id)


def sweep(session: Session) -> dict:
    """Every 5 minutes: queue a pull for each due connection (replacing a waiting retry; several calendars to a
    job) and a push for each waiting local change."""
    connections = due.due_connections(session, datetime.now(UTC))
    events = due.events_to_push(session)
    session.rollback()
    queued = enqueue_sweep(connections)
    enqueue_pushes(events)
    search_index.index_pending(session, limit=INDEX_CATCH_UP_MAX)
    log.info("sweep queued connections=%s (due %s) pushes=%s", queued, len(connections), len(events))
    return {"connections": len(connections), "pushes": len(events)}
