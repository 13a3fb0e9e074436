"""The one way to queue sync work: stable job ids so double clicks and scheduler ticks don't pile up.

A pull runs as `sync-connection-<id>`; a retry waits as `sync-retry-<id>` until its time. Queuing a pull now
replaces a waiting retry (the caller decides whether a provider's Retry-After still forbids it), and a pull
job left "started" by a worker that died no longer blocks the next one.
"""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job

from webapp.extensions import db, redis_client
from webapp.locks import running_syncs

log = logging.getLogger(__name__)

SYNC_QUEUE = "sync"
SYNC_JOB_TIMEOUT = 300
PUSH_RETRY = Retry(max=3, interval=[30, 120, 600])
# A live pull takes its lock within moments of starting; "started" for longer without it means its worker died.
ABANDONED_AFTER = timedelta(seconds=30)
PENDING_STATES = ("queued", "started", "scheduled", "deferred")


def sync_queue() -> Queue:
    return Queue(SYNC_QUEUE, connection=redis_client())


def sync_job_id(connection_id: uuid.UUID | str) -> str:
    return f"sync-connection-{connection_id}"


def retry_job_id(connection_id: uuid.UUID | str) -> str:
    return f"sync-retry-{connection_id}"


def enqueue_sync(connection_id: uuid.UUID | str, *, accept_deletions: bool = False) -> str:
    """Queue a pull for one connection now, replacing a waiting retry; returns the job id (also when a pull was
    already queued). `accept_deletions` is the user's answer to the deletion guard."""
    cancel_retry(connection_id)
    args = (str(connection_id), True, True) if accept_deletions else (str(connection_id),)
    job_id = sync_job_id(connection_id)
    existing = sync_queue().fetch_job(job_id)
    if existing is not None and _state(existing) == "started" and _is_abandoned(existing, connection_id):
        log.warning("replacing a pull whose worker died job_id=%s", job_id)
        existing.delete()
    return _enqueue("jobs.sync.sync_connection", job_id, *args)


def schedule_retry(connection_id: uuid.UUID | str, at: datetime) -> str:
    """Run a pull again at `at` (the policy's next attempt); a retry already waiting is replaced."""
    cancel_retry(connection_id)
    job_id = retry_job_id(connection_id)
    sync_queue().enqueue_at(at, "jobs.sync.sync_connection", str(connection_id), job_id=job_id,
                            job_timeout=SYNC_JOB_TIMEOUT, result_ttl=600, failure_ttl=7 * 86400)
    return job_id


def cancel_retry(connection_id: uuid.UUID | str) -> None:
    job = sync_queue().fetch_job(retry_job_id(connection_id))
    if job is not None and _state(job) != "started":
        job.delete()


def enqueue_push(event_id: uuid.UUID | str, connection_id: uuid.UUID | str | None = None) -> str:
    """Queue sending one locally changed event to its provider now, replacing a retry that waits; with
    `connection_id`, a push left "started" by a worker that died is replaced too."""
    job_id = f"push-event-{event_id}"
    existing = sync_queue().fetch_job(job_id)
    state = _state(existing) if existing is not None else None
    if state in ("scheduled", "deferred"):
        existing.delete()  # a retry waiting its turn: the sweep (or the user) sends it now instead
    elif state == "started" and connection_id is not None and _is_abandoned(existing, connection_id):
        log.warning("replacing a push whose worker died job_id=%s", job_id)
        existing.delete()
    return _enqueue("jobs.sync.push_event", job_id, str(event_id), retry=PUSH_RETRY)


def _enqueue(func: str, job_id: str, *args, retry: Retry | None = None) -> str:
    queue = sync_queue()
    for _attempt in range(2):
        try:
            queue.enqueue(func, *args, job_id=job_id, unique=True, job_timeout=SYNC_JOB_TIMEOUT, retry=retry,
                          result_ttl=600, failure_ttl=7 * 86400)
            return job_id
        except DuplicateJobError:
            # RQ keeps finished jobs (with their results) under the same id: only a pending one means "queued".
            existing = queue.fetch_job(job_id)
            if existing is not None and _state(existing) in PENDING_STATES:
                log.info("already queued job_id=%s", job_id)
                return job_id
            if existing is not None:
                existing.delete()
    return job_id


def _state(job: Job) -> str | None:
    status = job.get_status(refresh=True)
    return status.value if status else None


def _is_abandoned(job: Job, connection_id: uuid.UUID | str) -> bool:
    started = job.started_at
    if started is None or datetime.now(UTC) - started.replace(tzinfo=UTC) < ABANDONED_AFTER:
        return False
    return uuid.UUID(str(connection_id)) not in running_syncs(db.session, [uuid.UUID(str(connection_id))])


def is_sync_queued(connection_id: uuid.UUID | str) -> bool:
    """A pull of the connection waits in the queue. (One that runs holds the connection's lock: see
    webapp.locks.running_syncs, which also forgets a pull whose worker died.)"""
    job = sync_queue().fetch_job(sync_job_id(connection_id))
    return job is not None and _state(job) == "queued"
