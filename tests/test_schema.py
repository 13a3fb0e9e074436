"""The migrations build the seed's schema; models and migrations agree; constraints reject bad rows."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tests.factories import make_config
from webapp import create_app
from webapp.config import PROJECT_ROOT
from webapp.extensions import db

SEED_TABLES = {"users", "calendar_connections", "oauth_states", "sessions", "audit_logs", "calendar_events"}


@pytest.fixture(scope="module")
def scratch_app(database_server, redis_url):
    """An app on a database of its own, so migrating down and up does not disturb the suite's schema."""
    app = create_app({"CONFIG": make_config(database_server.create_database("almanac_migrations"), redis_url)})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_single_alembic_head():
    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    assert len(scripts.get_heads()) == 1


def test_upgrade_downgrade_upgrade(scratch_app):
    with scratch_app.app_context():
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= SEED_TABLES
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        with db.engine.connect() as conn:
            enums = conn.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'")).scalars().all()
        assert enums == []
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= SEED_TABLES


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_seed_indexes_exist(app):
    with app.app_context():
        inspector = inspect(db.engine)
        events = {index["name"]: index["column_names"] for index in inspector.get_indexes("calendar_events")}
        date_range = events["calendar_events_connection_date_range_idx"]
        assert date_range == ["calendar_connection_id", "start_time", "end_time"]
        assert events["calendar_events_connection_sync_status_idx"] == ["calendar_connection_id", "sync_status"]
        for column in ("calendar_connection_id", "provider_event_id", "start_time", "end_time", "status",
                       "sync_status", "is_recurring", "parent_event_id", "deleted_at"):
            assert [column] in events.values(), column
        states = [index["column_names"] for index in inspector.get_indexes("oauth_states")]
        assert ["expires_at"] in states and ["user_id", "provider"] in states
        connections = [index["column_names"] for index in inspector.get_indexes("calendar_connections")]
        for column in ("user_id", "provider", "is_connected", "last_synced_at", "deleted_at"):
            assert [column] in connections, column
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("calendar_events")}
        assert ("calendar_connection_id", "provider_event_id") in uniques
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("calendar_connections")}
        assert ("user_id", "provider", "calendar_id") in uniques


def test_columns_use_timestamptz_3_and_uuid_defaults(app):
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name, datetime_precision FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'timestamp with time zone'"
            )
        ).all()
        assert rows and all(precision == 3 for _table, _column, precision in rows)
        defaults = conn.execute(
            text(
                "SELECT table_name, column_default FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'id'"
            )
        ).all()
        assert {table for table, default in defaults if default == "gen_random_uuid()"} >= SEED_TABLES


# --- constraints ------------------------------------------------------------------------------------------


