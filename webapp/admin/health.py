"""What the sync-health page shows: connection states, sync ages, failed jobs, maintenance runs, health samples."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from webapp.admin import charts
from webapp.locks import running_syncs
from webapp.maintenance import ACTIONS
from webapp.maintenance.queues import QUEUES, QueueStats, queue_stats
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarProvider, User, WatchChannel, WatchKind
from webapp.models.maintenance import HealthSample
from webapp.sync.status import SyncState, sync_state

CHART_WINDOW = timedelta(days=7)
FAILING_LIMIT = 50
FAILED_JOBS_LIMIT = 20
HISTORY_LIMIT = 30

# Upper bounds of the "time since last sync" buckets; the sweep runs every 5 minutes.
SYNC_AGE_BUCKETS = (
    ("under 5 min", timedelta(minutes=5)),
    ("5–15 min", timedelta(minutes=15)),
    ("15–60 min", timedelta(hours=1)),
    ("1–6 h", timedelta(hours=6)),
    ("6–24 h", timedelta(hours=24)),
)
OLDER_BUCKET = "over 24 h"
NEVER_BUCKET = "never"

# The states of webapp.sync.status, in the order the page lists them.
CONNECTION_STATES = ("synced", "syncing", "retrying", "stopped", "needs_reconnect", "needs_attention", "behind",
                     "waiting", "removed")

# (metric, title, unit) for the charts; per-table and per-queue samples are summed.
CHARTS = (
    ("database_bytes", "Database size", "bytes"),
    ("cache_hit_ratio", "Cache hit ratio", "ratio"),
    ("connections_in_use", "Connections in use", "count"),
    ("longest_query_seconds", "Longest running query", "seconds"),
    ("dead_tuples", "Dead tuples", "count"),
    ("queue_length", "Queued jobs", "count"),
    ("failed_jobs", "Failed jobs", "count"),
)


@dataclass(frozen=True)
class ConnectionHealth:
    id: uuid.UUID
    user_email: str
    provider: CalendarProvider
    calendar_name: str
    state: SyncState
    sync_failures: int
    last_synced_at: datetime | None


def connection_health(session: Session, now: datetime) -> list[ConnectionHealth]:
    """Every live connection with its sync state, as the user's own page words it (one query, plus one for the
    locks of running syncs)."""
    rows = session.execute(
        select(CalendarConnection, User.email)
        .join(User, User.id == CalendarConnection.user_id)
        .where(CalendarConnection.deleted_at.is_(None))
    ).all()
    running = running_syncs(session, [connection.id for connection, _ in rows])
    return [ConnectionHealth(connection.id, email, connection.provider, connection.calendar_name,
                             sync_state(connection, now=now, is_running=connection.id in running),
                             connection.sync_failures, connection.last_synced_at)
            for connection, email in rows]


def connection_state_counts(health: list[ConnectionHealth]) -> dict[str, int]:
    counts = dict.fromkeys(CONNECTION_STATES, 0)
    for connection in health:
        counts[connection.state.kind] += 1
    return counts


def failing_connections(health: list[ConnectionHealth], limit: int = FAILING_LIMIT) -> list[ConnectionHealth]:
    """Connections that need someone or are failing, worst first (stopped, then the most failures)."""
    troubled = [c for c in health if c.state.kind in ("removed", "stopped", "needs_reconnect", "needs_attention",
                                                      "behind", "retrying")]
    troubled.sort(key=lambda c: (c.state.severity, -c.sync_failures,
                                 c.last_synced_at.timestamp() if c.last_synced_at else 0))
    return troubled[:limit]


def sync_age_distribution(session: Session, now: datetime) -> list[tuple[str, int]]:
    """How long ago each connected calendar last synced, in buckets (all buckets, zeros included)."""
    synced = CalendarConnection.last_synced_at
    bucket = case(
        (synced.is_(None), NEVER_BUCKET),
        *((synced > now - bound, label) for label, bound in SYNC_AGE_BUCKETS),
        else_=OLDER_BUCKET,
    ).label("bucket")
    rows = session.execute(
        select(bucket, func.count())
        .where(CalendarConnection.deleted_at.is_(None), CalendarConnection.is_connected.is_(True))
        .group_by(bucket)
    )
    counts = dict(rows.all())
    labels = [label for label, _ in SYNC_AGE_BUCKETS] + [OLDER_BUCKET, NEVER_BUCKET]
    return [(label, counts.get(label, 0)) for label in labels]


def metric_series(session: Session, since: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """Each chart metric over time, oldest first, per-table/per-queue values summed per sample."""
    series: dict[str, list[tuple[datetime, float]]] = {metric: [] for metric, _, _ in CHARTS}
    rows = session.execute(
        select(HealthSample.metric, HealthSample.recorded_at, func.sum(HealthSample.value))
        .where(HealthSample.metric.in_(series), HealthSample.recorded_at >= since)
        .group_by(HealthSample.metric, HealthSample.recorded_at)
        .order_by(HealthSample.recorded_at)
    )
    for metric, recorded_at, value in rows:
        series[metric].append((recorded_at, value))
    return series


@dataclass(frozen=True)
class TableSize:
    table: str
    table_bytes: int
    index_bytes: int
    live_rows: int


def latest_table_sizes(session: Session) -> tuple[datetime | None, list[TableSize]]:
    """The table and index sizes from the most recent statistics run, largest first."""
    latest = select(func.max(HealthSample.recorded_at)).where(HealthSample.metric == "table_bytes").scalar_subquery()
    rows = session.execute(
        select(HealthSample.recorded_at, HealthSample.subject, HealthSample.metric, HealthSample.value).where(
            HealthSample.recorded_at == latest,
            HealthSample.metric.in_(("table_bytes", "index_bytes", "live_rows")),
        )
    ).all()
    if not rows:
        return None, []
    values: dict[str, dict[str, int]] = {}
    for _, table, metric, value in rows:
        values.setdefault(table, {})[metric] = int(value)
    sizes = [
        TableSize(table, v.get("table_bytes", 0), v.get("index_bytes", 0), v.get("live_rows", 0))
        for table, v in values.items()
    ]
    return rows[0][0], sorted(sizes, key=lambda size: size.table_bytes + size.index_bytes, reverse=True)


@dataclass(frozen=True)
class MaintenanceRun:
    job: str
    created_at: datetime
    status: AuditStatus
    duration_ms: int | None
    counts: dict[str, object]
    error: str | None


def maintenance_history(session: Session, limit: int = HISTORY_LIMIT) -> list[MaintenanceRun]:
    entries = session.scalars(
        select(AuditLog)
        .where(AuditLog.action.in_(ACTIONS.values()))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    runs = []
    for entry in entries:
        details = dict(entry.metadata_ or {})
        duration_ms = details.pop("duration_ms", None)
        runs.append(MaintenanceRun(entry.resource_id or entry.action, entry.created_at, entry.status, duration_ms,
                                   details, entry.error_message))
    return runs


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func_name: str
    ended_at: datetime | None
    error: str  # the exception's last line; the full traceback stays in Redis


def failed_jobs(redis: Redis, limit: int = FAILED_JOBS_LIMIT) -> list[FailedJob]:
    """The most recent failures per queue (a bounded number: each needs one Redis read for its result)."""
    failed = []
    for name in QUEUES:
        registry = FailedJobRegistry(queue=Queue(name, connection=redis))
        for job in Job.fetch_many(registry.get_job_ids(0, limit - 1, desc=True), connection=redis):
            if job is None:
                continue
            result = job.latest_result()
            lines = (result.exc_string or "").strip().splitlines() if result else []
            failed.append(FailedJob(job.id, name, job.func_name, job.ended_at, lines[-1] if lines else "unknown"))
    return failed


def retry_failed_job(redis: Redis, queue_name: str, job_id: str) -> bool:
    """Put a failed job back on its queue; False when it is not (or no longer) in the failed registry."""
    if queue_name not in QUEUES:
        return False
    registry = FailedJobRegistry(queue=Queue(queue_name, connection=redis))
    try:
        registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        return False
    return True


@dataclass(frozen=True)
class PushUnavailable:
    id: uuid.UUID
    user_email: str
    provider: CalendarProvider
    calendar_name: str
    reason: str
    failed_at: datetime | None


@dataclass(frozen=True)
class PushReport:
    enabled: bool
    channels: dict[str, int]  # live channels by provider and kind, e.g. "Google calendars"
    unavailable: list[PushUnavailable]


def push_report(session: Session, enabled: bool, now: datetime, limit: int = FAILING_LIMIT) -> PushReport:
    """Live notification channels, and the calendars for which none could be made (with the reason)."""
    rows = session.execute(
        select(WatchChannel.provider, WatchChannel.kind, func.count())
        .where(WatchChannel.stop_requested_at.is_(None), WatchChannel.expires_at > now)
        .group_by(WatchChannel.provider, WatchChannel.kind)).all()
    names = {WatchKind.EVENTS: "calendars", WatchKind.CALENDAR_LIST: "calendar lists"}
    channels = {f"{provider.value.title()} {names[kind]}": count for provider, kind, count in rows}
    unavailable = [PushUnavailable(*row) for row in session.execute(
        select(CalendarConnection.id, User.email, CalendarConnection.provider, CalendarConnection.calendar_name,
               CalendarConnection.watch_unavailable_reason, CalendarConnection.watch_failed_at)
        .join(User, User.id == CalendarConnection.user_id)
        .where(CalendarConnection.deleted_at.is_(None), CalendarConnection.watch_unavailable_reason.is_not(None))
        .order_by(CalendarConnection.watch_failed_at.desc()).limit(limit))] if enabled else []
    return PushReport(enabled, channels, unavailable)


@dataclass(frozen=True)
class SyncHealthReport:
    states: dict[str, int]
    failing: list[ConnectionHealth]
    sync_ages: list[charts.Bar]
    queues: list[QueueStats]
    failed_jobs: list[FailedJob]
    history: list[MaintenanceRun]
    sparklines: list[charts.Sparkline]
    sizes_recorded_at: datetime | None
    table_sizes: list[TableSize]
    push: PushReport
    chart_days: int = CHART_WINDOW.days


def sync_health_report(session: Session, redis: Redis, now: datetime, *, push_enabled: bool = True
                       ) -> SyncHealthReport:
    """Everything the sync-health page shows, in a fixed number of queries."""
    since = now - CHART_WINDOW
    series = metric_series(session, since)
    sizes_recorded_at, table_sizes = latest_table_sizes(session)
    health = connection_health(session, now)
    return SyncHealthReport(
        states=connection_state_counts(health),
        failing=failing_connections(health),
        sync_ages=charts.bars(sync_age_distribution(session, now)),
        queues=queue_stats(redis),
        failed_jobs=failed_jobs(redis),
        history=maintenance_history(session),
        sparklines=[charts.sparkline(title, unit, series[metric], since, now) for metric, title, unit in CHARTS],
        sizes_recorded_at=sizes_recorded_at,
        table_sizes=table_sizes,
        push=push_report(session, push_enabled, now),
    )
