"""The schedule is declared once and registered idempotently, however often and by however many schedulers."""
from __future__ import annotations

import importlib
import os
import threading
import time
from contextlib import contextmanager

import pytest
from rq import Queue
from rq_scheduler import Scheduler

from jobs.cli import jobs_cli
from jobs.schedule import QUEUE, SCHEDULE, Periodic, catch_up, reconcile

# rq-scheduler's crontab dependency announces a future change of default; we pass no naive times of our own.
pytestmark = pytest.mark.filterwarnings("ignore:Version 0.22.0\\+ of crontab:FutureWarning")

# The seed's maintenance windows, in UTC.
SEED_WINDOWS = {
    "purge-deleted-events": "0 0 * * *",
    "vacuum-analyze": "30 0 * * *",
    "refresh-table-statistics": "0 1 * * *",
    "refresh-expiring-tokens": "0 * * * *",
    "purge-oauth-states": "15 * * * *",
    "purge-dead-links": "25 * * * *",
    "archive-audit-logs": "30 * * * *",
    "record-health-metrics": "45 * * * *",
    "sync-sweep": "*/5 * * * *",
    "purge-expired-sessions": "20 * * * *",
    "record-feed-access": "10 0 * * *",  # yesterday's feed requests, one audit row per feed
    "watch-maintain": "*/15 * * * *",  # notification channels: make, renew, stop
    "live-caldav": "* * * * *",  # CalDAV calendars with a tab open
}


def registered(redis) -> dict[str, tuple[str, str, int]]:
    jobs = Scheduler(queue_name=QUEUE, connection=redis).get_jobs()
    return {job.id: (job.meta["cron_string"], job.func_name, job.timeout) for job in jobs}


def test_schedule_matches_the_maintenance_windows():
    assert {job.id: job.cron for job in SCHEDULE} == SEED_WINDOWS
    assert {job.func for job in SCHEDULE if job.func.startswith("jobs.sync.")} == {
        "jobs.sync.sweep", "jobs.sync.refresh_expiring_tokens", "jobs.sync.check_open_calendars"}


def test_every_scheduled_function_exists():
    for job in SCHEDULE:
        module_name, _, function_name = job.func.rpartition(".")
        assert callable(getattr(importlib.import_module(module_name), function_name)), job.func


def test_reconcile_registers_everything_once_and_is_idempotent(redis):
    first = reconcile(redis)
    assert sorted(first["added"]) == sorted(SEED_WINDOWS) and first["removed"] == []
    expected = {job.id: (job.cron, job.func, job.timeout) for job in SCHEDULE}
    assert registered(redis) == expected
    assert reconcile(redis) == {"added": [], "removed": []}
    assert registered(redis) == expected
    assert redis.zcard(Scheduler(queue_name=QUEUE, connection=redis).scheduled_jobs_key) == len(SCHEDULE)


def test_only_the_sync_sweep_catches_up_and_only_when_it_was_just_registered(redis):
    added = reconcile(redis)["added"]
    assert catch_up(redis, added) == ["sync-sweep"]
    assert Queue(QUEUE, connection=redis).job_ids == ["sync-sweep-catch-up"]
    assert catch_up(redis, reconcile(redis)["added"]) == []  # already registered: the cron takes it from here
    assert Queue(QUEUE, connection=redis).job_ids == ["sync-sweep-catch-up"]


def test_two_schedulers_reconciling_at_once_do_not_double_jobs(redis):
    barrier = threading.Barrier(4)

    def start_scheduler():
        barrier.wait()
        reconcile(redis)

    threads = [threading.Thread(target=start_scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registered(redis)) == len(SCHEDULE)
    assert redis.zcard(Scheduler(queue_name=QUEUE, connection=redis).scheduled_jobs_key) == len(SCHEDULE)


def test_changed_and_removed_definitions_are_replaced(redis):
    reconcile(redis)
    changed = tuple(
        Periodic(job.id, "5 3 * * *", job.func, job.timeout) if job.id == "vacuum-analyze" else job
        for job in SCHEDULE if job.id != "sync-sweep"
    ) + (Periodic("brand-new", "0 4 * * *", "jobs.maintenance.vacuum_analyze"),)
    result = reconcile(redis, changed)
    assert sorted(result["removed"]) == ["sync-sweep", "vacuum-analyze"]
    assert sorted(result["added"]) == ["brand-new", "vacuum-analyze"]
    assert registered(redis)["vacuum-analyze"][0] == "5 3 * * *"
    assert set(registered(redis)) == {job.id for job in changed}


def test_only_one_rqscheduler_process_enqueues_a_due_job(redis):
    reconcile(redis)
    first, second = (Scheduler(queue_name=QUEUE, connection=redis) for _ in range(2))
    assert first.acquire_lock() and not second.acquire_lock()  # the second process waits its turn
    # Make one job due now, then let both schedulers tick: it is queued once and rescheduled, not doubled.
    redis.zadd(first.scheduled_jobs_key, {"purge-oauth-states": time.time() - 1})
    first.enqueue_jobs()
    second.enqueue_jobs()
    assert Queue(QUEUE, connection=redis).job_ids == ["purge-oauth-states"]
    assert redis.zscore(first.scheduled_jobs_key, "purge-oauth-states") > time.time()
    assert len(registered(redis)) == len(SCHEDULE)


@contextmanager
def local_time_zone(name: str):
    original = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if original is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = original
        time.tzset()


def test_scheduling_refuses_a_non_utc_process(app, redis):
    runner = app.test_cli_runner()
    with local_time_zone("America/New_York"):
        refused = runner.invoke(jobs_cli, ["schedule"])
    assert refused.exit_code == 1 and "set TZ=UTC" in refused.output
    assert registered(redis) == {}
    with local_time_zone("UTC"):
        accepted = runner.invoke(jobs_cli, ["schedule"])
    assert accepted.exit_code == 0 and f"added {len(SCHEDULE)}, removed 0" in accepted.output
