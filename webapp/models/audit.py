from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, CreatedAt, UUIDPrimaryKey, pg_enum


class AuditStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class AuditColumns(UUIDPrimaryKey, CreatedAt):
    """The columns of an audit row, shared by the live log and its archive."""

    # The trail outlives the account: deleting a user keeps their rows, unlinked.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str | None] = mapped_column(String(100))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[AuditStatus] = mapped_column(pg_enum(AuditStatus, "audit_status"))
    error_message: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)


class AuditLog(AuditColumns, Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        # The admin log pages newest first with keyset pagination on (created_at, id).
        Index("audit_logs_created_at_id_idx", "created_at", "id"),
        Index(None, "action"),
    )
