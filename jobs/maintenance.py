"""Housekeeping jobs: thin entry points that run one task in committed batches and leave a system audit row."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from jobs import job_app
from webapp import audit
from webapp.auth.sessions import delete_expired_sessions
from webapp.extensions import db, redis_client
from webapp.feeds import access
from webapp.maintenance import ACTIONS, database, purge, queues
from webapp.maintenance.metrics import store_measurements
from webapp.models import AuditStatus

log = logging.getLogger(__name__)

EVENT_RETENTION = timedelta(days=30)
AUDIT_LOG_RETENTION = timedelta(days=90)
HEALTH_SAMPLE_RETENTION = timedelta(days=30)
# Longer than any job's timeout in jobs.schedule, so a lock never expires under a running job.
LOCK_SECONDS = 3600


def purge_deleted_events() -> dict:
    def work():
        cutoff = _now() - EVENT_RETENTION
        return {"deleted": _drain(purge.purge_deleted_events_batch, deleted_before=cutoff)}

    return _run("purge-deleted-events", work)


def vacuum_analyze() -> dict:
    def work():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return {"tables": len(database.vacuum_analyze(connection))}

    return _run("vacuum-analyze", work)


def refresh_table_statistics() -> dict:
    def work():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            tables = database.analyze(connection)
        samples = store_measurements(
            db.session, database.table_size_measurements(db.session), recorded_at=_now()
        )
        db.session.commit()
        return {"tables": len(tables), "samples": samples}

    return _run("refresh-table-statistics", work)


def purge_oauth_states() -> dict:
    return _run("purge-oauth-states", lambda: {"deleted": _drain(purge.purge_oauth_states_batch, now=_now())})


def purge_dead_links() -> dict:
    return _run("purge-dead-links", lambda: {"deleted": _drain(purge.purge_dead_links_batch, now=_now())})


def archive_audit_logs() -> dict:
    def work():
        cutoff = _now() - AUDIT_LOG_RETENTION
        return {"archived": _drain(purge.archive_audit_logs_batch, created_before=cutoff)}

    return _run("archive-audit-logs", work)


def record_health_metrics() -> dict:
    def work():
        now = _now()
        measurements = database.database_health_measurements(db.session)
        measurements += queues.queue_measurements(redis_client())
        samples = store_measurements(db.session, measurements, recorded_at=now)
        db.session.commit()
        pruned = _drain(purge.prune_health_samples_batch, recorded_before=now - HEALTH_SAMPLE_RETENTION)
        return {"samples": samples, "pruned": pruned}

    return _run("record-health-metrics", work)


def purge_expired_sessions() -> dict:
    def work():
        # Sessions are few (a handful per user), so one statement is already a small batch.
        deleted = delete_expired_sessions(db.session, idle_days=job_app().config["SESSION_IDLE_DAYS"])
        db.session.commit()
        return {"deleted": deleted}

    return _run("purge-expired-sessions", work)


def record_feed_access() -> dict:
    def work():
        return {"feeds": access.record_daily_counts(db.session, redis_client(), _now().date())}

    return _run("record-feed-access", work)


def _now() -> datetime:
    return datetime.now(UTC)


def _drain(batch: Callable[..., int], **arguments) -> int:
    """Run `batch` and commit until a batch comes back short; returns the total handled."""
    total = 0
    while True:
        handled = batch(db.session, limit=purge.BATCH_SIZE, **arguments)
        db.session.commit()
        total += handled
        if handled < purge.BATCH_SIZE:
            return total


def _run(name: str, work: Callable[[], dict]) -> dict:
    """App context, a per-job lock (a second copy returns at once), and the audit row with counts and duration.

    A failure is audited in a fresh transaction and re-raised, so RQ records it too.
    """
    with job_app().app_context():
        lock = redis_client().lock(f"lock:maintenance:{name}", timeout=LOCK_SECONDS)
        if not lock.acquire(blocking=False):
            log.info("maintenance already running job=%s", name)
            return {"skipped": True}
        started = time.monotonic()
        try:
            counts = work()
        except Exception as error:
            db.session.rollback()
            _audit(name, started, status=AuditStatus.FAILURE, error=_describe(error))
            raise
        else:
            _audit(name, started, **counts)
        finally:
            lock.release()
        log.info("maintenance done job=%s %s", name, " ".join(f"{key}={value}" for key, value in counts.items()))
        return counts


def _audit(name: str, started: float, status: AuditStatus = AuditStatus.SUCCESS, error: str | None = None, **counts):
    duration_ms = round((time.monotonic() - started) * 1000)
    audit.record(
        db.session, ACTIONS[name], user_id=None, resource=("maintenance", name), status=status,
        error=error, duration_ms=duration_ms, **counts,
    )
    db.session.commit()


def _describe(error: Exception) -> str:
    # First line only: SQLAlchemy appends the statement and its parameters on later lines.
    first_line = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}"[:500]
