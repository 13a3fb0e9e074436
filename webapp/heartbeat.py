"""Process heartbeats: every web, worker and scheduler process writes one small key to Redis every few seconds, so
the admin health page can show which processes are alive, which went silent, and which role has none at all."""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Flask
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

ROLES = ("web", "worker", "scheduler")
KEY_PREFIX = "heartbeat:"
BEAT_SECONDS = 10
# Three missed beats (a worker beats at least every 15 s, also while it runs a job).
SILENT_AFTER = timedelta(seconds=45)
# A process that died stays listed, as silent, for this long; then its key expires.
KEY_TTL_SECONDS = 600

MISSING_ROLE_MESSAGES = {
    "web": "No web process has reported.",
    "worker": "No worker is running: syncs, pushes and maintenance jobs are waiting in the queue.",
    "scheduler": "No scheduler is running: periodic syncs and maintenance are not being started.",
}


@dataclass(frozen=True)
class Heartbeat:
    role: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    detail: str = ""

    def silent_for(self, now: datetime) -> timedelta:
        return max(now - self.beat_at, timedelta(0))

    def has_exited(self) -> bool:
        """Known gone: it ran on this host and its pid is free. (Elsewhere only its silence can tell.)"""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # someone else's process: it exists
            return False
        return False

    def state(self, now: datetime) -> str:
        if self.has_exited():
            return "exited"
        return "alive" if self.silent_for(now) < SILENT_AFTER else "silent"

    def is_alive(self, now: datetime) -> bool:
        return self.state(now) == "alive"


@dataclass
class ProcessReport:
    now: datetime
    heartbeats: list[Heartbeat] = field(default_factory=list)

    @property
    def missing_roles(self) -> list[tuple[str, str]]:
        """(role, what that means) for each role with no live process."""
        alive = {beat.role for beat in self.heartbeats if beat.is_alive(self.now)}
        return [(role, MISSING_ROLE_MESSAGES[role]) for role in ROLES if role not in alive]


def beat(redis: Redis | Pipeline, role: str, *, started_at: datetime, detail: str = "") -> None:
    """Record that this process is alive. On a pipeline the write goes out with the pipeline."""
    host, pid = socket.gethostname(), os.getpid()
    value = {"role": role, "host": host, "pid": pid, "started_at": started_at.isoformat(),
             "beat_at": datetime.now(UTC).isoformat(), "detail": detail}
    redis.set(f"{KEY_PREFIX}{role}:{host}:{pid}", json.dumps(value), ex=KEY_TTL_SECONDS)


def read_heartbeats(redis: Redis) -> list[Heartbeat]:
    keys = sorted(redis.scan_iter(match=f"{KEY_PREFIX}*", count=200))
    beats = []
    for raw in redis.mget(keys) if keys else []:
        if raw is None:  # expired between SCAN and MGET
            continue
        value = json.loads(raw)
        beats.append(Heartbeat(
            role=value["role"], host=value["host"], pid=int(value["pid"]),
            started_at=datetime.fromisoformat(value["started_at"]), beat_at=datetime.fromisoformat(value["beat_at"]),
            detail=value.get("detail", ""),
        ))
    order = {role: index for index, role in enumerate(ROLES)}
    return sorted(beats, key=lambda beat: (order.get(beat.role, len(ROLES)), beat.host, beat.started_at))


def process_report(redis: Redis, now: datetime | None = None) -> ProcessReport:
    return ProcessReport(now=now or datetime.now(UTC), heartbeats=read_heartbeats(redis))


class WebHeartbeat:
    """A daemon thread per web process, started by its first request: only processes that serve requests beat as
    "web" (the CLI and the workers build the same app). A forked process starts its own thread."""

    def __init__(self, app: Flask):
        self.app = app
        self.pid: int | None = None
        self.lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="web-heartbeat", daemon=True).start()

    def _run(self) -> None:
        from webapp.extensions import redis_client

        started_at, failing = datetime.now(UTC), False
        while True:
            try:
                with self.app.app_context():
                    beat(redis_client(), "web", started_at=started_at)
                if failing:
                    log.info("heartbeat written again role=web")
                failing = False
            except RedisError as error:
                if not failing:  # once per outage, not every beat
                    log.warning("heartbeat not written role=web error=%s", type(error).__name__)
                failing = True
            time.sleep(BEAT_SECONDS)


def init_app(app: Flask) -> None:
    from webapp.extensions import redis_client

    app.add_template_global(lambda: process_report(redis_client()), "process_report")
    if app.testing:
        return
    web_heartbeat = WebHeartbeat(app)
    app.before_request(web_heartbeat.ensure_started)
