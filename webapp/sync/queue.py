"""The one way to queue sync work: stable job ids so double clicks and scheduler ticks don't pile up.

A pull runs as `sync-connection-<id>`; a retry waits as `sync-retry-<id>` until its time. Queuing a pull now
replaces a waiting retry (the caller decides whether a provider's Retry-After still forbids it), and a pull
job left "started" by a worker that died no longer blocks the next one.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rq import Queue, Retry
from rq.job import Job

from webapp.extensions import db, redis_client
from webapp.locks import running_syncs

log = logging.getLogger(__name__)

SYNC_QUEUE = "sync"
# Syncs someone is waiting for (a change notification, an open calendar page): the worker takes this queue first.
LIVE_QUEUE = "live"
# Setting up, renewing and stopping notification channels.
WATCH_QUEUE = "default"
SYNC_JOB_TIMEOUT = 300
PUSH_RETRY = Retry(max=3, interval=[30, 120, 600])
# A live pull takes its lock within moments of starting; "started" for longer without it means its worker died.
ABANDONED_AFTER = timedelta(seconds=30)
PENDING_STATES = ("queued", "started", "scheduled", "deferred")
# The sweep's pulls run this many calendars to a job: each job costs a worker a fork and RQ's bookkeeping (a
# tenth of a second or more here), which one job per calendar paid thousands of times a cycle.
SWEEP_BATCH = 25
BATCH_PREFIX = "sync-calendars-"


def sync_queue(name: str = SYNC_QUEUE) -> Queue:
    return Queue(name, connection=redis_client())


def sync_job_id(connection_id: uuid.UUID | str) -> str:
    return f"sync-connection-{connection_id}"


def retry_job_id(connection_id: uuid.UUID | str) -> str:
    return f"sync-retry-{connection_id}"


@dataclass(frozen=True)
class _Wanted:
    """A job to have queued under a stable id; `replace_waiting`: a retry of it waiting its turn goes now."""

    job_id: str
    func: str
    args: tuple
    connection_id: str | None  # None: a "started" job is never taken for dead
    retry: Retry | None = None
    replace_waiting: bool = False


def enqueue_sync(connection_id: uuid.UUID | str, *, accept_deletions: bool = False) -> str:
    """Queue a pull for one connection now, replacing a waiting retry; returns the job id (also when a pull was
    already queued). `accept_deletions` is the user's answer to the deletion guard."""
    args = (str(connection_id), True, True) if accept_deletions else (str(connection_id),)
    job_id = sync_job_id(connection_id)
    _enqueue([_Wanted(job_id, "jobs.sync.sync_connection", args, str(connection_id))],
             cancel=[retry_job_id(connection_id)])
    return job_id


def enqueue_notified(connection_ids: list[uuid.UUID | str]) -> list[str]:
    """A pull for each calendar a change notification named, on the live queue. Each gets a job of its own
    (webapp.sync.notifications decides when one is needed: this never checks what is already queued)."""
    queue = sync_queue(LIVE_QUEUE)
    job_ids = [f"sync-notified-{connection_id}-{uuid.uuid4().hex[:8]}" for connection_id in connection_ids]
    queue.enqueue_many([
        Queue.prepare_data("jobs.sync.sync_connection", (str(connection_id),), job_id=job_id,
                           timeout=SYNC_JOB_TIMEOUT, result_ttl=60, failure_ttl=7 * 86400)
        for connection_id, job_id in zip(connection_ids, job_ids, strict=True)])
    return job_ids


def enqueue_live_syncs(connection_ids: list[uuid.UUID | str]) -> list[str]:
    """Pulls someone looking at the calendar waits for, on the live queue, under the calendars' usual job ids (a
    pull already queued or running is left to finish)."""
    wanted = [_Wanted(sync_job_id(connection_id), "jobs.sync.sync_connection", (str(connection_id),),
                      str(connection_id)) for connection_id in connection_ids]
    _enqueue(wanted, queue_name=LIVE_QUEUE)
    return [item.job_id for item in wanted]


def enqueue_watch_jobs(jobs: list[tuple[str, str, tuple]]) -> list[str]:
    """(job id, function, arguments) of channel work, each under its stable id: one already waiting or running
    is left alone."""
    wanted = [_Wanted(job_id, func, args, None) for job_id, func, args in jobs]
    _enqueue(wanted, queue_name=WATCH_QUEUE)
    return [item.job_id for item in wanted]


