"""Maintenance jobs run against the test app and its rolled-back transaction, with small batches."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert

from webapp.maintenance import purge
from webapp.models import CalendarConnection, CalendarProvider, User


@pytest.fixture(autouse=True)
def jobs_use_the_test_app(app, monkeypatch):
    monkeypatch.setattr("jobs.maintenance.job_app", lambda: app)


@pytest.fixture
def small_batches(monkeypatch):
    """Three rows per batch, so a handful of rows already takes several batches."""
    monkeypatch.setattr(purge, "BATCH_SIZE", 3)
    return 3


@pytest.fixture
def connection_id(db_session) -> uuid.UUID:
    user_id, connection_id = uuid.uuid4(), uuid.uuid4()
    db_session.execute(insert(User), [{"id": user_id, "email": f"{user_id.hex}@example.com", "password_hash": "x"}])
    db_session.execute(insert(CalendarConnection), [{
        "id": connection_id, "user_id": user_id, "provider": CalendarProvider.GOOGLE, "calendar_id": "primary",
        "calendar_name": "Work"}])
    db_session.commit()
    return connection_id


