from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, UUIDPrimaryKey


class OverlapExemption(UUIDPrimaryKey, CreatedAt, Base):
    """"Don't flag this series": two series (or single events) the user knows overlap, never marked as a double
    booking again. Each side is a series master's id, or a plain event's; the smaller id comes first."""

    __tablename__ = "overlap_exemptions"
    __table_args__ = (
        UniqueConstraint("user_id", "first_event_id", "second_event_id"),
        CheckConstraint("first_event_id < second_event_id", name="pair_in_order"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    first_event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_events.id", ondelete="CASCADE"), index=True)
    second_event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_events.id", ondelete="CASCADE"), index=True)
