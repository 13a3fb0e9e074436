"""Every database session runs with statement_timeout and idle_in_transaction_session_timeout in effect."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import build_app
from tests.helpers import has_word_from_server, wait_for
from webapp.extensions import db


def test_app_sessions_have_both_timeouts(app, db_session):
    assert db_session.scalar(text("SHOW statement_timeout")) == "30s"
    assert db_session.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1min"


def test_a_slow_statement_is_cancelled(app):
    strict = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"], STATEMENT_TIMEOUT_MS=200)
    with strict.app_context():
        started = time.monotonic()
        with pytest.raises(DBAPIError, match="canceling statement due to statement timeout"):
            db.session.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 3
        db.session.rollback()
        db.engine.dispose()


def test_a_forgotten_transaction_is_ended(app):
    strict = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"],
                       IDLE_IN_TRANSACTION_TIMEOUT_MS=300)
    with strict.app_context():
        db.session.execute(text("SELECT 1"))  # opens a transaction and leaves it idle
        idle = db.session.connection().connection.dbapi_connection
        wait_for(lambda: has_word_from_server(idle), 10, "the server ending the idle transaction")
        with pytest.raises(DBAPIError):
            db.session.execute(text("SELECT 1"))
        db.session.rollback()
        db.engine.dispose()
