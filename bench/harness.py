"""What every benchmark needs: the app on a freshly migrated database, and percentiles."""
from __future__ import annotations

import base64
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from webapp import create_app
from webapp.config import Config, normalise_database_url
from webapp.embedded import start_postgres
from webapp.extensions import db


@contextmanager
def bench_app() -> Iterator[Flask]:
    """The app, inside its app context, on BENCH_DATABASE_URL or else a throwaway embedded PostgreSQL."""
    with ExitStack() as stack:
        database_url = os.environ.get("BENCH_DATABASE_URL")
        if not database_url:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-bench-"))
            postgres = start_postgres(Path(root) / "postgres", delete_on_stop=True)
            stack.callback(postgres.stop)
            database_url = postgres.url()
        config = Config(
            SECRET_KEY=secrets.token_urlsafe(32),
            SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
            REDIS_URL="redis://127.0.0.1:1/0",  # never contacted: benchmarks call domain code, not jobs
            TOKEN_ENCRYPTION_KEYS="bench:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            LOG_LEVEL="WARNING",
            STATEMENT_TIMEOUT_MS=600_000,  # building the data set takes longer than a request may
            RATELIMIT_ENABLED=False,
        )
        app = create_app({"CONFIG": config})
        with app.app_context():
            upgrade()
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
