"""/healthz says the process answers; /readyz says it can serve: database, Redis, migrations at head."""
from __future__ import annotations

from flask_migrate import upgrade

from tests.factories import build_app
from tests.helpers import CLOSED_POSTGRES, CLOSED_REDIS
from webapp.extensions import db
from webapp.ops import code_heads


def test_healthz_needs_nothing(ops_app):
    response = build_app(CLOSED_POSTGRES, CLOSED_REDIS).test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert ops_app.test_client().get("/healthz").json == {"status": "ok"}


def test_readyz_when_everything_is_up(ops_app):
    response = ops_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "redis": "ok", "migrations": "ok"}}


def test_readyz_with_the_database_down(ops_app):
    down = build_app(CLOSED_POSTGRES, ops_app.config["REDIS_URL"])
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready",
                             "checks": {"database": "unreachable", "redis": "ok", "migrations": "unknown"}}
    body = response.get_data(as_text=True)
    assert "127.0.0.1" not in body and "secret-password" not in body and "refused" not in body


def test_readyz_with_redis_down(ops_app):
    down = build_app(ops_app.config["SQLALCHEMY_DATABASE_URI"], CLOSED_REDIS)
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "unreachable", "migrations": "ok"}


def test_readyz_with_migrations_behind(database_server, redis_url):
    behind = build_app(database_server.create_database("almanac_behind"), redis_url)
    with behind.app_context():
        upgrade(revision="0002")
        response = behind.test_client().get("/readyz")
        db.engine.dispose()
    assert response.status_code == 503
    expected = ", ".join(sorted(code_heads()))
    assert response.json["checks"] == {"database": "ok", "redis": "ok",
                                       "migrations": f"database at 0002, code expects {expected}"}
