"""The whole periodic schedule, in one place. `flask jobs schedule` reconciles rq-scheduler with it."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from rq_scheduler import Scheduler

log = logging.getLogger(__name__)

QUEUE = "default"


@dataclass(frozen=True)
class Periodic:
    id: str  # stable: reconciliation matches on it
    cron: str  # UTC
    func: str  # dotted path, so registering does not import job code
    timeout: int = 600


SCHEDULE: tuple[Periodic, ...] = (
    Periodic("purge-expired-sessions", "20 * * * *", "jobs.maintenance.purge_expired_sessions"),
)


def reconcile(redis: Redis, schedule: tuple[Periodic, ...] = SCHEDULE) -> dict[str, list[str]]:
    """Make rq-scheduler hold exactly `schedule`: cancel what is no longer listed or changed, add what is missing.

    Safe to run from every scheduler start and from two schedulers at once: ids are stable, so a job that
    is already registered with the same definition is left alone.
    """
    scheduler = Scheduler(queue_name=QUEUE, connection=redis)
    wanted = {job.id: job for job in schedule}
    registered = {job.id: job for job in scheduler.get_jobs()}
    removed, added = [], []
    for job_id, job in registered.items():
        definition = wanted.get(job_id)
        if definition is None or job.meta.get("cron_string") != definition.cron or job.func_name != definition.func:
            scheduler.cancel(job)
            job.delete()
            removed.append(job_id)
    for job_id, definition in wanted.items():
        if job_id in registered and job_id not in removed:
            continue
        scheduler.cron(
            definition.cron,
            func=definition.func,
            id=definition.id,
            queue_name=QUEUE,
            timeout=definition.timeout,
            use_local_timezone=False,
        )
        added.append(job_id)
    log.info("schedule reconciled added=%s removed=%s", added, removed)
    return {"added": added, "removed": removed}
