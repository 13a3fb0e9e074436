"""A pooled connection the server closed is replaced at checkout, without a test query on every checkout."""
from __future__ import annotations

from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from tests.helpers import has_word_from_server, wait_for
from webapp.extensions import db


def test_a_connection_terminated_by_the_server_is_replaced_before_a_request_uses_it(app):
    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:
            first_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            idle = connection.connection.dbapi_connection
        outsider = create_engine(engine.url, poolclass=NullPool)  # not from the pool under test
        with outsider.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}).scalar_one()
        outsider.dispose()
        wait_for(lambda: has_word_from_server(idle), 10, "the server's goodbye reaching the idle socket")
        statements = []
        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

        assert pid != first_pid
        assert statements == ["SELECT pg_backend_pid()"]
        assert not engine.pool._pre_ping  # the check costs no round trip
