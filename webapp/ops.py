"""Probes for the platform: /healthz (the process answers) and /readyz (it can serve: database, Redis, schema).

Both answer JSON without a login; failures name the dependency, never the error text (it can hold host names).
"""
from __future__ import annotations

import logging
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, jsonify

from webapp.config import PROJECT_ROOT
from webapp.extensions import db, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"redis": _check_redis()}
    checks["database"], checks["migrations"] = _check_database()
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@cache
def code_heads() -> frozenset[str]:
    """The migration heads shipped with this code; they cannot change while the process runs."""
    return frozenset(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads())


def _check_database() -> tuple[str, str]:
    try:
        with db.engine.connect() as connection:
            database_heads = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # any failure to reach or query the database means "not ready"
        log.warning("readyz database unreachable error=%s", type(error).__name__)
        return "unreachable", "unknown"
    if database_heads != code_heads():
        found = ", ".join(sorted(database_heads)) or "none"
        return "ok", f"database at {found}, code expects {', '.join(sorted(code_heads()))}"
    return "ok", "ok"


def _check_redis() -> str:
    # The app's own client: bounded like every request's Redis call, so a hung Redis cannot hang the probe.
    try:
        redis_client().ping()
    except Exception as error:  # refused, timed out, wrong password: all "not ready"
        log.warning("readyz redis unreachable error=%s", type(error).__name__)
        return "unreachable"
    return "ok"
