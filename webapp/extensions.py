"""Extension objects, created unbound; `create_app` binds them."""
from __future__ import annotations

import select

from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from webapp.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def redis_client() -> Redis:
    """The app's Redis connection, created once per app."""
    client = current_app.extensions.get("almanac_redis")
    if client is None:
        client = connect_redis(current_app.config["REDIS_URL"], timeout=current_app.config["REDIS_TIMEOUT_SECONDS"])
        current_app.extensions["almanac_redis"] = client
    return client


def connect_redis(url: str, *, timeout: float) -> Redis:
    """A client whose calls are bounded: `timeout` to connect and `timeout` for each reply.

    A connection Redis dropped (it restarted) is retried once, at once, on a fresh one, so the first call after a
    restart does not fail; a stall is never retried, so a call never waits much longer than `timeout`.
    (redis-py's own default would retry ten times, five seconds each.)
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def replace_closed_connections(engine: Engine) -> None:
    """A checkout test without a round trip (a pre-ping cost every request one): an idle pooled connection whose
    socket has something to read was closed by the server (PostgreSQL tells each client when it shuts down or
    restarts), so the pool replaces it before a request uses it."""

    @event.listens_for(engine, "checkout")
    def _replace_if_closed(dbapi_connection, _record, _proxy):
        if dbapi_connection.closed or select.select([dbapi_connection.fileno()], [], [], 0)[0]:
            raise DisconnectionError("the server closed this pooled connection")
