"""The one way to queue sync work: stable job ids so double clicks and scheduler ticks don't pile up."""
from __future__ import annotations

import logging
import uuid

from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from webapp.extensions import redis_client

log = logging.getLogger(__name__)

SYNC_QUEUE = "sync"
SYNC_JOB_TIMEOUT = 300
RETRY = Retry(max=3, interval=[30, 120, 600])


def sync_queue() -> Queue:
    return Queue(SYNC_QUEUE, connection=redis_client())


def enqueue_sync(connection_id: uuid.UUID | str, *, accept_deletions: bool = False) -> str:
    """Queue a pull for one connection; returns the job id (also when it was already queued).

    `accept_deletions` is the user's answer to the deletion guard: a full resync that may remove many events.
    """
    job_id = f"sync-connection-{connection_id}"
    if accept_deletions:
        return _enqueue("jobs.sync.sync_connection", job_id, str(connection_id), True, True)
    return _enqueue("jobs.sync.sync_connection", job_id, str(connection_id))


def enqueue_push(event_id: uuid.UUID | str) -> str:
    """Queue sending one locally changed event to its provider."""
    job_id = f"push-event-{event_id}"
    return _enqueue("jobs.sync.push_event", job_id, str(event_id))


PENDING_STATES = ("queued", "started", "scheduled", "deferred")


def _enqueue(func: str, job_id: str, *args) -> str:
    queue = sync_queue()
    for _attempt in range(2):
        try:
            queue.enqueue(func, *args, job_id=job_id, unique=True, job_timeout=SYNC_JOB_TIMEOUT, retry=RETRY,
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


def _state(job) -> str | None:
    status = job.get_status(refresh=True)
    return status.value if status else None


def sync_job_state(connection_id: uuid.UUID | str) -> str | None:
    """"queued", "started", or None when no sync job for the connection is pending."""
    job = sync_queue().fetch_job(f"sync-connection-{connection_id}")
    state = _state(job) if job is not None else None
    return state if state in PENDING_STATES else None
