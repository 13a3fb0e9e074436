"""Database and queue housekeeping: the work behind the scheduled maintenance jobs, and what they measure.

Each `*_batch` function handles at most `limit` rows in one statement and returns how many it handled, so the
job can commit after every batch: no transaction holds thousands of row locks, and a run that is killed
halfway has committed whole batches only. Rows are claimed with SKIP LOCKED, so two overlapping runs split
the work instead of waiting on each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from rq import Queue
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import Connection, bindparam, insert, text
from sqlalchemy.orm import Session

from webapp.models.maintenance import HealthSample

# Small enough that a batch takes well under a second and locks few rows; large enough to clear a backlog.
BATCH_SIZE = 1000

# Every RQ queue the workers listen on (see the Procfile).
QUEUES = ("sync", "default")

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

# One audit action per job; the sync-health page lists these as the maintenance history.
ACTIONS = {
    "purge-deleted-events": "MAINTENANCE_PURGE_EVENTS",
    "vacuum-analyze": "MAINTENANCE_VACUUM_ANALYZE",
    "refresh-table-statistics": "MAINTENANCE_TABLE_STATISTICS",
    "purge-oauth-states": "MAINTENANCE_PURGE_OAUTH_STATES",
    "archive-audit-logs": "MAINTENANCE_ARCHIVE_AUDIT_LOGS",
    "record-health-metrics": "MAINTENANCE_HEALTH_METRICS",
    "purge-expired-sessions": "MAINTENANCE_PURGE_SESSIONS",
    "record-feed-access": "MAINTENANCE_FEED_ACCESS",
}

# One statement deletes and inserts, so a row is never in neither table; ON CONFLICT makes a rerun harmless if
# a copy already reached the archive. Columns are listed, not `*`, so column order can differ between the tables.
ARCHIVE_AUDIT_LOGS_BATCH = text(
    "WITH moved AS ("
    " DELETE FROM audit_logs WHERE id IN ("
    "  SELECT id FROM audit_logs WHERE created_at < :cutoff ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
    " RETURNING id, user_id, action, resource_type, resource_id, status, error_message, ip_address, user_agent,"
    "  metadata, created_at),"
    " archived AS ("
    " INSERT INTO audit_logs_archive (id, user_id, action, resource_type, resource_id, status, error_message,"
    "  ip_address, user_agent, metadata, created_at)"
    " SELECT id, user_id, action, resource_type, resource_id, status, error_message, ip_address, user_agent,"
    "  metadata, created_at FROM moved"
    " ON CONFLICT (id) DO NOTHING)"
    # PostgreSQL runs a data-modifying WITH part whether or not it is read. Counted from `moved`: a row whose
    # copy was already archived still leaves audit_logs.
    " SELECT count(*) FROM moved"
)


def purge_deleted_events_batch(session: Session, *, deleted_before: datetime, limit: int) -> int:
    """Hard-delete events soft-deleted before the cutoff (their overrides go with them: ON DELETE CASCADE)."""
    result = session.execute(
        text(
            "DELETE FROM calendar_events WHERE id IN ("
            " SELECT id FROM calendar_events WHERE deleted_at < :cutoff LIMIT :limit FOR UPDATE SKIP LOCKED)"
        ),
        {"cutoff": deleted_before, "limit": limit},
    )
    return result.rowcount


def purge_oauth_states_batch(session: Session, *, now: datetime, limit: int) -> int:
    """Delete OAuth states that can no longer be used: expired, or already consumed by a callback."""
    result = session.execute(
        text(
            "DELETE FROM oauth_states WHERE id IN ("
            " SELECT id FROM oauth_states WHERE expires_at <= :now OR consumed"
            " LIMIT :limit FOR UPDATE SKIP LOCKED)"
        ),
        {"now": now, "limit": limit},
    )
    return result.rowcount


def archive_audit_logs_batch(session: Session, *, created_before: datetime, limit: int) -> int:
    """Move the oldest audit rows before the cutoff into audit_logs_archive; returns how many left audit_logs."""
    return session.execute(ARCHIVE_AUDIT_LOGS_BATCH, {"cutoff": created_before, "limit": limit}).scalar_one()


def prune_health_samples_batch(session: Session, *, recorded_before: datetime, limit: int) -> int:
    result = session.execute(
        text(
            "DELETE FROM health_metric_samples WHERE id IN ("
            " SELECT id FROM health_metric_samples WHERE recorded_at < :cutoff LIMIT :limit FOR UPDATE SKIP LOCKED)"
        ),
        {"cutoff": recorded_before, "limit": limit},
    )
    return result.rowcount


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


@dataclass(frozen=True)
class Measurement:
    metric: str
    subject: str
    value: float


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


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


def queue_stats(redis: Redis, queues: tuple[str, ...] = QUEUES) -> list[QueueStats]:
    stats = []
    for name in queues:
        queue = Queue(name, connection=redis)
        stats.append(
            QueueStats(
                name=name,
                queued=queue.count,
                started=StartedJobRegistry(queue=queue).count,
                scheduled=ScheduledJobRegistry(queue=queue).count,
                deferred=DeferredJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
            )
        )
    return stats


def queue_measurements(redis: Redis) -> list[Measurement]:
    measurements = []
    for stats in queue_stats(redis):
        measurements += [
            Measurement("queue_length", stats.name, stats.queued),
            Measurement("failed_jobs", stats.name, stats.failed),
        ]
    return measurements


def store_measurements(session: Session, measurements: list[Measurement], *, recorded_at: datetime) -> int:
    if not measurements:
        return 0
    session.execute(
        insert(HealthSample),
        [
            {"recorded_at": recorded_at, "metric": m.metric, "subject": m.subject, "value": float(m.value)}
            for m in measurements
        ],
    )
    return len(measurements)
