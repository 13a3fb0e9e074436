"""The scheduler process registers the schedule itself, runs a sync sweep at once when the schedule had to be
registered, and after Redis comes back empty has the schedule back within one tick; it never exits on its own."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rq import Queue
from rq_scheduler import Scheduler

from jobs.schedule import QUEUE, SCHEDULE
from jobs.scheduler import TICK_SECONDS
from tests.helpers import seconds_until, wait_for
from webapp.config import PROJECT_ROOT
from webapp.extensions import connect_redis
from webapp.heartbeat import read_heartbeats

pytestmark = pytest.mark.slow  # a real scheduler process and a Redis killed under it, for two ticks and more


def registered_ids(redis) -> set[str]:
    return {job_id.decode() for job_id in redis.zrange(Scheduler.scheduled_jobs_key, 0, -1)}



def test_scheduler_process_restores_the_schedule_after_redis_restarts_empty(redis_server):
    redis = connect_redis(redis_server.url, timeout=1)
    queue = Queue(QUEUE, connection=redis)
    expected = {job.id for job in SCHEDULE}
    scheduler = subprocess.Popen([sys.executable, "-m", "jobs.scheduler", "--url", redis_server.url],
                                 env=os.environ | {"TZ": "UTC"}, cwd=PROJECT_ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # A first start registers everything and syncs what is due at once.
        wait_for(lambda: registered_ids(redis) == expected and "sync-sweep-catch-up" in queue.job_ids, 20)
        wait_for(lambda: [beat.role for beat in read_heartbeats(redis)] == ["scheduler"], 5)

        redis_server.process.kill()
        redis_server.process.wait()
        time.sleep(TICK_SECONDS + 1)  # so at least one tick fails meanwhile
        redis_server.restart()  # empty: no schedule, no queue
        seconds = seconds_until(lambda: registered_ids(redis) == expected and queue.job_ids == ["sync-sweep-catch-up"],
                           TICK_SECONDS + 2)
        print(f"schedule back {seconds:.1f} s after Redis restarted empty")
        assert scheduler.poll() is None
        wait_for(lambda: len(read_heartbeats(redis)) == 1, 2)
        [beat] = read_heartbeats(redis)
        assert beat.pid == scheduler.pid and beat.detail.startswith("next: ")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        output, _ = scheduler.communicate(timeout=20)
    assert scheduler.returncode == 0, output
    assert "scheduler cannot reach Redis error=ConnectionError; retrying in 1 s" in output
    assert "schedule was missing from Redis" in output
    assert not redis.exists(Scheduler.scheduler_lock_key)
