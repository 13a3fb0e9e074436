from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, Timestamp, Timestamps, UUIDPrimaryKey, pg_enum


class EventStatus(enum.Enum):
    CONFIRMED = "CONFIRMED"
    TENTATIVE = "TENTATIVE"
    CANCELLED = "CANCELLED"


class SyncStatus(enum.Enum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    DELETED = "DELETED"


class RecurrenceFrequency(enum.Enum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


SEARCH_TEXT_SQL = "almanac_search_text(title, location)"
# Events lasting longer are flagged is_long and read through their own index; every other event of a window
# starts less than this before it (migration 0014w holds the same interval).
MAX_PLAIN_DURATION = timedelta(days=7)


class CalendarEvent(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("calendar_connection_id", "provider_event_id"),
        CheckConstraint("end_time >= start_time", name="ends_after_start"),
        CheckConstraint("recurrence_interval > 0", name="recurrence_interval_positive"),
        CheckConstraint("recurrence_count > 0", name="recurrence_count_positive"),
        # A deletion waiting for the provider is a local change: it stays PENDING or FAILED until confirmed.
        CheckConstraint("deletion_requested_at IS NULL OR sync_status IN ('PENDING', 'FAILED')",
                        name="deletion_waits_for_provider"),
        Index(None, "start_time"),
        Index(None, "end_time"),
        Index(None, "status"),
        Index(None, "sync_status"),
        Index(None, "is_recurring"),
        Index(None, "parent_event_id"),
        Index(None, "deleted_at"),
        Index("calendar_events_connection_date_range_idx", "calendar_connection_id", "start_time", "end_time"),
        Index("calendar_events_connection_sync_status_idx", "calendar_connection_id", "sync_status"),
        # Search (migration 0013a): trigrams of title and location for partial words; the words are in EventSearch.
        Index("calendar_events_search_text_trgm_idx", "calendar_connection_id",
              literal_column(SEARCH_TEXT_SQL).label("search_text"),
              postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"}),
        # The copies of one invitation on the user's other calendars (migration 0013d).
        Index("calendar_events_ical_uid_idx", literal_column("(provider_metadata ->> 'ical_uid'::text)")),
        # The window read's four paths (migration 0014w): events up to a week long by start, longer ones by
        # end, series by their end, overrides by the instance they replace.
        Index("calendar_events_short_events_idx", "calendar_connection_id", "start_time",
              postgresql_where=text("NOT is_recurring AND NOT is_long AND deleted_at IS NULL")),
        Index("calendar_events_long_events_idx", "calendar_connection_id", "end_time",
              postgresql_where=text("is_long AND NOT is_recurring AND deleted_at IS NULL")),
        Index("calendar_events_override_original_start_idx", "calendar_connection_id",
              literal_column("(provider_metadata ->> 'original_start_time'::text)"),
              postgresql_where=text("parent_event_id IS NOT NULL AND deleted_at IS NULL")),
        Index("calendar_events_series_until_idx", "calendar_connection_id",
              literal_column("COALESCE(series_until, 'infinity'::timestamp with time zone)"),
              postgresql_where=text("is_recurring AND parent_event_id IS NULL AND deleted_at IS NULL")),
        # The connections page lists the series that cannot be shown in full (migration 0015).
        Index("calendar_events_series_limit_idx", "calendar_connection_id",
              postgresql_where=text("series_limit IS NOT NULL AND deleted_at IS NULL")),
    )

    calendar_connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    provider_event_id: Mapped[str] = mapped_column(String(255), index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(500))
    start_time: Mapped[datetime] = mapped_column(Timestamp())
    end_time: Mapped[datetime] = mapped_column(Timestamp())
    is_all_day: Mapped[bool] = mapped_column(Boolean, server_default=false())
    timezone: Mapped[str] = mapped_column(String(100))
    status: Mapped[EventStatus] = mapped_column(pg_enum(EventStatus, "event_status"))
    sync_status: Mapped[SyncStatus] = mapped_column(pg_enum(SyncStatus, "sync_status"))

    is_recurring: Mapped[bool] = mapped_column(Boolean, server_default=false())
    recurrence_rule: Mapped[str | None] = mapped_column(Text)
    recurrence_frequency: Mapped[RecurrenceFrequency | None] = mapped_column(
        pg_enum(RecurrenceFrequency, "recurrence_frequency")
    )
    recurrence_interval: Mapped[int | None] = mapped_column(Integer)
    recurrence_end_date: Mapped[datetime | None] = mapped_column(Timestamp())
    recurrence_count: Mapped[int | None] = mapped_column(Integer)
    # When the series' last instance ends (webapp.recurrence.series_end); NULL: never, or not known yet.
    series_until: Mapped[datetime | None] = mapped_column(Timestamp())
    # Why the series cannot be shown in full, in plain words (webapp.recurrence.expansion_limit); NULL: it can.
    series_limit: Mapped[str | None] = mapped_column(Text)
    is_long: Mapped[bool] = mapped_column(
        Boolean, Computed("end_time - start_time > interval '7 days'", persisted=True), deferred=True
    )
    # An override or cancelled occurrence points at its series master; removing the master removes them.
    parent_event_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_events.id", ondelete="CASCADE")
    )

    attendees: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    reminders: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    provider_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    html_link: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # Gone from Almanac: deleted at the provider, or deleted here and confirmed by the provider.
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # Deleted here, not yet confirmed by the provider: the event stays (shown as being deleted, with any conflict
    # the deletion meets) until the push succeeds, which sets deleted_at (a single instance of a series: its
    # override becomes CANCELLED). Deleting a series covers its overrides through the master's row.
    deletion_requested_at: Mapped[datetime | None] = mapped_column(Timestamp())


class EventSearch(Base):
    """What search matches of an event (migration 0025): title A, location B, guests C, description D, and the
    beginnings of the words of the first three as "~" lexemes. Kept by triggers on calendar_events, at once or, for
    a sync's large pages, by webapp.sync.search_index right after the sync."""

    __tablename__ = "event_search"
    __table_args__ = (Index("event_search_idx", "calendar_connection_id", "search_vector", postgresql_using="gin"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_events.id", ondelete="CASCADE"), primary_key=True)
    calendar_connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    search_vector: Mapped[Any] = mapped_column(TSVECTOR)


class EventSearchPending(Base):
    """Events whose search vector a sync left for later (webapp.sync.search_index.index_pending)."""

    __tablename__ = "event_search_pending"

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    calendar_connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
