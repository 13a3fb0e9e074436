"""Migration 0016: deletions made here whose push has not succeeded move from deleted_at to deletion_requested_at
(their series' overrides come back with them), and the downgrade puts them back as they were."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.factories import make_config
from webapp import create_app
from webapp.extensions import db

EVENT = ("INSERT INTO calendar_events (id, calendar_connection_id, provider_event_id, title, start_time, end_time, "
         "timezone, status, sync_status, is_recurring, parent_event_id, deleted_at) VALUES (:id, :connection, :id, "
         ":title, '2026-03-02 09:00Z', '2026-03-02 10:00Z', 'UTC', 'CONFIRMED', :sync, :recurring, :parent, "
         ":deleted)")


def states(connection) -> dict[str, tuple]:
    return {row.title: (row.deleted_at is not None, row.deletion_requested_at is not None, row.status)
            for row in connection.execute(text(
                "SELECT title, deleted_at, deletion_requested_at, status FROM calendar_events"))}


def test_in_flight_deletions_move_over_and_back(database_server, redis_url):
    scratch = create_app({"CONFIG": make_config(database_server.create_database("almanac_migration"), redis_url)})
    with scratch.app_context():
        upgrade(revision="0015")
        with db.engine.begin() as connection:
            user = connection.execute(text(
                "INSERT INTO users (email, password_hash) VALUES ('m@example.com', 'x') RETURNING id")).scalar()
            calendar = connection.execute(text(
                "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name) "
                "VALUES (:user, 'GOOGLE', 'cal', 'Work') RETURNING id"), {"user": user}).scalar()

            def event(title, sync="SYNCED", deleted=None, parent=None, recurring=False):
                row_id = connection.execute(text("SELECT gen_random_uuid()")).scalar()
                connection.execute(text(EVENT), {"id": row_id, "connection": calendar, "title": title, "sync": sync,
                                                 "recurring": recurring, "parent": parent, "deleted": deleted})
                return row_id

            event("Deleting", "FAILED", deleted="2026-03-01 12:00Z")
            event("Deleted and confirmed", "DELETED", deleted="2026-03-01 12:00Z")
            series = event("Series", "PENDING", deleted="2026-03-01 12:00:00Z", recurring=True)
            event("Override", deleted="2026-03-01 12:00:00.005Z", parent=series)
            event("Override removed at Google before", deleted="2026-02-01 12:00Z", parent=series)

        upgrade()
        with db.engine.connect() as connection:
            assert states(connection) == {
                "Deleting": (False, True, "CONFIRMED"), "Deleted and confirmed": (True, False, "CONFIRMED"),
                "Series": (False, True, "CONFIRMED"), "Override": (False, False, "CONFIRMED"),
                "Override removed at Google before": (True, False, "CONFIRMED")}

        downgrade(revision="0015")
        with db.engine.connect() as connection:
            rows = {row.title: row.deleted_at is not None for row in connection.execute(text(
                "SELECT title, deleted_at FROM calendar_events"))}
        assert rows == {"Deleting": True, "Deleted and confirmed": True, "Series": True, "Override": True,
                        "Override removed at Google before": True}
        upgrade()
        db.engine.dispose()