def enqueue_sweep(connection_ids: list[uuid.UUID | str]) -> int:
    """The sweep's pulls, SWEEP_BATCH calendars to a job (jobs.sync.sync_calendars); returns how many calendars
    were queued. As `enqueue_sync` does for one, a waiting retry is replaced and a calendar whose pull is already
    queued or running (alone or in a job of several) is left to it. A few Redis round trips whatever the count."""
    if not connection_ids:
        return 0
    queue = sync_queue()
    ids = [str(connection_id) for connection_id in connection_ids]
    found = Job.fetch_many([sync_job_id(item) for item in ids] + [retry_job_id(item) for item in ids],
                           connection=queue.connection)
    singles, retries = found[:len(ids)], found[len(ids):]
    wanted = [_Wanted(sync_job_id(item), "jobs.sync.sync_connection", (item,), item) for item in ids]
    dead = _dead_runs(list(zip(wanted, singles, strict=True)))
    busy = _in_pending_batches(queue) | {
        item for item, job in zip(ids, singles, strict=True)
        if job is not None and _known_state(job) in PENDING_STATES and job.id not in dead}
    due = [item for item in ids if item not in busy]
    with queue.connection.pipeline() as pipeline:
        for job in retries:
            if job is not None and _known_state(job) != "started":
                _discard(queue, job, pipeline)
        queue.enqueue_many([
            Queue.prepare_data("jobs.sync.sync_calendars", (due[start:start + SWEEP_BATCH],),
                               job_id=f"{BATCH_PREFIX}{uuid.uuid4().hex}", timeout=SYNC_JOB_TIMEOUT, result_ttl=600,
                               failure_ttl=7 * 86400)
            for start in range(0, len(due), SWEEP_BATCH)], pipeline=pipeline)
        pipeline.execute()
    return len(due)


def _in_pending_batches(queue: Queue) -> set[str]:
    """The connections of jobs of several calendars that are queued or running."""
    job_ids = [job_id for job_id in queue.get_job_ids() + queue.started_job_registry.get_job_ids()
               if job_id.startswith(BATCH_PREFIX)]
    return {connection_id for job in Job.fetch_many(job_ids, connection=queue.connection)
            if job is not None and _known_state(job) in ("queued", "started") for connection_id in job.args[0]}


def enqueue_calendars(connection_ids: list[uuid.UUID | str]) -> str:
    """Queue the first sync of one account's calendars as one job that runs them side by side (see
    jobs.sync.sync_calendars); returns its job id."""
    ids = [str(connection_id) for connection_id in connection_ids]
    job_id = f"{BATCH_PREFIX}{ids[0]}"
    _enqueue([_Wanted(job_id, "jobs.sync.sync_calendars", (ids,), None)])
    return job_id


def enqueue_search_index(connection_id: uuid.UUID | str) -> str:
    """Queue computing the search vectors a large sync left for later (jobs.sync.index_search); one waiting or
    running already covers whatever this sync added."""
    job_id = f"index-search-{connection_id}"
    _enqueue([_Wanted(job_id, "jobs.sync.index_search", (str(connection_id),), None)])
    return job_id


def enqueue_push(event_id: uuid.UUID | str, connection_id: uuid.UUID | str | None = None) -> str:
    """Queue sending one locally changed event to its provider now, replacing a retry that waits; with
    `connection_id`, a push left "started" by a worker that died is replaced too."""
    return enqueue_pushes([(event_id, connection_id)])[0]


def enqueue_push_after(event_id: uuid.UUID | str, delay: timedelta) -> str:
    """Queue the push of a change that can still be undone (a deletion) to run after `delay`: a push of the event
    waiting or queued is replaced, one already running is left to finish."""
    job_id = f"push-event-{event_id}"
    queue = sync_queue()
    job = queue.fetch_job(job_id)
    if job is not None and _state(job) == "started":
        return job_id
    with queue.connection.pipeline() as pipeline:
        if job is not None:
            _discard(queue, job, pipeline)
        pipeline.execute()
    queue.enqueue_in(delay, "jobs.sync.push_event", str(event_id), job_id=job_id, job_timeout=SYNC_JOB_TIMEOUT,
                     retry=PUSH_RETRY, result_ttl=600, failure_ttl=7 * 86400)
    return job_id


