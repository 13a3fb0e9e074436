"""The whole periodic schedule, in one place (UTC). The scheduler process (jobs/scheduler.py) reconciles
rq-scheduler with it on every tick; `flask jobs schedule` does it once by hand."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq_scheduler import Scheduler

log = logging.getLogger(__name__)

QUEUE = "default"


@dataclass(frozen=True)
class Periodic:
    id: str  # stable: reconciliation matches on it, and `flask maintenance run ID` finds the job by it
    cron: str  # UTC
    func: str  # dotted path, so registering does not import job code
    timeout: int = 600
    # Also run at once whenever the job had to be (re-)registered: on a first start, or after Redis came back
    # empty. Nothing then waits for the next tick of the cron to catch up on what was lost.
    catch_up: bool = False


SCHEDULE: tuple[Periodic, ...] = (
    # Daily
    Periodic("purge-deleted-events", "0 0 * * *", "jobs.maintenance.purge_deleted_events"),
    Periodic("vacuum-analyze", "30 0 * * *", "jobs.maintenance.vacuum_analyze", timeout=1800),
    Periodic("refresh-table-statistics", "0 1 * * *", "jobs.maintenance.refresh_table_statistics", timeout=1800),
    Periodic("record-feed-access", "10 0 * * *", "jobs.maintenance.record_feed_access"),
    # Hourly
    Periodic("refresh-expiring-tokens", "0 * * * *", "jobs.sync.refresh_expiring_tokens"),
    Periodic("purge-oauth-states", "15 * * * *", "jobs.maintenance.purge_oauth_states"),
    Periodic("purge-dead-links", "25 * * * *", "jobs.maintenance.purge_dead_links"),
    Periodic("purge-expired-sessions", "20 * * * *", "jobs.maintenance.purge_expired_sessions"),
    Periodic("archive-audit-logs", "30 * * * *", "jobs.maintenance.archive_audit_logs"),
    Periodic("record-health-metrics", "45 * * * *", "jobs.maintenance.record_health_metrics"),
    # Every 15 minutes: make missing notification channels, renew those running out, stop the unwanted.
    Periodic("watch-maintain", "*/15 * * * *", "jobs.watch.maintain", timeout=300),
    # Every minute: CalDAV calendars (no push) of users with a calendar tab open.
    Periodic("live-caldav", "* * * * *", "jobs.sync.check_open_calendars", timeout=50),
    # Every 5 minutes; the timeout keeps one sweep from overlapping the next.
    # Lost sync and push jobs are found again by the sweep: it reads what is due from the database, not Redis.
    Periodic("sync-sweep", "*/5 * * * *", "jobs.sync.sweep", timeout=240, catch_up=True),
)


def is_local_time_utc() -> bool:
    """rq-scheduler (0.14) reads cron strings in the process's local time whatever `use_local_timezone` says,
    so the schedule is only in UTC when the scheduler process runs in UTC. Checked in winter and summer."""
    return all(datetime(2026, month, 1).astimezone().utcoffset() == timedelta(0) for month in (1, 7))


def find(job_id: str, schedule: tuple[Periodic, ...] = SCHEDULE) -> Periodic | None:
    return next((job for job in schedule if job.id == job_id), None)


def reconcile(redis: Redis, schedule: tuple[Periodic, ...] = SCHEDULE) -> dict[str, list[str]]:
    """Make rq-scheduler hold exactly `schedule`: cancel what is no longer listed or changed, add what is missing.

    Safe to run from every scheduler start and from two schedulers at once: ids are stable, so a job that
    is already registered with the same definition is left alone, and re-adding one overwrites it in place.
    """
    scheduler = Scheduler(queue_name=QUEUE, connection=redis)
    wanted = {job.id: job for job in schedule}
    registered = {job.id: job for job in scheduler.get_jobs()}
    removed, added = [], []
    for job_id, job in registered.items():
        definition = wanted.get(job_id)
        if definition is None or _differs(job, definition):
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
    if added or removed:
        log.info("schedule reconciled added=%s removed=%s", added, removed)
    return {"added": added, "removed": removed}


def catch_up(redis: Redis, added: list[str], schedule: tuple[Periodic, ...] = SCHEDULE) -> list[str]:
    """Queue a run now of each just-registered job that asks for one; returns their ids."""
    queued = []
    for definition in schedule:
        if definition.catch_up and definition.id in added:
            Queue(QUEUE, connection=redis).enqueue(
                definition.func, job_id=f"{definition.id}-catch-up", job_timeout=definition.timeout, result_ttl=600)
            queued.append(definition.id)
    return queued


def _differs(job, definition: Periodic) -> bool:
    return (
        job.meta.get("cron_string") != definition.cron
        or job.func_name != definition.func
        or job.timeout != definition.timeout
    )
