"""Syncs for someone who is looking: a calendar page opened or brought back to the front syncs its calendars when
they are more than a minute old (at most once a minute per calendar), and CalDAV calendars, which cannot tell us
when they change, are checked every minute while one of their owner's tabs is open.

Open tabs say so each time they ask for the change stamp (webapp.live): a sorted set of user ids scored by when
their last tab asked. Nothing here waits on a provider: it only queues syncs on the live queue.
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from webapp.models import CalendarConnection, CalendarProvider
from webapp.sync.queue import enqueue_live_syncs

# A calendar synced less than this long ago is fresh enough for someone looking at it.
FRESH_FOR = timedelta(minutes=1)
VIEWED_KEY = "live:viewed:{}"
OPEN_TABS_KEY = "live:open"
# A tab counts as open for this long after it last asked (it asks every few seconds while visible).
OPEN_FOR_SECONDS = 90
# The minute's check leaves out what synced within this long (a little under the minute, so the clock's jitter
# does not skip a minute).
CHECKED_WITHIN = timedelta(seconds=50)


def _shown(user_ids: list[uuid.UUID]) -> tuple:
    calendar = CalendarConnection
    return (calendar.user_id.in_(user_ids), calendar.deleted_at.is_(None), calendar.is_connected.is_(True),
            calendar.is_visible.is_(True), calendar.provider_removed_at.is_(None),
            calendar.attention_reason.is_(None), calendar.sync_failures == 0)


def sync_on_view(session: Session, redis: Redis, user_id: uuid.UUID, now: datetime | None = None) -> list[uuid.UUID]:
    """The user's shown calendars last synced over a minute ago, each at most once a minute: queue their syncs.
    Calendars that are failing keep to their retry schedule. Returns the calendars queued."""
    now = now or datetime.now(UTC)
    stale = list(session.scalars(select(CalendarConnection.id).where(
        *_shown([user_id]),
        or_(CalendarConnection.last_synced_at.is_(None), CalendarConnection.last_synced_at < now - FRESH_FOR))))
    if not stale:
        return []
    with redis.pipeline(transaction=False) as pipeline:
        for connection_id in stale:
            pipeline.set(VIEWED_KEY.format(connection_id), 1, ex=int(FRESH_FOR.total_seconds()), nx=True)
        won = [connection_id for connection_id, first in zip(stale, pipeline.execute(), strict=True) if first]
    if won:
        enqueue_live_syncs(won)
    return won


def note_open_tab(redis: Redis, user_id: uuid.UUID | str, pipeline=None) -> None:
    (pipeline or redis).zadd(OPEN_TABS_KEY, {str(user_id): time.time()})


def users_with_open_tabs(redis: Redis, now: float | None = None) -> list[uuid.UUID]:
    now = now or time.time()
    with redis.pipeline(transaction=False) as pipeline:
        pipeline.zremrangebyscore(OPEN_TABS_KEY, "-inf", now - OPEN_FOR_SECONDS)
        pipeline.zrangebyscore(OPEN_TABS_KEY, now - OPEN_FOR_SECONDS, "+inf")
        members = pipeline.execute()[1]
    return [uuid.UUID(member.decode() if isinstance(member, bytes) else member) for member in members]


def check_open_caldav(session: Session, redis: Redis, now: datetime | None = None) -> list[uuid.UUID]:
    """Every minute: the CalDAV calendars of users with a tab open, unless synced within the minute (one
    sync-collection REPORT each when nothing changed)."""
    now = now or datetime.now(UTC)
    users = users_with_open_tabs(redis, now.timestamp())
    if not users:
        return []
    due = list(session.scalars(select(CalendarConnection.id).where(
        *_shown(users), CalendarConnection.provider == CalendarProvider.APPLE,
        or_(CalendarConnection.last_synced_at.is_(None), CalendarConnection.last_synced_at < now - CHECKED_WITHIN))))
    session.rollback()
    if due:
        enqueue_live_syncs(due)
    return due
