"""What a real worker (as the Procfile starts it) does when the platform stops it.

SIGTERM is a warm shutdown: the worker lets the job in hand run for up to 20 s (`--shutdown-grace`), then stops it
and re-queues it through its retries, and exits within the platform's grace period. A worker killed outright
leaves its job in the started registry; once its heartbeat lapses RQ's registry cleanup (run by every
worker) re-queues it when it has retries left, or moves it to the failed registry, where the sync-health
page offers Retry.
"""
from __future__ import annotations

import signal
import subprocess
import time
import uuid

import psutil
import pytest
from rq import Queue, Retry
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from tests.helpers import spawn_worker, stop_worker, wait_until_started

pytestmark = pytest.mark.slow

# The worker's heartbeat covers the job for at most this long after the worker dies (RQ: 30 s + 60 s).
HEARTBEAT_GRACE_SECONDS = 90


@pytest.fixture
def queue(redis):
    return Queue(f"shutdown-{uuid.uuid4().hex[:8]}", connection=redis)


@pytest.fixture
def start_worker(app, queue):
    workers = []

    def start(*options: str) -> subprocess.Popen:
        worker = spawn_worker(app.config["REDIS_URL"], queue.name, options=options)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        stop_worker(worker)


def test_sigterm_lets_the_current_job_finish(queue, start_worker):
    job = queue.enqueue("rq_sample_jobs.sleep_for", 2)
    worker = start_worker()
    wait_until_started(job)
    stopped_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=25)
    assert worker.returncode == 0, output
    assert time.monotonic() - stopped_at < 25
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() == "slept 2"
    assert output.index("warm shut down requested") < output.index("Successfully completed")
    assert "raising ShutDownImminentException in 20 seconds" in output  # the Procfile's worker: a 20 s grace


def test_sigterm_stops_a_long_job_in_time_and_requeues_it(queue, start_worker):
    # A 3-second grace (the same path as the default 20 s) keeps the suite quick.
    job = queue.enqueue("rq_sample_jobs.sleep_for", 120, retry=Retry(max=2))
    worker = start_worker("--shutdown-grace", "3")
    wait_until_started(job)
    stopped_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=40)
    stopped_after = time.monotonic() - stopped_at
    assert worker.returncode == 0, output
    assert 3 <= stopped_after < 10, stopped_after  # the job had its grace, and no more
    assert "raising ShutDownImminentException in 3 seconds" in output
    assert job.get_status(refresh=True) == JobStatus.QUEUED and queue.job_ids == [job.id]
    assert "ShutDownImminentException" in output


@pytest.mark.parametrize("retries", [1, 0])
def test_a_killed_workers_job_is_requeued_or_failed_for_retry(queue, start_worker, retries):
    job = queue.enqueue("rq_sample_jobs.sleep_for", 60, retry=Retry(max=retries) if retries else None)
    worker = start_worker()
    wait_until_started(job)
    horse = psutil.Process(worker.pid).children()
    worker.kill()  # SIGKILL: the platform's answer to a worker that outlived its grace period
    worker.wait()
    for process in horse:
        process.kill()

    started = StartedJobRegistry(queue=queue)
    assert job.id in started.get_job_ids(cleanup=False)
    started.cleanup(timestamp=time.time() + HEARTBEAT_GRACE_SECONDS + 1)  # what the next worker does
    if retries:
        assert job.get_status(refresh=True) == JobStatus.QUEUED
        assert queue.job_ids == [job.id]
    else:
        assert job.get_status(refresh=True) == JobStatus.FAILED
        assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
