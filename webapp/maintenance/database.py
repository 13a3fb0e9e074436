"""Vacuuming and analysing the tables that grow, and measuring their size and the database's health."""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from webapp.maintenance.metrics import Measurement

# Tables worth vacuuming, analysing and measuring: everything that grows.
MAIN_TABLES = (
    "users",
    "sessions",
    "calendar_connections",
    "calendar_events",
    "oauth_states",
    "audit_logs",
    "audit_logs_archive",
    "health_metric_samples",
)


def vacuum_analyze(connection: Connection, tables: tuple[str, ...] = MAIN_TABLES) -> list[str]:
    """VACUUM (ANALYZE) each table; `connection` must be in autocommit mode (VACUUM refuses a transaction)."""
    return _per_table(connection, "VACUUM (ANALYZE)", tables)


def analyze(connection: Connection, tables: tuple[str, ...] = MAIN_TABLES) -> list[str]:
    """Refresh the planner statistics; autocommit, so the lock is held for one table at a time."""
    return _per_table(connection, "ANALYZE", tables)


def _per_table(connection: Connection, command: str, tables: tuple[str, ...]) -> list[str]:
    quote = connection.dialect.identifier_preparer.quote
    # A big table can take longer than the app's 30 s statement timeout; lift it for this connection only.
    connection.execute(text("SET statement_timeout = 0"))
    try:
        for table in tables:
            connection.execute(text(f"{command} {quote(table)}"))
    finally:
        connection.execute(text("RESET statement_timeout"))
    return list(tables)


def table_size_measurements(session: Session, tables: tuple[str, ...] = MAIN_TABLES) -> list[Measurement]:
    """Heap and index bytes and estimated live rows per table (estimates are fresh right after ANALYZE)."""
    rows = session.execute(
        text(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid), coalesce(s.n_live_tup, 0)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname IN :tables"
        ).bindparams(bindparam("tables", expanding=True)),
        {"tables": list(tables)},
    )
    measurements = []
    for table, table_bytes, index_bytes, live_rows in rows:
        measurements += [
            Measurement("table_bytes", table, table_bytes),
            Measurement("index_bytes", table, index_bytes),
            Measurement("live_rows", table, live_rows),
        ]
    return measurements


def database_health_measurements(session: Session, tables: tuple[str, ...] = MAIN_TABLES) -> list[Measurement]:
    """Database size, per-table total size and dead tuples, cache hit ratio, connections, longest query."""
    measurements = [
        Measurement("database_bytes", "", session.scalar(text("SELECT pg_database_size(current_database())")))
    ]
    per_table = session.execute(
        text(
            "SELECT relname, pg_total_relation_size(relid), n_dead_tup FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname IN :tables"
        ).bindparams(bindparam("tables", expanding=True)),
        {"tables": list(tables)},
    )
    for table, total_bytes, dead_tuples in per_table:
        measurements += [Measurement("total_bytes", table, total_bytes), Measurement("dead_tuples", table, dead_tuples)]
    hit_ratio, connections, longest_query = session.execute(
        text(
            "SELECT"
            " (SELECT coalesce(blks_hit::float / nullif(blks_hit + blks_read, 0), 1)"
            "    FROM pg_stat_database WHERE datname = current_database()),"
            " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),"
            # clock_timestamp(): now() is frozen at the start of our own transaction.
            " (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)"
            "    FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
            "    AND pid <> pg_backend_pid())"
        )
    ).one()
    measurements += [
        Measurement("cache_hit_ratio", "", hit_ratio),
        Measurement("connections_in_use", "", connections),
        Measurement("longest_query_seconds", "", longest_query),
    ]
    return measurements
