"""The seed's Query 2 (pending sync) and Query 3 (OAuth state validation) use their indexes at realistic sizes."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql

from tests.factories import make_user
from webapp.models import CalendarEvent, OAuthState, SyncStatus


def explain(db_session, statement) -> str:
    compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    plan = db_session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    return json.dumps(plan)


def seed_events(db_session, connections: int = 200, per_connection: int = 100) -> list[uuid.UUID]:
    user = make_user(db_session)
    ids = db_session.execute(text("""
        INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name)
        SELECT :user_id, 'GOOGLE', 'cal-' || n, 'Calendar ' || n FROM generate_series(1, :count) AS n
        RETURNING id"""), {"user_id": user.id, "count": connections}).scalars().all()
    db_session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
                                     timezone, status, sync_status, created_at)
        SELECT c.id, 'evt-' || n, 'Event ' || n,
               now() + (n || ' hours')::interval, now() + (n || ' hours')::interval + interval '1 hour',
               'UTC', 'CONFIRMED',
               (CASE WHEN n % 50 = 0 THEN 'PENDING' ELSE 'SYNCED' END)::sync_status,
               now() - (n || ' minutes')::interval
        FROM calendar_connections c CROSS JOIN generate_series(1, :per) AS n
        WHERE c.user_id = :user_id"""), {"user_id": user.id, "per": per_connection})
    db_session.execute(text("""
        INSERT INTO oauth_states (user_id, provider, state, expires_at, created_at)
        SELECT :user_id, 'GOOGLE', md5(n::text), now() + interval '15 minutes', now()
        FROM generate_series(1, 5000) AS n"""), {"user_id": user.id})
    db_session.execute(text("ANALYZE calendar_events, calendar_connections, oauth_states"))
    return ids


def test_pending_sync_query_uses_the_connection_sync_status_index(db_session):
    connection_id = seed_events(db_session)[7]
    query = (select(CalendarEvent)
             .where(CalendarEvent.calendar_connection_id == connection_id,
                    CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]))
             .order_by(CalendarEvent.created_at))
    plan = explain(db_session, query)
    assert "calendar_events_connection_sync_status_idx" in plan
    assert '"Node Type": "Seq Scan"' not in plan
    assert len(db_session.scalars(query).all()) == 2


def test_oauth_state_validation_is_a_unique_index_lookup(db_session):
    seed_events(db_session, connections=1, per_connection=1)
    statement = (update(OAuthState)
                 .where(OAuthState.state == "c4ca4238a0b923820dcc509a6f75849b", OAuthState.consumed.is_(False),
                        OAuthState.expires_at > datetime.now(UTC))
                 .values(consumed=True))
    plan = explain(db_session, statement)
    assert "oauth_states_state_key" in plan and '"Node Type": "Seq Scan"' not in plan
