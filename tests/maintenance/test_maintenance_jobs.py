"""Each maintenance job at its boundaries, in batches, rerun safely, and audited as the system."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import func, insert, select, text

from jobs import maintenance as jobs
from tests.factories import add_events
from tests.helpers import audit_rows
from webapp.maintenance import database, purge
from webapp.models import (
    AuditLog,
    AuditStatus,
    CalendarConnection,
    CalendarEvent,
    CalendarProvider,
    OAuthState,
    PasswordReset,
    SignupRequest,
)
from webapp.models.maintenance import AuditLogArchive, HealthSample

DAY = timedelta(days=1)


def test_purge_deleted_events_at_the_30_day_boundary(db_session, redis, connection_id, small_batches):
    kept = add_events(db_session, connection_id, [None, 29.9 * DAY, 29.9 * DAY])
    add_events(db_session, connection_id, [30.1 * DAY] * 7 + [400 * DAY])

    assert jobs.purge_deleted_events() == {"deleted": 8}
    remaining = set(db_session.scalars(select(CalendarEvent.id)))
    assert remaining == set(kept)

    assert jobs.purge_deleted_events() == {"deleted": 0}  # idempotent
    first, second = audit_rows(db_session, "MAINTENANCE_PURGE_EVENTS")
    assert first.user_id is None and first.status == AuditStatus.SUCCESS
    assert (first.resource_type, first.resource_id) == ("maintenance", "purge-deleted-events")
    assert first.metadata_["deleted"] == 8 and isinstance(first.metadata_["duration_ms"], int)
    assert second.metadata_["deleted"] == 0


def add_audit_rows_aged(session, ages: list[timedelta], **columns) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    rows = [{"id": uuid.uuid4(), "action": "OLD_THING", "status": AuditStatus.SUCCESS, "created_at": now - age,
             "metadata_": {"n": index}, "ip_address": "192.0.2.1", **columns} for index, age in enumerate(ages)]
    session.execute(insert(AuditLog), rows)
    session.commit()
    return [row["id"] for row in rows]


def full_rows(session, table, ids):
    columns = [column for column in table.__table__.c]
    return {row.id: tuple(row) for row in session.execute(select(*columns).where(table.id.in_(ids)))}


def test_archive_audit_logs_at_the_90_day_boundary_keeps_every_column(db_session, redis, small_batches):
    recent = add_audit_rows_aged(db_session, [89.9 * DAY, DAY])
    old = add_audit_rows_aged(db_session, [90.1 * DAY] * 6 + [365 * DAY], error_message="boom")
    before = full_rows(db_session, AuditLog, old)

    assert jobs.archive_audit_logs() == {"archived": 7}
    assert set(db_session.scalars(select(AuditLog.id).where(AuditLog.action == "OLD_THING"))) == set(recent)
    assert full_rows(db_session, AuditLogArchive, old) == before

    assert jobs.archive_audit_logs() == {"archived": 0}
    [run, rerun] = audit_rows(db_session, "MAINTENANCE_ARCHIVE_AUDIT_LOGS")
    assert run.user_id is None and run.metadata_["archived"] == 7 and rerun.metadata_["archived"] == 0


def test_an_interrupted_archive_run_neither_loses_nor_duplicates_rows(db_session, redis, small_batches, monkeypatch):
    old = add_audit_rows_aged(db_session, [100 * DAY + minute * timedelta(minutes=1) for minute in range(10)])
    real_batch, calls = purge.archive_audit_logs_batch, []

    def killed_during_third_batch(session, **arguments):
        calls.append(arguments)
        if len(calls) == 3:
            real_batch(session, **arguments)  # the statement ran, but its transaction never commits
            raise SystemExit("worker killed")
        return real_batch(session, **arguments)

    monkeypatch.setattr(purge, "archive_audit_logs_batch", killed_during_third_batch)
    with pytest.raises(SystemExit):
        jobs.archive_audit_logs()

    def where_are(ids):
        live = db_session.scalars(select(AuditLog.id).where(AuditLog.id.in_(ids))).all()
        archived = db_session.scalars(select(AuditLogArchive.id).where(AuditLogArchive.id.in_(ids))).all()
        return live, archived

    live, archived = where_are(old)
    assert len(live) == 4 and len(archived) == 6  # two whole batches moved, the third rolled back
    assert sorted(live + archived) == sorted(old)

    monkeypatch.setattr(purge, "archive_audit_logs_batch", real_batch)
    assert jobs.archive_audit_logs() == {"archived": 4}
    live, archived = where_are(old)
    assert live == [] and sorted(archived) == sorted(old)


def test_archiving_a_row_already_copied_leaves_one_copy(db_session, redis):
    [row_id] = add_audit_rows_aged(db_session, [120 * DAY])
    db_session.execute(text(
        "INSERT INTO audit_logs_archive (id, action, status, created_at)"
        " SELECT id, action, status, created_at FROM audit_logs WHERE id = :id"), {"id": row_id})
    db_session.commit()
    assert jobs.archive_audit_logs() == {"archived": 1}
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.id == row_id)) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditLogArchive)
                             .where(AuditLogArchive.id == row_id)) == 1


def test_purge_oauth_states_removes_expired_and_consumed(db_session, redis, connection_id, small_batches):
    user_id = db_session.get(CalendarConnection, connection_id).user_id
    now = datetime.now(UTC)

    def state(expires_in: timedelta, consumed: bool = False) -> dict:
        return {"id": uuid.uuid4(), "user_id": user_id, "provider": CalendarProvider.GOOGLE,
                "state": uuid.uuid4().hex, "created_at": now - timedelta(minutes=30),
                "expires_at": now + expires_in, "consumed": consumed}

    pending = state(timedelta(minutes=10))
    expired = [state(-timedelta(minutes=1)) for _ in range(4)]
    rows = [pending, *expired, state(timedelta(minutes=10), consumed=True)]
    db_session.execute(insert(OAuthState), rows)
    db_session.commit()
    assert jobs.purge_oauth_states() == {"deleted": 5}
    assert db_session.scalars(select(OAuthState.id)).all() == [pending["id"]]
    assert audit_rows(db_session, "MAINTENANCE_PURGE_OAUTH_STATES")[0].metadata_["deleted"] == 5


def test_purge_dead_links_removes_expired_and_used_signups_and_resets(db_session, redis, connection_id,
                                                                     small_batches):
    user_id = db_session.get(CalendarConnection, connection_id).user_id
    now = datetime.now(UTC)

    def signup(expires_in: timedelta, used: bool = False) -> dict:
        return {"id": uuid.uuid4(), "email": f"{uuid.uuid4().hex}@example.com", "password_hash": "argon2-hash",
                "token_hash": uuid.uuid4().hex, "created_at": now - timedelta(hours=2),
                "expires_at": now + expires_in, "used_at": now if used else None}

    def reset(expires_in: timedelta, used: bool = False) -> dict:
        return {"id": uuid.uuid4(), "user_id": user_id, "token_hash": uuid.uuid4().hex,
                "created_at": now - timedelta(hours=2), "expires_at": now + expires_in,
                "used_at": now if used else None}

    waiting_signup, waiting_reset = signup(timedelta(hours=1)), reset(timedelta(minutes=30))
    db_session.execute(insert(SignupRequest), [waiting_signup, signup(timedelta(hours=1), used=True),
                                               *(signup(-timedelta(minutes=1)) for _ in range(3))])
    db_session.execute(insert(PasswordReset), [waiting_reset, reset(-timedelta(seconds=1)),
                                               reset(timedelta(minutes=30), used=True)])
    db_session.commit()
    assert jobs.purge_dead_links() == {"deleted": 6}
    assert db_session.scalars(select(SignupRequest.id)).all() == [waiting_signup["id"]]
    assert db_session.scalars(select(PasswordReset.id)).all() == [waiting_reset["id"]]
    assert audit_rows(db_session, "MAINTENANCE_PURGE_DEAD_LINKS")[0].metadata_["deleted"] == 6


def test_vacuum_analyze_runs_outside_a_transaction(db_session, redis):
    assert jobs.vacuum_analyze() == {"tables": len(database.MAIN_TABLES)}
    db_session.execute(text("SELECT pg_stat_clear_snapshot()"))
    vacuumed = db_session.scalars(text(
        "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL"))
    assert set(database.MAIN_TABLES) <= set(vacuumed)
    assert audit_rows(db_session, "MAINTENANCE_VACUUM_ANALYZE")[0].status == AuditStatus.SUCCESS


def test_refresh_table_statistics_records_table_and_index_sizes(db_session, redis):
    assert jobs.refresh_table_statistics() == {"tables": 8, "samples": 24}
    samples = db_session.execute(select(HealthSample.metric, HealthSample.subject, HealthSample.value)).all()
    table_bytes = {subject: value for metric, subject, value in samples if metric == "table_bytes"}
    assert set(table_bytes) == set(database.MAIN_TABLES)
    assert {metric for metric, _, _ in samples} == {"table_bytes", "index_bytes", "live_rows"}
    assert all(value > 0 for metric, _, value in samples if metric == "index_bytes")  # every table has a key


def test_record_health_metrics_measures_database_and_queues_and_prunes_old_samples(db_session, redis):
    now = datetime.now(UTC)
    db_session.execute(insert(HealthSample), [
        {"recorded_at": now - 30.1 * DAY, "metric": "database_bytes", "subject": "", "value": 1},
        {"recorded_at": now - 29.9 * DAY, "metric": "database_bytes", "subject": "", "value": 2},
    ])
    db_session.commit()
    sync = Queue("sync", connection=redis)
    sync.enqueue("math.sqrt", 4)
    sync.enqueue("math.sqrt", 9)

    result = jobs.record_health_metrics()
    assert result["pruned"] == 1
    samples = db_session.execute(select(HealthSample.metric, HealthSample.subject, HealthSample.value)
                                 .where(HealthSample.recorded_at > now - DAY)).all()
    by_key = {(metric, subject): value for metric, subject, value in samples}
    assert result["samples"] == len(samples)
    assert by_key[("queue_length", "sync")] == 2 and by_key[("queue_length", "default")] == 0
    assert by_key[("failed_jobs", "sync")] == 0
    assert by_key[("database_bytes", "")] > 1_000_000
    assert 0 <= by_key[("cache_hit_ratio", "")] <= 1
    assert by_key[("connections_in_use", "")] >= 1
    assert by_key[("longest_query_seconds", "")] >= 0
    assert ("dead_tuples", "calendar_events") in by_key and ("total_bytes", "audit_logs") in by_key
    assert db_session.scalar(select(func.count()).select_from(HealthSample)
                             .where(HealthSample.recorded_at < now - 30 * DAY)) == 0


def test_a_failing_job_is_audited_and_raises(db_session, redis, monkeypatch):
    def broken(session, **arguments):
        session.execute(text("SELECT 1 / 0"))

    monkeypatch.setattr(purge, "purge_oauth_states_batch", broken)
    with pytest.raises(Exception, match="division by zero"):
        jobs.purge_oauth_states()
    [entry] = audit_rows(db_session, "MAINTENANCE_PURGE_OAUTH_STATES")
    assert entry.status == AuditStatus.FAILURE and entry.user_id is None
    assert entry.error_message == "DataError: (psycopg.errors.DivisionByZero) division by zero"
    assert "SELECT" not in entry.error_message
    assert not redis.exists("lock:maintenance:purge-oauth-states")  # the lock is released for the next run


def test_a_second_copy_of_a_running_job_returns_at_once(db_session, redis):
    redis.set("lock:maintenance:archive-audit-logs", "held by another worker")
    assert jobs.archive_audit_logs() == {"skipped": True}
    assert audit_rows(db_session, "MAINTENANCE_ARCHIVE_AUDIT_LOGS") == []


def test_purge_expired_sessions_is_audited(db_session, redis):
    assert jobs.purge_expired_sessions() == {"deleted": 0}
    assert audit_rows(db_session, "MAINTENANCE_PURGE_SESSIONS")[0].metadata_["deleted"] == 0
