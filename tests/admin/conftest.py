"""Admin fixtures: an admin signed in through the real login form, and fast ways to fill the audit log."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.factories import make_user
from webapp.extensions import db


@pytest.fixture
def admin(db_session):
    return make_user(db_session, is_admin=True, first_name="Grace", last_name="Hopper")


@pytest.fixture
def admin_client(client, login, admin):
    response = login(admin)
    assert response.status_code == 302
    return client


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
