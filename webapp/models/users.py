from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, SmallInteger, String, Text, false, func, text, true
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, Timestamp, Timestamps, UserToken, UUIDPrimaryKey


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("week_start BETWEEN 1 AND 7", name="week_start_iso_weekday"),
        CheckConstraint("work_day_start >= 0 AND work_day_start < work_day_end AND work_day_end <= 1440",
                        name="working_hours_in_order"),
    )

    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # IANA zone for the calendar views; NULL until the browser's zone is known or the user picks one.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # ISO weekday the week view starts on: 1 = Monday … 7 = Sunday.
    week_start: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    # Working hours in minutes after local midnight: where the time grid opens (08:00–18:00 until changed).
    work_day_start: Mapped[int] = mapped_column(SmallInteger, server_default=text("480"))
    work_day_end: Mapped[int] = mapped_column(SmallInteger, server_default=text("1080"))
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # A disabled account cannot log in and its sessions end at once.
    disabled_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # The week and day views mark busy events from different calendars that overlap.
    mark_double_bookings: Mapped[bool] = mapped_column(Boolean, server_default=true())
    # The clock every page uses: True 13:00, False 1:00 pm; None until the browser's locale says (or Settings).
    clock_24h: Mapped[bool | None] = mapped_column(Boolean)
    # Where new events go: chosen in Settings, and remembered from the last new event's choice.
    default_calendar_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_connections.id", ondelete="SET NULL", use_alter=True))

    # flask-login: the session cookie identifies the session row, not the user (see webapp.auth.sessions).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None and self.disabled_at is None

    def get_id(self) -> str:
        return str(self.id)

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return full or self.email


class LoginSession(UserToken, Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 hash is stored."""

    __tablename__ = "sessions"

    # For the 14-day idle expiry and the "last seen" column on the sessions page.
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now())
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