@pytest.fixture
def conn(app):
    """A raw connection in a transaction that is always rolled back."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()
    engine.dispose()


def insert_user(conn, email="someone@example.com") -> uuid.UUID:
    return conn.execute(
        text("INSERT INTO users (email, password_hash) VALUES (:email, 'x') RETURNING id"), {"email": email}
    ).scalar_one()


def insert_connection(conn, user_id, **overrides) -> uuid.UUID:
    values = {"user_id": user_id, "calendar_id": "primary", "calendar_color": None} | overrides
    return conn.execute(
        text(
            "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name, calendar_color) "
            "VALUES (:user_id, 'GOOGLE', :calendar_id, 'Work', :calendar_color) RETURNING id"
        ),
        values,
    ).scalar_one()


def insert_event(conn, connection_id, **overrides):
    start = datetime(2025, 11, 24, 9, tzinfo=UTC)
    values = {
        "connection_id": connection_id,
        "provider_event_id": f"evt-{uuid.uuid4().hex}",
        "start": start,
        "end": start + timedelta(hours=1),
        "interval": None,
        "count": None,
        "parent": None,
    } | overrides
    return conn.execute(
        text(
            "INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time, "
            "timezone, status, sync_status, recurrence_interval, recurrence_count, parent_event_id) "
            "VALUES (:connection_id, :provider_event_id, 'Standup', :start, :end, 'UTC', 'CONFIRMED', 'SYNCED', "
            ":interval, :count, :parent) RETURNING id"
        ),
        values,
    ).scalar_one()


def expect_violation(conn, constraint: str, statement, **params):
    with pytest.raises(IntegrityError) as error, conn.begin_nested():
        if callable(statement):
            statement()
        else:
            conn.execute(text(statement), params)
    assert constraint in str(error.value)


def test_email_must_be_lower_case_and_unique(conn):
    expect_violation(conn, "users_email_lower_case_check", lambda: insert_user(conn, "Mixed@Example.com"))
    insert_user(conn, "taken@example.com")
    expect_violation(conn, "users_email_key", lambda: insert_user(conn, "taken@example.com"))


def test_event_must_not_end_before_it_starts(conn):
    connection_id = insert_connection(conn, insert_user(conn))
    start = datetime(2025, 11, 24, 9, tzinfo=UTC)
    expect_violation(
        conn, "calendar_events_ends_after_start_check",
        lambda: insert_event(conn, connection_id, start=start, end=start - timedelta(minutes=1)),
    )
    insert_event(conn, connection_id, start=start, end=start)  # zero length is a valid instant event


def test_recurrence_interval_and_count_must_be_positive(conn):
    connection_id = insert_connection(conn, insert_user(conn))
    expect_violation(conn, "recurrence_interval_positive", lambda: insert_event(conn, connection_id, interval=0))
    expect_violation(conn, "recurrence_count_positive", lambda: insert_event(conn, connection_id, count=-1))


def test_provider_event_is_unique_per_connection(conn):
    connection_id = insert_connection(conn, insert_user(conn))
    insert_event(conn, connection_id, provider_event_id="abc")
    expect_violation(
        conn, "calendar_events_calendar_connection_id_provider_event_id_key",
        lambda: insert_event(conn, connection_id, provider_event_id="abc"),
    )


def test_connection_is_unique_per_user_provider_calendar_and_colour_is_hex(conn):
    user_id = insert_user(conn)
    insert_connection(conn, user_id)
    expect_violation(conn, "calendar_connections_user_id_provider_calendar_id_key",
                     lambda: insert_connection(conn, user_id))
    expect_violation(conn, "calendar_connections_calendar_color_hex_check",
                     lambda: insert_connection(conn, user_id, calendar_id="other", calendar_color="red"))


def test_expiry_must_follow_creation(conn):
    user_id = insert_user(conn)
    expect_violation(
        conn, "oauth_states_expires_after_creation_check",
        "INSERT INTO oauth_states (user_id, provider, state, expires_at) VALUES (:u, 'GOOGLE', 's', now())",
        u=user_id,
    )
    expect_violation(
        conn, "sessions_expires_after_creation_check",
        "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES (:u, 'h', now() - interval '1 day')",
        u=user_id,
    )


def test_foreign_keys_cascade_and_audit_rows_outlive_their_user(conn):
    user_id = insert_user(conn)
    connection_id = insert_connection(conn, user_id)
    master = insert_event(conn, connection_id)
    insert_event(conn, connection_id, parent=master)
    conn.execute(text("INSERT INTO audit_logs (user_id, action, status) VALUES (:u, 'USER_LOGIN', 'SUCCESS')"),
                 {"u": user_id})
    conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
    assert conn.execute(text("SELECT count(*) FROM calendar_events")).scalar_one() == 0
    assert conn.execute(text("SELECT user_id FROM audit_logs")).scalars().all() == [None]


def test_updated_at_moves_on_every_update(conn):
    user_id = insert_user(conn)
    before = conn.execute(text("SELECT updated_at FROM users WHERE id = :u"), {"u": user_id}).scalar_one()
    # now() is fixed inside a transaction, so compare against a commit-independent clock.
    conn.execute(text("SET LOCAL timezone = 'UTC'"))
    conn.execute(text("UPDATE users SET updated_at = '2000-01-01', first_name = 'Ada' WHERE id = :u"), {"u": user_id})
    after = conn.execute(text("SELECT updated_at FROM users WHERE id = :u"), {"u": user_id}).scalar_one()
    assert after == before  # the trigger overrode the stale value with now()
    assert after.year > 2000
