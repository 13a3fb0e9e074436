from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.audit import AuditColumns
from webapp.models.base import Base, Timestamp, UUIDPrimaryKey


class AuditLogArchive(AuditColumns, Base):
    """Audit rows older than 90 days, moved here by the hourly archive job. Same columns as `audit_logs`."""

    __tablename__ = "audit_logs_archive"
    __table_args__ = (
        # The admin log can include archived rows in the same keyset order as the live table.
        Index("audit_logs_archive_created_at_id_idx", "created_at", "id"),
        Index(None, "action"),
    )


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
