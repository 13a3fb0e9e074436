"""Row removal in batches.

Each `*_batch` function handles at most `limit` rows in one statement and returns how many it handled, so the
job can commit after every batch: no transaction holds thousands of row locks, and a run that is killed
halfway has committed whole batches only. Rows are claimed with SKIP LOCKED, so two overlapping runs split
the work instead of waiting on each other.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, text
from sqlalchemy.orm import Session

from webapp.models import CalendarEvent, OAuthState, PasswordReset, SignupRequest
from webapp.models.maintenance import HealthSample

# Small enough that a batch takes well under a second and locks few rows; large enough to clear a backlog.
BATCH_SIZE = 1000

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
    return delete_batch(session, CalendarEvent, CalendarEvent.deleted_at < deleted_before, limit)


def purge_oauth_states_batch(session: Session, *, now: datetime, limit: int) -> int:
    """Delete OAuth states that can no longer be used: expired, or already consumed by a callback."""
    return delete_batch(session, OAuthState, (OAuthState.expires_at <= now) | OAuthState.consumed, limit)


def purge_dead_links_batch(session: Session, *, now: datetime, limit: int) -> int:
    """Delete sign-up and password-reset links that can no longer be used (expired, or used). A waiting sign-up
    holds the password hash of an account that may never exist, so it goes as soon as its link is dead."""
    signups = delete_batch(session, SignupRequest,
                           (SignupRequest.expires_at <= now) | SignupRequest.used_at.is_not(None), limit)
    resets = delete_batch(session, PasswordReset,
                          (PasswordReset.expires_at <= now) | PasswordReset.used_at.is_not(None), limit)
    return signups + resets


def prune_health_samples_batch(session: Session, *, recorded_before: datetime, limit: int) -> int:
    return delete_batch(session, HealthSample, HealthSample.recorded_at < recorded_before, limit)


def archive_audit_logs_batch(session: Session, *, created_before: datetime, limit: int) -> int:
    """Move the oldest audit rows before the cutoff into audit_logs_archive; returns how many left audit_logs."""
    return session.execute(ARCHIVE_AUDIT_LOGS_BATCH, {"cutoff": created_before, "limit": limit}).scalar_one()


def delete_batch(session: Session, model: type, condition: ColumnElement[bool], limit: int) -> int:
    """Delete up to `limit` rows of `model` matching `condition`, skipping rows another transaction holds."""
    claimed = select(model.id).where(condition).limit(limit).with_for_update(skip_locked=True)
    statement = delete(model).where(model.id.in_(claimed.scalar_subquery()))
    return session.execute(statement, execution_options={"synchronize_session": False}).rowcount
