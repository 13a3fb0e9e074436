"""Memory of an `rq worker` as the Procfile runs it: resident size at rest, and the peak of the worker and the
work horse it forks while a 100,000-event calendar syncs (pages are stored as they arrive, never held together).

Run: `python -m bench [--quick] worker_memory`.
"""
from __future__ import annotations

import time

import psutil
from rq import Queue

from bench.harness import row
from bench.sync_env import connect_oauth, connections_of, logged_in, new_user, sync_bench
from bench.sync_first import rq_workers
from webapp.extensions import redis_client

REST_TARGET_MB, GROWTH_TARGET_MB = 150, 50


def in_use_mb(worker: psutil.Process) -> float:
    """The worker's resident set plus what its children (the horse of the job in hand) hold of their own (USS):
    a forked horse shares the worker's pages until it writes them, so adding its whole resident set would count
    those twice."""
    total = worker.memory_info().rss
    for child in worker.children(recursive=True):
        try:
            total += child.memory_full_info().uss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def measure(quick: bool = False, scale: int = 1) -> list[dict]:
    events = 2_000 if quick else 100_000 * scale
    with sync_bench(google=[f"huge@gmail.com:1:{events}"]) as bench:
        user = new_user("huge@example.com")
        client = logged_in(bench.app, user)
        queue = Queue("sync", connection=redis_client())
        with rq_workers(bench, 1) as (worker,):
            time.sleep(2)
            rest = psutil.Process(worker.pid).memory_info().rss / 2**20
            connect_oauth(bench, client, "google", "huge@gmail.com")  # queues the first sync
            process, peak, started = psutil.Process(worker.pid), rest, time.perf_counter()
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                peak = max(peak, in_use_mb(process))
                if queue.finished_job_registry.count + queue.failed_job_registry.count >= 1:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        (connection,) = connections_of(user.id)
    synced = "synced" if connection.last_synced_at else "NOT synced"
    return [
        row("rq worker at rest (resident)", rest, "MB", f"<= {REST_TARGET_MB} MB", rest <= REST_TARGET_MB),
        row(f"growth while syncing {events:,} events: worker RSS + horse USS (peak {peak:.0f} MB, {seconds:.0f} s, "
            f"{synced})", peak - rest, "MB", f"<= +{GROWTH_TARGET_MB} MB",
            peak - rest <= GROWTH_TARGET_MB and connection.last_synced_at is not None),
    ]


def run(quick: bool = False, scale: int = 1) -> dict:
    return {"title": "rq worker memory (resident set), as the Procfile runs it", "rows": measure(quick, scale)}

