"""Migration 0009a: the sync-status columns match the model, and the migration goes down and up again cleanly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.factories import make_config
from webapp import create_app
from webapp.extensions import db

NEW_COLUMNS = {"last_attempt_at", "next_attempt_at", "retry_after_until", "last_failure_kind", "skipped_events"}


def connection_columns(connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("calendar_connections")}


def test_upgrade_matches_the_model_and_downgrade_reverses_it(database_server, redis_url):
    scratch = create_app({"CONFIG": make_config(database_server.create_database("almanac_migration"), redis_url)})
    with scratch.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            assert connection_columns(connection) >= NEW_COLUMNS
        downgrade(revision="0003")
        with db.engine.connect() as connection:
            assert NEW_COLUMNS.isdisjoint(connection_columns(connection))
        upgrade()
        with db.engine.connect() as connection:
            assert connection_columns(connection) >= NEW_COLUMNS
        db.engine.dispose()
