"""Migration 0003: matches the models, mirrors audit_logs exactly, and goes down and up again cleanly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.factories import make_config
from webapp import create_app
from webapp.extensions import db

NEW_TABLES = {"audit_logs_archive", "health_metric_samples"}


def only_new_tables(obj, name, type_, reflected, compare_to):
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in NEW_TABLES


def test_upgrade_matches_models_and_downgrade_reverses_it(database_server, redis_url):
    scratch = create_app({"CONFIG": make_config(database_server.create_database("almanac_migration"), redis_url)})
    with scratch.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": only_new_tables})
            assert compare_metadata(context, db.metadata) == []
            inspector = inspect(connection)

            def columns(table):
                return [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]

            assert sorted(columns("audit_logs_archive")) == sorted(columns("audit_logs"))
            indexes = {index["name"] for index in inspector.get_indexes("audit_logs_archive")}
            assert "audit_logs_archive_created_at_id_idx" in indexes

        downgrade(revision="0002")
        with db.engine.connect() as connection:
            assert NEW_TABLES.isdisjoint(inspect(connection).get_table_names())
            assert "audit_logs" in inspect(connection).get_table_names()
        upgrade()
        with db.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= NEW_TABLES
        db.engine.dispose()
