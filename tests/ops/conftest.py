"""Ops tests build their own apps, pointed at dependencies that are up or deliberately down."""
from __future__ import annotations

import os
import signal

import pytest

from local.embedded import start_redis
from tests.factories import build_app


@pytest.fixture(scope="session")
def ops_app(app):
    return build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"])


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own, which it may freeze, kill or restart."""
    server = start_redis(tmp_path / "redis", persist=False)
    yield server
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


