"""Admin fixtures: counting the queries a page sends (`admin` and `admin_client` are in the root conftest)."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from webapp.extensions import db


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
