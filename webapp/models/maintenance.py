from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Double, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.audit import AuditStatus
from webapp.models.base import Base, CreatedAt, Timestamp, UUIDPrimaryKey, pg_enum


class AuditLogArchive(UUIDPrimaryKey, CreatedAt, Base):
    """Audit rows older than 90 days, moved here by the hourly archive job. Same columns as `audit_logs`."""

    __tablename__ = "audit_logs_archive"
    __table_args__ = (
        # The admin log can include archived rows in the same keyset order as the live table.
        Index("audit_logs_archive_created_at_id_idx", "created_at", "id"),
        Index(None, "action"),
    )

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


class HealthSample(UUIDPrimaryKey, Base):
    """One measurement of the database or the queues, e.g. ("dead_tuples", "calendar_events", 1234).

    One narrow table rather than a column per metric: adding a metric needs no migration.
    """

    __tablename__ = "health_metric_samples"
    __table_args__ = (Index(None, "metric", "recorded_at"), Index(None, "recorded_at"))

    recorded_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now())
    metric: Mapped[str] = mapped_column(String(100))
    # What was measured: a table or queue name; empty for database-wide values.
    subject: Mapped[str] = mapped_column(String(100), server_default="")
    value: Mapped[float] = mapped_column(Double)
