"""Which connections and events are due: the seed's "connected and not synced in the last 5 minutes"."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from webapp.models import CalendarConnection, CalendarEvent, SyncStatus

SYNC_INTERVAL = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600


def due_connections(session: Session, redis: Redis, now: datetime | None = None) -> list[uuid.UUID]:
    cutoff = (now or datetime.now(UTC)) - SYNC_INTERVAL
    ids = session.scalars(
        select(CalendarConnection.id).where(
            CalendarConnection.is_connected.is_(True),
            CalendarConnection.deleted_at.is_(None),
            CalendarConnection.attention_reason.is_(None),
            or_(CalendarConnection.last_synced_at.is_(None), CalendarConnection.last_synced_at < cutoff),
        ).order_by(CalendarConnection.last_synced_at.asc().nulls_first())
    ).all()
    return [connection_id for connection_id in ids if not redis.exists(backoff_key(connection_id))]


def events_to_push(session: Session) -> list[uuid.UUID]:
    """Local changes still waiting (a push job that died, or FAILED ones whose backoff has passed)."""
    return list(session.scalars(
        select(CalendarEvent.id)
        .join(CalendarConnection, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]),
               CalendarConnection.is_connected.is_(True), CalendarConnection.deleted_at.is_(None))
        .order_by(CalendarEvent.created_at)
        .limit(1000)
    ))


def backoff_key(connection_id: uuid.UUID | str) -> str:
    return f"backoff:sync:connection:{connection_id}"


def back_off(redis: Redis, connection_id: uuid.UUID | str, failures: int, retry_after: float | None = None) -> int:
    """Keep the sweep away from a failing connection: the provider's Retry-After, else exponential with jitter."""
    if retry_after:
        seconds = int(retry_after) + 1
    else:
        ceiling = min(BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS)
        seconds = int(ceiling / 2 + random.uniform(0, ceiling / 2))
    redis.set(backoff_key(connection_id), 1, ex=max(seconds, 1))
    return seconds
