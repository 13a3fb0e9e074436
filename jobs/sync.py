"""Sync jobs: take ids, hold the connection's lock, call webapp.sync. Safe to run twice."""
from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from jobs import job_app
from webapp.credentials import refresh_expiring
from webapp.extensions import db, redis_client
from webapp.locks import connection_lock
from webapp.sync import notifications, push, runner, search_index, viewing
from webapp.sync.queue import enqueue_notified

log = logging.getLogger(__name__)

# A pull waits this long for a push of the same calendar (short) before leaving the work to whoever holds the lock.
SYNC_LOCK_WAIT_SECONDS = 30
PUSH_LOCK_WAIT_SECONDS = 30
# A job of several calendars (an account's on connect, a batch of the sweep's) syncs this many at a time: each
# waits mostly on its provider, and one job per calendar would pay a worker's fork and start-up for each.
CALENDARS_AT_ONCE = 4
# Rounds one job runs while notifications keep arriving, before it leaves the rest to a fresh job (and the queue).
NOTIFIED_ROUNDS = 5


class ConnectionBusy(Exception):
    """Another job of the same calendar kept its lock; RQ retries the push later."""


def sync_connection(connection_id: str, full: bool = False, allow_mass_delete: bool = False) -> dict | None:
    """One pull (a round, or more while change notifications keep coming: webapp.sync.notifications)."""
    with job_app().app_context():
        redis = redis_client()
        try:
            with connection_lock(connection_id, wait=SYNC_LOCK_WAIT_SECONDS) as held:
                if not held:
                    log.info("sync already running connection_id=%s", connection_id)
                    # The running one settles any notification when it ends; a later one may queue again.
                    notifications.open_gate(redis, connection_id)
                    return None
                return _rounds(redis, connection_id, full=full, allow_mass_delete=allow_mass_delete)
        except (OperationalError, InterfaceError) as error:
            # The database went away around the lock itself: nothing could be recorded, so retry soon.
            runner.retry_soon(connection_id, error)
            raise


def _rounds(redis, connection_id: str, *, full: bool, allow_mass_delete: bool) -> dict | None:
    """Rounds until no notification came during the last one (at most NOTIFIED_ROUNDS; then a fresh job)."""
    result = None
    try:
        for _ in range(NOTIFIED_ROUNDS):
            notifications.take_debt(redis, connection_id)
            result = runner.run_sync(db.session, uuid.UUID(connection_id), full=full,
                                     allow_mass_delete=allow_mass_delete)
            full = allow_mass_delete = False
            if not notifications.settle(redis, connection_id):
                return result
        if notifications.owe_syncs(redis, [connection_id]):
            enqueue_notified([connection_id])
        return result
    except BaseException:
        notifications.open_gate(redis, connection_id)  # the failure's retry is the policy's; notifications go on
        raise


def sync_calendars(connection_ids: list[str]) -> dict[str, dict | None]:
    """Sync several calendars (an account's, or a batch of the sweep's), CALENDARS_AT_ONCE at a time. Each runs
    exactly as `sync_connection` alone: its own app context (so its own database session), its own provider HTTP
    session, its lock and its failure policy; one calendar failing (recorded on it, retried on its own) stops no
    other."""
    job_app()  # built once, before the threads share it

    def one(connection_id: str) -> dict | None:
        try:
            return sync_connection(connection_id)
        except Exception as error:
            log.warning("calendar sync failed connection_id=%s error=%s", connection_id, type(error).__name__)
            return {"failed": type(error).__name__}

    with ThreadPoolExecutor(max_workers=CALENDARS_AT_ONCE, thread_name_prefix="calendar-sync") as pool:
        return dict(zip(connection_ids, pool.map(one, connection_ids), strict=True))


def index_search(connection_id: str) -> int:
    """After a large sync: the search vectors it left for later (webapp.sync.search_index). Safe to run twice or beside
    another: each waiting vector is taken by one of them."""
    with job_app().app_context():
        return search_index.index_pending(db.session, uuid.UUID(connection_id))


def push_event(event_id: str) -> str:
    with job_app().app_context():
        connection_id = push.connection_of(db.session, uuid.UUID(event_id))
        if connection_id is None:
            return "nothing"
        with connection_lock(connection_id, wait=PUSH_LOCK_WAIT_SECONDS) as held:
            if not held:
                raise ConnectionBusy("a sync of this calendar is running; the push will retry")
            return runner.run_push(db.session, uuid.UUID(event_id), connection_id)


def sweep() -> dict:
    """Every 5 minutes: queue a sync for each due connection and a push for each waiting local change."""
    with job_app().app_context():
        return runner.sweep(db.session)


def check_open_calendars() -> dict:
    """Every minute: sync the CalDAV calendars of users who have a calendar tab open (they have no push)."""
    with job_app().app_context():
        return {"queued": len(viewing.check_open_caldav(db.session, redis_client()))}


def refresh_expiring_tokens() -> dict:
    """Hourly: refresh every account whose access token expires within the next hour."""
    with job_app().app_context():
        return refresh_expiring(db.session, timedelta(hours=1))