def enqueue_pushes(events: list[tuple[uuid.UUID | str, uuid.UUID | str | None]]) -> list[str]:
    """`enqueue_push` for many (event id, connection id) pairs in two round trips to Redis."""
    wanted = [_Wanted(f"push-event-{event_id}", "jobs.sync.push_event", (str(event_id),),
                      str(connection_id) if connection_id else None, retry=PUSH_RETRY, replace_waiting=True)
              for event_id, connection_id in events]
    _enqueue(wanted)
    return [item.job_id for item in wanted]


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


def _enqueue(wanted: list[_Wanted], *, cancel: tuple[str, ...] | list[str] = (), queue_name: str = SYNC_QUEUE) -> None:
    """Read every job involved at once, then in one pipeline: drop the `cancel` jobs not yet started, drop what
    stands in the way (a finished run, a waiting retry to replace, a run whose worker died) and queue the rest.
    A job that is already queued, waiting (unless replaced) or running stays as it is: nothing is queued twice."""
    if not wanted:
        return
    queue = sync_queue(queue_name)
    found = Job.fetch_many([item.job_id for item in wanted] + list(cancel), connection=queue.connection)
    existing, cancelled = found[:len(wanted)], found[len(wanted):]
    dead = _dead_runs([(item, job) for item, job in zip(wanted, existing, strict=True)])
    to_queue = []
    with queue.connection.pipeline() as pipeline:
        for job in cancelled:
            if job is not None and _known_state(job) != "started":
                _discard(queue, job, pipeline)
        for item, job in zip(wanted, existing, strict=True):
            state = _known_state(job) if job is not None else None
            if state == "started" and item.job_id in dead:
                log.warning("replacing a job whose worker died job_id=%s", item.job_id)
                job.delete(pipeline=pipeline)
            elif state == "queued" or state == "started" or (
                    state in ("scheduled", "deferred") and not item.replace_waiting):
                log.info("already queued job_id=%s", item.job_id)
                continue
            elif job is not None:
                _discard(queue, job, pipeline)
            to_queue.append(Queue.prepare_data(
                item.func, item.args, job_id=item.job_id, timeout=SYNC_JOB_TIMEOUT, retry=item.retry,
                result_ttl=600, failure_ttl=7 * 86400))
        queue.enqueue_many(to_queue, pipeline=pipeline)
        pipeline.execute()


def _discard(queue: Queue, job: Job, pipeline) -> None:
    """Remove a job that is not running, from wherever it waits or was kept, without reading anything (on the
    queue it was put on: a pull once queued as "sync" may now be wanted on "live")."""
    if job.origin and job.origin != queue.name:
        queue = Queue(job.origin, connection=queue.connection)
    pipeline.lrem(queue.key, 0, job.id)
    for registry in (queue.finished_job_registry, queue.failed_job_registry, queue.scheduled_job_registry,
                     queue.deferred_job_registry, queue.canceled_job_registry):
        registry.remove(job.id, pipeline=pipeline)
    pipeline.delete(job.key, job.dependents_key, job.dependencies_key)


def _known_state(job: Job) -> str | None:
    status = job.get_status(refresh=False)
    return status.value if status else None


def _state(job: Job) -> str | None:
    status = job.get_status(refresh=True)
    return status.value if status else None


def _dead_runs(candidates: list[tuple[_Wanted, Job | None]]) -> set[str]:
    """Job ids "started" for longer than a live run takes to lock its connection, whose lock nobody holds: their
    worker died. One query for all of them."""
    suspects = {}
    for item, job in candidates:
        if job is None or item.connection_id is None or _known_state(job) != "started" or job.started_at is None:
            continue
        if datetime.now(UTC) - job.started_at.replace(tzinfo=UTC) >= ABANDONED_AFTER:
            suspects[uuid.UUID(item.connection_id)] = item.job_id
    if not suspects:
        return set()
    alive = running_syncs(db.session, list(suspects))
    return {job_id for connection_id, job_id in suspects.items() if connection_id not in alive}


def is_sync_queued(connection_id: uuid.UUID | str) -> bool:
    """A pull of the connection waits in the queue. (One that runs holds the connection's lock: see
    webapp.locks.running_syncs, which also forgets a pull whose worker died.)"""
    job = sync_queue().fetch_job(sync_job_id(connection_id))
    return job is not None and _state(job) == "queued"
