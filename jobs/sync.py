"""Sync jobs: take ids, hold a per-connection lock, call webapp.sync, commit. Safe to run twice."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from jobs import job_app
from webapp.connections.tokens import NeedsReconnect
from webapp.extensions import db, redis_client
from webapp.models import CalendarConnection, CalendarEvent
from webapp.providers.base import ProviderError, RateLimited
from webapp.sync import due, pull, push
from webapp.sync.queue import SYNC_JOB_TIMEOUT, enqueue_push, enqueue_sync, sync_queue

log = logging.getLogger(__name__)

# Longer than the job timeout, so a live job never loses its lock; a killed worker's lock expires on its own.
SYNC_LOCK_SECONDS = SYNC_JOB_TIMEOUT + 60


def sync_connection(connection_id: str, full: bool = False, allow_mass_delete: bool = False) -> dict | None:
    app = job_app()
    with app.app_context():
        lock = redis_client().lock(f"lock:sync:connection:{connection_id}",
                                   timeout=app.config.get("SYNC_LOCK_SECONDS", SYNC_LOCK_SECONDS))
        if not lock.acquire(blocking=False):
            log.info("sync already running connection_id=%s", connection_id)
            return None
        try:
            return _sync(uuid.UUID(connection_id), full, allow_mass_delete)
        finally:
            lock.release()


def _sync(connection_id: uuid.UUID, full: bool, allow_mass_delete: bool) -> dict | None:
    try:
        result = pull.pull_changes(db.session, connection_id, full=full, allow_mass_delete=allow_mass_delete)
        db.session.commit()
    except pull.DeletionGuardTripped as tripped:
        db.session.rollback()
        pull.record_guard(db.session, db.session.get(CalendarConnection, connection_id), tripped)
        db.session.commit()
        log.warning("deletion guard tripped connection_id=%s %s", connection_id, tripped)
        return {"guard": str(tripped)}
    except NeedsReconnect:
        db.session.commit()  # the reason and its audit row are already on the session
        return {"needs_reconnect": True}
    except ProviderError as failure:
        db.session.rollback()
        connection = db.session.get(CalendarConnection, connection_id)
        pull.record_failure(db.session, connection, failure.kind, _describe(failure))
        db.session.commit()
        retry_after = failure.retry_after if isinstance(failure, RateLimited) else None
        seconds = due.back_off(redis_client(), connection_id, connection.sync_failures, retry_after)
        if isinstance(failure, RateLimited):
            # Come back when the provider asked, instead of RQ's fixed intervals.
            sync_queue().enqueue_in(timedelta(seconds=seconds), "jobs.sync.sync_connection", str(connection_id),
                                    job_id=f"sync-connection-{connection_id}-after-throttle")
            return {"rate_limited": seconds}
        raise
    if result is None:
        return None
    for event_id in push.pending_events(db.session, connection_id):
        enqueue_push(event_id)
    return result.counts()


def push_event(event_id: str) -> str:
    app = job_app()
    with app.app_context():
        event = db.session.get(CalendarEvent, uuid.UUID(event_id))
        if event is None:
            return "nothing"
        lock = redis_client().lock(f"lock:sync:connection:{event.calendar_connection_id}",
                                   timeout=app.config.get("SYNC_LOCK_SECONDS", SYNC_LOCK_SECONDS), blocking_timeout=30)
        if not lock.acquire():
            raise RuntimeError("connection busy; retry")  # RQ retries with backoff
        try:
            outcome = push.push_event(db.session, uuid.UUID(event_id))
            db.session.commit()
        except NeedsReconnect:
            db.session.commit()
            return "needs_reconnect"
        except ProviderError as failure:
            db.session.rollback()
            push.record_push_failure(db.session, uuid.UUID(event_id), failure)
            db.session.commit()
            raise
        finally:
            lock.release()
        if outcome == "conflict":
            enqueue_sync(event.calendar_connection_id)
        return outcome


def sweep() -> dict:
    """Every 5 minutes: queue a sync for each due connection and a push for each waiting local change."""
    with job_app().app_context():
        connections = due.due_connections(db.session, redis_client())
        events = due.events_to_push(db.session)
        db.session.rollback()
        for connection_id in connections:
            enqueue_sync(connection_id)
        for event_id in events:
            enqueue_push(event_id)
    log.info("sweep queued connections=%s pushes=%s", len(connections), len(events))
    return {"connections": len(connections), "pushes": len(events)}


def _describe(failure: ProviderError) -> str:
    messages = {
        "rate_limited": "The provider asked us to slow down; sync will resume shortly.",
        "network_error": "The provider could not be reached.",
        "auth_rejected": "The provider rejected Almanac's credentials.",
    }
    return messages.get(failure.kind, f"The provider answered with an error ({failure.kind}).")


def refresh_expiring_tokens() -> dict:
    """Hourly: refresh every account whose access token expires within the next hour, one account at a time."""
    from webapp.connections.tokens import connections_expiring_within, refresh_account

    refreshed = failed = 0
    with job_app().app_context():
        for connection in connections_expiring_within(db.session, timedelta(hours=1)):
            try:
                refresh_account(db.session, connection)
                refreshed += 1
            except (NeedsReconnect, ProviderError) as failure:
                failed += 1
                log.warning("token refresh failed connection_id=%s kind=%s", connection.id,
                            getattr(failure, "kind", "needs_reconnect"))
            db.session.commit()  # each account on its own: one dead grant must not undo the others
    return {"refreshed": refreshed, "failed": failed}
