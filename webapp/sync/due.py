"""Which connections and events are due: connected and not synced in the last 5 minutes (a subscribed feed: not
looked at in its refresh period), less those
parked on purpose (deletion guard, stopped after retries, a provider's Retry-After still running, removed at the
provider); local changes to push, less those whose calendar is removed at the provider or read-only."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from webapp.models import CalendarConnection, CalendarEvent, CalendarProvider, CalendarSubscription, SyncStatus
from webapp.sync.policy import SYNC_INTERVAL


def due_connections(session: Session, now: datetime | None = None) -> list[uuid.UUID]:
    """A waiting retry does not hold a connection back past its cycle: the sweep takes it up (and replaces it)."""
    now = now or datetime.now(UTC)
    connection = CalendarConnection
    subscription = CalendarSubscription
    is_feed = connection.provider == CalendarProvider.ICS
    # A feed is checked every refresh_minutes (30 by default), failing or not: a broken feed keeps its last good
    # copy and is looked at again each period, never given up on, never more often.
    feed_period = func.make_interval(0, 0, 0, 0, 0, func.coalesce(subscription.refresh_minutes, 30))
    last_look = func.coalesce(connection.last_attempt_at, connection.last_synced_at)
    return list(session.scalars(
        select(connection.id)
        .outerjoin(subscription, subscription.connection_id == connection.id)
        .where(
            connection.is_connected.is_(True),
            connection.deleted_at.is_(None),
            connection.attention_reason.is_(None),
            connection.provider_removed_at.is_(None),
            or_(connection.retry_after_until.is_(None), connection.retry_after_until <= now),
            or_(and_(is_feed, or_(last_look.is_(None), last_look <= now - feed_period)),
                and_(~is_feed,
                     or_(connection.sync_failures == 0, connection.next_attempt_at.is_not(None)),  # not stopped
                     or_(connection.last_synced_at.is_(None), connection.last_synced_at < now - SYNC_INTERVAL))),
        ).order_by(connection.last_synced_at.asc().nulls_first())
    ))


def events_to_push(session: Session) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(event id, connection id) of local changes still waiting (a push job that died, or FAILED ones), less
    those waiting on the user's choice in a conflict."""
    return list(session.execute(
        select(CalendarEvent.id, CalendarEvent.calendar_connection_id)
        .join(CalendarConnection, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]),
               or_(CalendarEvent.provider_metadata.is_(None), ~CalendarEvent.provider_metadata.has_key("conflict")),
               CalendarConnection.is_connected.is_(True), CalendarConnection.deleted_at.is_(None),
               CalendarConnection.provider_removed_at.is_(None), CalendarConnection.can_write.is_(True))
        .order_by(CalendarEvent.created_at)
        .limit(1000)
    ))
