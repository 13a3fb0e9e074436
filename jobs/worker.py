"""The worker process the Procfile runs: `python -m jobs.worker --url $REDIS_URL live sync default`.

RQ's own loop quits on a Redis timeout or on any error outside its dequeue; this process instead starts a fresh
worker after a backoff (1 s doubling to 30 s), so a Redis outage or restart never ends it. Only SIGTERM/SIGINT do.
"""
from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import StopRequested
from rq.worker import HerokuWorker

from webapp import heartbeat
from webapp.backoff import Backoff
from webapp.extensions import connect_redis
from webapp.observability import configure_log_handler

log = logging.getLogger("jobs.worker")

# Platforms kill a process about 30 s after SIGTERM; stopping the job ourselves before that records it as failed
# and lets its Retry put it back on the queue for another worker, instead of leaving it to heartbeat expiry.
# `--shutdown-grace` sets it for a platform with another kill timeout.
SHUTDOWN_GRACE_SECONDS = 20
# RQ waits up to worker_ttl - 15 s for a job, so the worker beats (and notices a dead Redis) every 15 s when idle;
# while a job runs, it beats every JOB_MONITORING_SECONDS.
WORKER_TTL_SECONDS = 30
JOB_MONITORING_SECONDS = 10
# Longer than the idle wait, so an idle wait never times out; a Redis stall shorter than this is simply waited out.
REDIS_TIMEOUT_SECONDS = 60
# RQ's maintenance also restarts its scheduler process (retries, enqueue_in) if a Redis outage ended it.
MAINTENANCE_INTERVAL_SECONDS = 30


class GracefulWorker(HerokuWorker):
    """On SIGTERM the job in hand may run SHUTDOWN_GRACE_SECONDS more; if it is not done by then it is stopped
    (ShutDownImminentException in the job) and re-queued through its retries. Writes the process heartbeat the
    admin health page lists, alongside RQ's own."""

    imminent_shutdown_delay = SHUTDOWN_GRACE_SECONDS
    max_connection_wait_time = 30.0  # RQ's own retry while waiting for a job: 1 s doubling, capped like ours
    doing = "idle"

    def execute_job(self, job, queue):
        self.doing = f"running {job.id}"
        try:
            return super().execute_job(job, queue)
        finally:
            self.doing = "idle"

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if not self.is_horse:
            started_at = self.birth_date or datetime.now(UTC)
            heartbeat.beat(pipeline if pipeline is not None else self.connection, "worker",
                           started_at=started_at.replace(tzinfo=UTC), detail=self.doing)


def run(redis: Redis, queues: list[str], *, backoff: Backoff | None = None,
        shutdown_grace: int = SHUTDOWN_GRACE_SECONDS) -> int:
    """Work until SIGTERM/SIGINT; after anything else that ends RQ's loop, start again after a backoff."""
    backoff = backoff or Backoff()
    stop = threading.Event()
    while True:
        started, worker = time.monotonic(), None
        try:
            worker = GracefulWorker(queues, connection=redis, worker_ttl=WORKER_TTL_SECONDS,
                                    job_monitoring_interval=JOB_MONITORING_SECONDS,
                                    maintenance_interval=MAINTENANCE_INTERVAL_SECONDS)
            worker.imminent_shutdown_delay = shutdown_grace
            worker.work(with_scheduler=True, logging_level="INFO")
            reason = "its loop ended"  # RQ logged why (a Redis timeout, or an error outside a job)
        except RedisError as error:  # Redis unreachable while starting up or while signing off
            reason = f"Redis unreachable ({type(error).__name__})"
        finally:
            if worker is not None:
                _let_go(worker)
        if worker is not None and worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT reached RQ
            return 0
        delay = backoff.next_delay(ran_for=time.monotonic() - started)
        log.warning("worker stopped: %s; starting a fresh worker in %.0f s", reason, delay)
        _install_stop_handlers(stop)
        if stop.wait(delay):
            return 0


def _let_go(worker: GracefulWorker) -> None:
    """Stop what the finished worker left running that needs no Redis to stop: its pub/sub listener thread.
    (RQ's teardown does this after registering the death, which fails while Redis is down.)"""
    if worker.pubsub_thread is not None and worker.pubsub_thread.is_alive():
        worker.pubsub_thread.stop()
        worker.pubsub_thread.join(timeout=1)


def _install_stop_handlers(stop: threading.Event) -> None:
    def request_stop(signum, _frame):
        log.info("worker stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _preload_app() -> None:
    """Build the app before RQ forks a work horse per job, so every horse starts with it ready instead of
    importing and building it again (seconds per job on a busy machine). A worker for other queues may run
    without the app's settings: its jobs build what they need themselves."""
    from jobs import job_app
    from webapp.config import ConfigError

    try:
        job_app()
    except ConfigError as error:
        log.info("app not built ahead of the jobs: %s", error)
    # What exists now stays out of the collector's reach: a horse's collections would otherwise write to every
    # object it inherited and so copy the pages it shares with the worker.
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Almanac's RQ worker, which outlives Redis outages.")
    parser.add_argument("--url", required=True, help="Redis URL")
    parser.add_argument("--shutdown-grace", type=int, default=SHUTDOWN_GRACE_SECONDS, metavar="SECONDS",
                        help="how long the job in hand may run after SIGTERM; keep it under the platform's kill "
                             f"timeout (default {SHUTDOWN_GRACE_SECONDS})")
    parser.add_argument("queues", nargs="+")
    arguments = parser.parse_args(argv)
    configure_log_handler("text", "INFO")  # the same handler the app re-points when a job builds it
    _preload_app()
    try:
        return run(connect_redis(arguments.url, timeout=REDIS_TIMEOUT_SECONDS), arguments.queues,
                   shutdown_grace=arguments.shutdown_grace)
    except StopRequested:  # SIGTERM landed in RQ's handler between two workers
        return 0


if __name__ == "__main__":
    sys.exit(main())
