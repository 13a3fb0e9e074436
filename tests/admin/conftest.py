"""Admin fixtures: an admin signed in through the real login form, and fast ways to fill the audit log."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, text

from tests.conftest import make_user
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarProvider, User


@pytest.fixture
def admin(db_session):
    return make_user(db_session, is_admin=True, first_name="Grace", last_name="Hopper")


@pytest.fixture
def admin_client(client, login, admin):
    response = login(admin)
    assert response.status_code == 302
    return client


def add_audit_rows(session, count: int, *, newest: datetime | None = None, step=timedelta(minutes=1),
                   table=AuditLog, **columns) -> list[uuid.UUID]:
    """`count` rows one `step` apart ending at `newest`; returns their ids newest first. Commits."""
    newest = newest or datetime.now(UTC) - timedelta(minutes=1)
    values = {"action": "TEST_ACTION", "status": AuditStatus.SUCCESS} | columns
    rows = [{"id": uuid.uuid4(), "created_at": newest - step * index, **values} for index in range(count)]
    session.execute(insert(table), rows)
    session.commit()
    return [row["id"] for row in rows]


def add_many_audit_rows(session, count: int) -> None:
    """Bulk rows generated in the database (50,000 take well under a second). Commits."""
    session.execute(
        text(
            "INSERT INTO audit_logs (action, status, resource_type, resource_id, created_at)"
            " SELECT 'BULK_' || (n % 7), CASE WHEN n % 10 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END::audit_status,"
            " 'event', n::text, now() - interval '1 hour' - n * interval '1 second'"
            " FROM generate_series(1, :count) AS n"
        ),
        {"count": count},
    )
    session.commit()


def add_users(session, emails: list[str]) -> list[uuid.UUID]:
    """Accounts that never log in, without the ~0.1 s argon2 hash each `make_user` costs. Commits."""
    rows = [{"id": uuid.uuid4(), "email": email, "password_hash": "not-a-hash"} for email in emails]
    session.execute(insert(User), rows)
    session.commit()
    return [row["id"] for row in rows]


def make_connection(session, user_id: uuid.UUID, **overrides) -> CalendarConnection:
    values = {
        "user_id": user_id,
        "provider": CalendarProvider.GOOGLE,
        "calendar_id": f"cal-{uuid.uuid4().hex[:8]}",
        "calendar_name": "Work",
    } | overrides
    connection = CalendarConnection(**values)
    session.add(connection)
    session.commit()
    return connection


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        # The test's savepoints are bookkeeping of the fixture, not queries of the page.
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Counts the SQL statements sent while the returned counter is in use."""
    counter = QueryCounter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)
