"""One shape for every health measurement, and storing a run's measurements as samples."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from webapp.models.maintenance import HealthSample


@dataclass(frozen=True)
class Measurement:
    metric: str
    subject: str
    value: float


def store_measurements(session: Session, measurements: list[Measurement], *, recorded_at: datetime) -> int:
    if not measurements:
        return 0
    session.execute(
        insert(HealthSample),
        [
            {"recorded_at": recorded_at, "metric": m.metric, "subject": m.subject, "value": float(m.value)}
            for m in measurements
        ],
    )
    return len(measurements)
