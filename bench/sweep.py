"""The 5-minute sweep over 3,000 connections that have nothing new: how long queuing them takes (the sweep job's
own work: one query and one Redis pipeline) and how long two real `rq worker` processes take to drain the queue.

Run: `python -m bench [--quick] sweep`.
"""
from __future__ import annotations

import math
import time
from unittest import mock

from rq import Queue
from sqlalchemy import text

import jobs.sync
from bench.harness import row
from bench.sync_env import connect_oauth, connections_of, logged_in, new_user, sync_bench
from bench.sync_first import rq_workers
from webapp.extensions import db, redis_client
from webapp.sync import runner
from webapp.sync.queue import SWEEP_BATCH

ENQUEUE_TARGET_SECONDS, DRAIN_TARGET_SECONDS = 1.0, 60.0


def drain(queue: Queue, jobs: int, timeout: float) -> float:
    """Seconds until `jobs` jobs have run (or `timeout`)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue.finished_job_registry.count + queue.failed_job_registry.count >= jobs:
            break
        time.sleep(0.1)
    return time.perf_counter() - started


def measure(quick: bool = False, scale: int = 1) -> list[dict]:
    calendars = 60 if quick else 3_000 * scale
    with sync_bench(google=[f"many@gmail.com:{calendars}:1"]) as bench:
        user = new_user("many@example.com")
        connect_oauth(bench, logged_in(bench.app, user), "google", "many@gmail.com")
        assert len(connections_of(user.id)) == calendars
        queue = Queue("sync", connection=redis_client())
        queue.empty()  # the first syncs Connect queued run here instead, four at a time, to save the time
        started = time.perf_counter()
        with mock.patch.object(jobs.sync, "job_app", lambda: bench.app):
            jobs.sync.sync_calendars([str(connection.id) for connection in connections_of(user.id)])
        first_seconds = time.perf_counter() - started
        with rq_workers(bench, 2):
            db.session.execute(text("UPDATE calendar_connections SET last_synced_at = now() - interval '6 minutes'"))
            db.session.commit()
            db.session.remove()
            for registry in (queue.finished_job_registry, queue.failed_job_registry):
                for job_id in registry.get_job_ids():
                    registry.remove(job_id, delete_job=True)

            started = time.perf_counter()
            counts = runner.sweep(db.session)
            enqueue_seconds = time.perf_counter() - started
            queued_jobs = math.ceil(counts["connections"] / SWEEP_BATCH)  # none was queued already
            drain_seconds = drain(queue, queued_jobs, 600)
        db.session.remove()
        synced = db.session.scalar(text("SELECT count(*) FROM calendar_connections "
                                        "WHERE last_synced_at > now() - interval '5 minutes'"))
    rows = [
        row(f"sweep of {counts['connections']:,} due connections: queued", enqueue_seconds, "s",
            f"<= {ENQUEUE_TARGET_SECONDS:.0f} s", enqueue_seconds <= ENQUEUE_TARGET_SECONDS),
        row(f"... drained by 2 rq workers ({queued_jobs} jobs of up to {SWEEP_BATCH} calendars; {synced:,} synced)",
            drain_seconds, "s", f"<= {DRAIN_TARGET_SECONDS:.0f} s",
            drain_seconds <= DRAIN_TARGET_SECONDS and synced >= calendars),
    ]
    return rows, [f"The first syncs of the {calendars:,} calendars (in this process, 4 at a time) took "
                  f"{first_seconds:.1f} s."]


def run(quick: bool = False, scale: int = 1) -> dict:
    rows, notes = measure(quick, scale)
    return {"title": "The 5-minute sweep over connections with nothing new", "rows": rows, "notes": notes}

