"""Push notification channels: Google watch channels (events.watch per calendar, calendarList.watch per account) and
Microsoft Graph subscriptions (one per calendar's events), and what each notification must carry to be believed."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, Timestamp, UUIDPrimaryKey, pg_enum
from webapp.models.connections import CalendarProvider


class WatchKind(enum.Enum):
    EVENTS = "EVENTS"  # one calendar's events (Google events.watch, a Graph subscription)
    CALENDAR_LIST = "CALENDAR_LIST"  # an account's list of calendars (Google calendarList.watch)


class WatchChannel(UUIDPrimaryKey, CreatedAt, Base):
    """One live channel or subscription. A notification is believed only when it names a channel here and carries
    its secret (Google's X-Goog-Channel-Token, Graph's clientState), of which only the SHA-256 is stored.

    A channel made while the old one still runs (Google renews by replacing) lives beside it until the old one is
    stopped. On disconnect a channel loses its calendar (`connection_id` NULL) and is kept, with the access token
    needed to stop it sealed on the row, until the stop went through (or it expired by itself)."""

    __tablename__ = "watch_channels"
    __table_args__ = (
        CheckConstraint("kind = 'CALENDAR_LIST' OR connection_id IS NOT NULL OR stop_requested_at IS NOT NULL",
                        name="events_channel_has_calendar"),
        Index(None, "expires_at"),
        Index(None, "connection_id"),
        Index(None, "user_id", "provider", "account_email"),
    )

    # NULL once the account is deleted: its channels are still stopped (with the token sealed on the row).
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    provider: Mapped[CalendarProvider] = mapped_column(pg_enum(CalendarProvider, "calendar_provider"))
    kind: Mapped[WatchKind] = mapped_column(pg_enum(WatchKind, "watch_kind"))
    # The calendar an EVENTS channel watches; NULL once it is being stopped, and for an account's CALENDAR_LIST.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_connections.id", ondelete="SET NULL"))
    account_email: Mapped[str | None] = mapped_column(String(255))
    # Google: the id we chose; Graph: the subscription id it gave.
    channel_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Google's id of the watched resource (channels/stop needs it); Graph has none.
    resource_id: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text)
    # NULL while the provider has not answered the watch request yet (Google may notify before it answers).
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp())
    renewed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    stop_requested_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # Sealed (webapp.crypto, bound to this row): the calendar's access token when it was disconnected.
    access_token: Mapped[str | None] = mapped_column(Text)
