"""The scheduler process the Procfile runs: `python -m jobs.scheduler --url $REDIS_URL` (in UTC).

Every tick it makes sure the whole schedule is registered (so after Redis comes back empty it is back within one
tick, and the sync sweep runs at once), moves due jobs onto their queue under rq-scheduler's lock (so two
schedulers never queue a job twice), and writes its heartbeat. Redis errors never end it: it retries with
backoff, never waiting longer than one tick. Only SIGTERM/SIGINT do.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq_scheduler import Scheduler

from jobs.schedule import QUEUE, SCHEDULE, catch_up, is_local_time_utc, reconcile
from webapp import heartbeat
from webapp.backoff import Backoff
from webapp.extensions import connect_redis
from webapp.observability import configure_log_handler

log = logging.getLogger("jobs.scheduler")

TICK_SECONDS = 10
REDIS_TIMEOUT_SECONDS = 5


def tick(redis: Redis, scheduler: Scheduler, started_at: datetime) -> dict[str, list[str]]:
    """One round; returns what reconciling changed, and which jobs were queued at once to catch up."""
    changes = reconcile(redis)
    changes["caught_up"] = catch_up(redis, changes["added"])
    if scheduler.acquire_lock():
        try:
            scheduler.enqueue_jobs()
        finally:
            scheduler.remove_lock()
    heartbeat.beat(redis, "scheduler", started_at=started_at, detail=_next_run(redis, scheduler))
    return changes


def _next_run(redis: Redis, scheduler: Scheduler) -> str:
    upcoming = redis.zrange(scheduler.scheduled_jobs_key, 0, 0, withscores=True)
    if not upcoming:
        return ""
    job_id, when = upcoming[0]
    return f"next: {job_id.decode()} at {datetime.fromtimestamp(when, UTC):%H:%M:%S} UTC"


def run(redis: Redis, stop: threading.Event, tick_seconds: float = TICK_SECONDS) -> int:
    scheduler = Scheduler(queue_name=QUEUE, connection=redis, interval=tick_seconds)
    backoff = Backoff(cap=tick_seconds)
    started_at, ticks, failing = datetime.now(UTC), 0, False
    log.info("scheduler started jobs=%s tick=%ss", len(SCHEDULE), tick_seconds)
    while not stop.is_set():
        began = time.monotonic()
        try:
            changes = tick(redis, scheduler, started_at)
        except RedisError as error:
            failing, delay = True, backoff.next_delay()
            log.warning("scheduler cannot reach Redis error=%s; retrying in %.0f s", type(error).__name__, delay)
        else:
            if failing:
                log.info("scheduler reached Redis again")
            if ticks and changes["added"]:
                log.warning("schedule was missing from Redis (restarted without its data?); re-registered %s; "
                            "queued now: %s", ", ".join(changes["added"]), ", ".join(changes["caught_up"]) or "-")
            failing, ticks = False, ticks + 1
            backoff.reset()
            delay = max(tick_seconds - (time.monotonic() - began), 0)
        stop.wait(delay)
    with suppress(RedisError):
        scheduler.remove_lock()
    log.info("scheduler stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Almanac's scheduler, which outlives Redis outages.")
    parser.add_argument("--url", required=True, help="Redis URL")
    arguments = parser.parse_args(argv)
    configure_log_handler("text", "INFO")  # the same handler the app re-points when a job builds it
    if not is_local_time_utc():
        log.error("The scheduler must run in UTC (rq-scheduler reads cron times in local time): set TZ=UTC.")
        return 2
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("scheduler stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return run(connect_redis(arguments.url, timeout=REDIS_TIMEOUT_SECONDS), stop)


if __name__ == "__main__":
    sys.exit(main())
