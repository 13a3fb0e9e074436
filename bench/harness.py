"""What every benchmark needs: the app on a freshly migrated database, one timing loop, and result rows."""
from __future__ import annotations

import base64
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from local.embedded import start_postgres
from webapp import create_app
from webapp.config import Config, normalise_database_url
from webapp.extensions import db


@contextmanager
def bench_database() -> Iterator[str]:
    """BENCH_DATABASE_URL, or else the URL of a throwaway embedded PostgreSQL stopped on exit."""
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if database_url:
        yield database_url
        return
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as root:
        postgres = start_postgres(Path(root) / "postgres", delete_on_stop=True)
        try:
            yield postgres.url()
        finally:
            postgres.stop()


def bench_config(database_url: str) -> Config:
    return Config(
        SECRET_KEY=secrets.token_urlsafe(32),
        SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
        REDIS_URL="redis://127.0.0.1:1/0",  # never contacted: benchmarks call domain code, not jobs
        TOKEN_ENCRYPTION_KEYS="bench:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        LOG_LEVEL="WARNING",
        STATEMENT_TIMEOUT_MS=600_000,  # building the data set takes longer than a request may
        RATELIMIT_ENABLED=False,
        PUSH_NOTIFICATIONS=False,  # bench.live turns it on; the others measure syncs without channels
    )


@contextmanager
def bench_app(database_url: str | None = None) -> Iterator[Flask]:
    """The app, inside its app context, on a freshly migrated database (see bench_database)."""
    with ExitStack() as stack:
        if database_url is None:
            database_url = stack.enter_context(bench_database())
        app = create_app({"CONFIG": bench_config(database_url)})
        with app.app_context():
            upgrade()
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


@dataclass(frozen=True)
class Timings:
    """Milliseconds per call."""

    p50: float
    p95: float
    p99: float
    mean: float
    runs: int


def timed(action: Callable[[], object], runs: int, warm_up: int = 0) -> Timings:
    """The one timing loop: `warm_up` untimed calls, then `runs` timed calls of `action`, in milliseconds."""
    for _ in range(warm_up):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return summarise(samples)


def summarise(samples_ms: list[float]) -> Timings:
    """Percentiles of samples taken elsewhere (e.g. by concurrent HTTP clients)."""
    return Timings(percentile(samples_ms, 0.5), percentile(samples_ms, 0.95), percentile(samples_ms, 0.99),
                   statistics.fmean(samples_ms), len(samples_ms))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def row(what: str, measured: float | None, unit: str, target: str = "",
        met: bool | None = None) -> dict:
    """One result row as the runner prints and stores it (see bench/__main__.py)."""
    return {"what": what, "measured": measured, "unit": unit, "target": target, "met": met}


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit
