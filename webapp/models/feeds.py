from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, false, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, Timestamp, UUIDPrimaryKey


class CalendarFeed(UUIDPrimaryKey, CreatedAt, Base):
    """A user's private iCalendar address. The URL holds a random token; only its SHA-256 hash is stored, so a
    new token (created_at moves) ends the old address at once."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("user_id", "variant"),
                      CheckConstraint("variant IN ('full', 'busy')", name="variant_known"))

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    # "full": the events as the week pages show them; "busy": only when the user is busy (see webapp.feeds.ical).
    variant: Mapped[str] = mapped_column(String(8), server_default="full")
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    include_attendees: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # When what the feed serves was last changed by its settings (not by events): part of Last-Modified.
    changed_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now())
    # Written at most hourly, so the settings page can say the address is in use.
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp())
