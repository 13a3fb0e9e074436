"""The 5-minute sweep over 3,000 connections that have nothing new: how long queuing them takes (the sweep job's
own work: one query and one Redis pipeline) and how long two real `rq worker` processes take to drain the queue.

Run: `python -m bench.sweep [--quick]`.
"""
from __future__ import annotations

import sys
import time

from rq import Queue
from sqlalchemy import text

from bench.sync_env import connect_oauth, connections_of, logged_in, new_user, print_table, sync_bench
from bench.sync_first import rq_workers
from webapp.extensions import db, redis_client
from webapp.sync import runner

ENQUEUE_TARGET_SECONDS, DRAIN_TARGET_SECONDS = 1.0, 60.0


def drain(queue: Queue, expected: int, timeout: float) -> tuple[float, int]:
    """Seconds until every queued job ran (or `timeout`), and how many finished."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = queue.finished_job_registry.count + queue.failed_job_registry.count
        if finished >= expected and queue.count == 0:
            break
        time.sleep(0.1)
    return time.perf_counter() - started, queue.finished_job_registry.count


def measure(quick: bool = False, scale: int = 1) -> list[dict]:
    calendars = 60 if quick else 3_000 * scale
    with sync_bench(google=[f"many@gmail.com:{calendars}:1"]) as bench:
        user = new_user("many@example.com")
        connect_oauth(bench, logged_in(bench.app, user), "google", "many@gmail.com")
        assert len(connections_of(user.id)) == calendars
        queue = Queue("sync", connection=redis_client())
        with rq_workers(bench, 2):
            # The first (full) syncs, queued by the connect flow itself.
            first_seconds, _ = drain(queue, calendars, 600)
            db.session.execute(text("UPDATE calendar_connections SET last_synced_at = now() - interval '6 minutes'"))
            db.session.commit()
            db.session.remove()
            for registry in (queue.finished_job_registry, queue.failed_job_registry):
                for job_id in registry.get_job_ids():
                    registry.remove(job_id, delete_job=True)

            started = time.perf_counter()
            counts = runner.sweep(db.session)
            enqueue_seconds = time.perf_counter() - started
            drain_seconds, finished = drain(queue, calendars, 600)
        db.session.remove()
        synced = db.session.scalar(text("SELECT count(*) FROM calendar_connections "
                                        "WHERE last_synced_at > now() - interval '5 minutes'"))
    print(f"\n(first syncs of the {calendars:,} calendars, queued by Connect, drained in {first_seconds:.1f} s)")
    return [
        {"what": f"sweep of {counts['connections']:,} due connections: queued", "measured": f"{enqueue_seconds:.2f} s",
         "target": f"≤ {ENQUEUE_TARGET_SECONDS:.0f} s", "met": enqueue_seconds <= ENQUEUE_TARGET_SECONDS},
        {"what": f"… drained by 2 rq workers ({finished:,} finished, {synced:,} synced)",
         "measured": f"{drain_seconds:.1f} s", "target": f"≤ {DRAIN_TARGET_SECONDS:.0f} s",
         "met": drain_seconds <= DRAIN_TARGET_SECONDS and finished >= calendars},
    ]


def run(quick: bool = False, scale: int = 1) -> dict:
    return {"name": "sweep", "title": "The sweep, nothing new", "rows": measure(quick, scale)}


def main() -> None:
    result = run(quick="--quick" in sys.argv)
    print_table(result["title"], result["rows"])


if __name__ == "__main__":
    main()
