"""Links we hand out: a pending sign-up, a password reset, an invitation. Like sessions, only a SHA-256 of the token is
stored."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, Timestamp, UserToken, UUIDPrimaryKey


class SignupRequest(UUIDPrimaryKey, CreatedAt, Base):
    """A registration waiting for its email to be confirmed. The account is created only when the link is used,
    so registering never reveals whether an email has an account, and nobody can squat someone else's address."""

    __tablename__ = "signup_requests"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        Index(None, "expires_at"),
    )

    email: Mapped[str] = mapped_column(String(255), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    # Set by the job that mails the link (the request that stored the row never sees a token).
    token_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    used_at: Mapped[datetime | None] = mapped_column(Timestamp())


class PasswordReset(UserToken, Base):
    """A single-use link to choose a new password."""

    __tablename__ = "password_resets"

    used_at: Mapped[datetime | None] = mapped_column(Timestamp())


class Invitation(UUIDPrimaryKey, CreatedAt, Base):
    """A single-use link an admin made for one email: opening it creates that account (SIGNUP=open or invite)."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        Index(None, "expires_at"),
    )

    email: Mapped[str] = mapped_column(String(255), index=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    # The admin who made it; NULL when an operator did, at the console (or once that admin's account is gone).
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    used_at: Mapped[datetime | None] = mapped_column(Timestamp())
