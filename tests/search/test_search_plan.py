"""The search statements read one user's calendars through an index, never the whole events table."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.helpers import sent_statements
from webapp.extensions import db
from webapp.search.engine import parse_query, search_parameters, search_statement, searched_calendars


def seed(connection) -> str:
    """60 users x 3 calendars x 300 events of varied titles; returns one user's id."""
    connection.execute(text("""
        INSERT INTO users (email, password_hash)
        SELECT 'plan' || n || '@example.com', 'x' FROM generate_series(1, 60) AS n"""))
    connection.execute(text("""
        INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name)
        SELECT u.id, 'GOOGLE', 'cal-' || k, 'Calendar ' || k FROM users u CROSS JOIN generate_series(1, 3) AS k
        WHERE u.email LIKE 'plan%'"""))
    connection.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, location, start_time,
                                     end_time, timezone, status, sync_status)
        SELECT c.id, 'evt-' || n,
               (ARRAY['Budget', 'Design', 'Hiring', 'Roadmap', 'Dentist'])[1 + n % 5] || ' '
                   || (ARRAY['review', 'sync', 'call', 'lunch'])[1 + n % 4] || ' ' || n,
               'Room ' || n % 7, now() + n * interval '3 hours', now() + n * interval '3 hours' + interval '1 hour',
               'UTC', 'CONFIRMED', 'SYNCED'
        FROM calendar_connections c CROSS JOIN generate_series(1, 300) AS n
        WHERE c.calendar_id LIKE 'cal-%'"""))
    connection.execute(text("ANALYZE users, calendar_connections, calendar_events, event_search"))
    return connection.execute(text("SELECT id FROM users WHERE email = 'plan7@example.com'")).scalar_one()


@pytest.fixture(scope="module")
def searcher(app):
    """The seeded data, committed once for the module's tests (building it takes seconds), emptied afterwards;
    returns the id of the user whose search is planned."""
    with app.app_context(), db.engine.begin() as connection:
        # Set-up, not a request: the app's 30 s statement timeout is not what this tests, and on a loaded machine
        # the 54,000 rows (each through the unaccent index expressions) took longer than that.
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        user_id = seed(connection)
    yield user_id
    with app.app_context(), db.engine.begin() as connection:
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))


def plan_nodes(db_session, statement, parameters) -> list[dict]:
    """Every node of the plan PostgreSQL makes for the statement as the app sends it."""
    connection = db_session.connection()
    with sent_statements(connection) as sent:
        found = db_session.execute(statement, parameters).all()
    assert found, "the search found nothing to plan for"
    sql, bound = sent[0]
    nodes, pending = [], [connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, bound).scalar_one()[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending += node.get("Plans", [])
    return nodes


def event_scans(nodes: list[dict]) -> list[tuple[str, str | None]]:
    """Reads of the events and of their search vectors (event_search)."""
    return [(node["Node Type"], node.get("Index Name")) for node in nodes
            if node.get("Relation Name") in ("calendar_events", "event_search")
            or node.get("Index Name", "").startswith(("calendar_events_", "event_search_"))]


def test_word_search_reads_each_calendar_through_an_index(db_session, searcher):
    user_id = searcher
    calendars = searched_calendars(db_session, user_id)
    terms = parse_query(db_session, "budget review")

    scans = event_scans(plan_nodes(db_session, search_statement(len(calendars)),
                                   search_parameters(user_id, calendars, terms, datetime.now(UTC))))

    assert scans and all(kind != "Seq Scan" for kind, _index in scans)
    read_per_calendar = [index for _kind, index in scans
                         if index not in (None, "calendar_events_pkey", "event_search_pkey")]
    assert len(read_per_calendar) == len(calendars)  # one narrowed read per calendar, never all users' rows
    assert set(read_per_calendar) <= {"event_search_idx", "calendar_events_connection_sync_status_idx",
                                      "calendar_events_connection_date_range_idx",
                                      "calendar_events_calendar_connection_id_idx"}


def test_trigram_search_reads_each_calendar_through_an_index_too(db_session, searcher):
    user_id = searcher
    calendars = searched_calendars(db_session, user_id)
    terms = parse_query(db_session, "budgeet")  # a typo: only the trigrams find it

    scans = event_scans(plan_nodes(db_session, search_statement(len(calendars), terms.similar_words),
                                   search_parameters(user_id, calendars, terms, datetime.now(UTC))))

    assert scans and all(kind != "Seq Scan" for kind, _index in scans)
    assert len([index for _kind, index in scans if index not in (None, "calendar_events_pkey")]) == len(calendars)
