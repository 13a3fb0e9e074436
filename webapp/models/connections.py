from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, Timestamp, Timestamps, UUIDPrimaryKey, pg_enum


class CalendarProvider(enum.Enum):
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    APPLE = "APPLE"
    CALDAV = "CALDAV"  # any CalDAV server the user names (Fastmail, Nextcloud, Radicale, …), two-way
    ICS = "ICS"  # a subscribed iCalendar feed, read-only; its calendar_id is the feed's address


class CalendarConnection(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "calendar_connections"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "calendar_id"),
        CheckConstraint("calendar_color ~ '^#[0-9a-f]{6}$'", name="calendar_color_hex"),
        CheckConstraint("provider::text <> 'ICS' OR (access_token IS NULL AND refresh_token IS NULL)",
                        name="subscription_has_no_tokens"),
        Index(None, "provider"),
        Index(None, "is_connected"),
        Index(None, "last_synced_at"),
        Index(None, "deleted_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[CalendarProvider] = mapped_column(pg_enum(CalendarProvider, "calendar_provider"))
    # CalDAV calendars are identified by their collection URL, which can be long.
    calendar_id: Mapped[str] = mapped_column(String(1024))
    calendar_name: Mapped[str] = mapped_column(Text)
    # Encrypted (AES-256-GCM, see webapp.crypto); never plaintext.
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(Timestamp())
    calendar_color: Mapped[str | None] = mapped_column(String(7))
    is_primary: Mapped[bool] = mapped_column(Boolean, server_default=false())
    is_connected: Mapped[bool] = mapped_column(Boolean, server_default=true())
    last_synced_at: Mapped[datetime | None] = mapped_column(Timestamp())
    sync_token: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp())

    # What the connections page and the sync engine need to know about the calendar.
    # The provider account the calendar belongs to (the Apple ID for CalDAV, whose password is access_token).
    account_email: Mapped[str | None] = mapped_column(String(255))
    can_write: Mapped[bool] = mapped_column(Boolean, server_default=true())
    is_visible: Mapped[bool] = mapped_column(Boolean, server_default=true())
    # Why is_connected went false (revoked grant, undecryptable token): shown beside the Reconnect button.
    disconnect_reason: Mapped[str | None] = mapped_column(Text)
    # Sync stopped on purpose (e.g. the deletion guard) until someone looks.
    attention_reason: Mapped[str | None] = mapped_column(Text)
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    sync_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # What the sync status shows (see webapp.sync.status): when the last attempt ended, when the next is due
    # (None after a failure: retries are exhausted), the provider's Retry-After deadline, and the last failure's
    # kind; the events the last successful sync could not store, as [{id, reason}].
    last_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp())
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp())
    retry_after_until: Mapped[datetime | None] = mapped_column(Timestamp())
    last_failure_kind: Mapped[str | None] = mapped_column(String(64))
    skipped_events: Mapped[list[dict] | None] = mapped_column(JSONB)
    # When the provider answered that the calendar no longer exists for this account (deleted there, or no longer
    # shared with it): sync stops and writes are refused until the user removes it from Almanac (or a sync the
    # user asks for finds it again).
    provider_removed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # A CALDAV account's server, where discovery found its calendars: the password goes only to this site (see
    # webapp.providers.caldav). NULL for the other providers (iCloud's server is APPLE_CALDAV_URL).
    server_url: Mapped[str | None] = mapped_column(Text)
    # Why the provider could not be asked to notify us of changes (webapp.sync.watch), shown as "updates every 5
    # minutes — push unavailable: …", and when that was last tried; NULL while push works (or is turned off).
    watch_unavailable_reason: Mapped[str | None] = mapped_column(Text)
    watch_failed_at: Mapped[datetime | None] = mapped_column(Timestamp())


class CalendarSubscription(Base):
    """An ICS calendar's feed state (its address is the connection's calendar_id): the HTTP validators and digest
    of the last good copy, which the next refresh sends as If-None-Match / If-Modified-Since, and how often to
    refresh. A subscription has no tokens."""

    __tablename__ = "calendar_subscriptions"
    __table_args__ = (CheckConstraint("refresh_minutes BETWEEN 15 AND 1440", name="refresh_minutes_range"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_connections.id", ondelete="CASCADE"), primary_key=True)
    refresh_minutes: Mapped[int] = mapped_column(Integer, server_default=text("30"))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)  # verbatim, as the server sent it
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    last_checked_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last check (304: unchanged)
    last_bytes: Mapped[int | None] = mapped_column(BigInteger)  # bytes the last check moved
    created_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now())


class OAuthState(UUIDPrimaryKey, CreatedAt, Base):
    """A pending OAuth authorization: the CSRF `state` we sent, valid for 15 minutes and usable once."""

    __tablename__ = "oauth_states"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        Index(None, "expires_at"),
        Index(None, "user_id", "provider"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[CalendarProvider] = mapped_column(pg_enum(CalendarProvider, "calendar_provider"))
    state: Mapped[str] = mapped_column(String(255), unique=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    consumed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # PKCE verifier, encrypted like the tokens; the browser never sees it.
    code_verifier: Mapped[str | None] = mapped_column(Text)
