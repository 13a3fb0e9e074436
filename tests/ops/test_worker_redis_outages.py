"""The worker process outlives Redis: killed, restarted empty, or gone mid-job, it reconnects with backoff and
carries on working; only SIGTERM ends it."""
from __future__ import annotations

import signal
import time

import pytest
from rq import Queue
from rq.job import JobStatus

from tests.helpers import spawn_worker, stop_worker, wait_for, wait_until_started
from webapp.extensions import connect_redis
from webapp.heartbeat import read_heartbeats

pytestmark = pytest.mark.slow  # a real worker process and a Redis killed twice, for half a minute


def finished(job) -> bool:
    return job.get_status(refresh=True) == JobStatus.FINISHED


def test_worker_outlives_redis_restarting_empty_and_dying_mid_job(redis_server):
    redis = connect_redis(redis_server.url, timeout=1)
    queue = Queue("outage", connection=redis)
    worker = spawn_worker(redis_server.url, queue.name)
    try:
        [beat] = wait_for(lambda: read_heartbeats(redis), 20, "the worker never reported")
        assert (beat.role, beat.pid) == ("worker", worker.pid)

        # Redis dies while the worker waits for work, and comes back with nothing in it.
        redis_server.process.kill()
        redis_server.process.wait()
        time.sleep(3)
        redis_server.restart()
        job = queue.enqueue("rq_sample_jobs.sleep_for", 0)
        wait_for(lambda: finished(job), 30, "the worker did not pick up work after Redis came back")

        # Redis dies while a job runs: the worker's own bookkeeping fails, RQ's loop ends, a fresh one starts.
        job = queue.enqueue("rq_sample_jobs.sleep_for", 12)
        wait_until_started(job)
        redis_server.process.kill()
        redis_server.process.wait()
        time.sleep(13)  # past the worker's next job check-in (every 10 s), which fails
        redis_server.restart()
        after = queue.enqueue("rq_sample_jobs.sleep_for", 0)
        wait_for(lambda: finished(after), 40, "the worker did not come back after losing Redis mid-job")
        assert worker.poll() is None
        assert any(beat.pid == worker.pid for beat in read_heartbeats(redis))
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=30)
        finally:
            stop_worker(worker)
    assert worker.returncode == 0, output
    assert "starting a fresh worker in" in output
