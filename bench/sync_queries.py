"""Sync-side timings at the seed's table sizes: Query 2 (pending sync), Query 3 (OAuth state) and bulk upserts.

Run: `python -m bench.sync_queries` (a throwaway embedded PostgreSQL; nothing else needed).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from bench.harness import bench_app, percentile
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent, OAuthState, SyncStatus
from webapp.providers.base import RemoteEvent
from webapp.sync.events import as_row, upsert_events

SEED_TARGETS = {"pending sync (Query 2)": "2-5 ms", "OAuth state (Query 3)": "<1 ms"}


def timed(action, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 0.5), percentile(samples, 0.95)


def seed(session) -> None:
    """1,000 users × 3 connections × 100 events (300,000 rows), 2 % pending; 100 live OAuth states."""
    session.execute(text("INSERT INTO users (email, password_hash) "
                         "SELECT 'user' || n || '@example.com', 'x' FROM generate_series(1, 1000) n"))
    session.execute(text("INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name) "
                         "SELECT u.id, 'GOOGLE', 'cal-' || k, 'Calendar ' || k FROM users u, generate_series(1, 3) k"))
    session.execute(text("""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time, timezone,
                                     status, sync_status, created_at, provider_metadata)
        SELECT c.id, 'evt-' || n, 'Event ' || n, now() + (n || ' hours')::interval,
               now() + (n || ' hours')::interval + interval '1 hour', 'UTC', 'CONFIRMED',
               (CASE WHEN n % 50 = 0 THEN 'PENDING' ELSE 'SYNCED' END)::sync_status,
               now() - (n || ' minutes')::interval, jsonb_build_object('etag', 'e' || n)
        FROM calendar_connections c, generate_series(1, 100) n"""))
    session.execute(text("INSERT INTO oauth_states (user_id, provider, state, expires_at, created_at) "
                         "SELECT id, 'GOOGLE', md5(id::text), now() + interval '15 minutes', now() "
                         "FROM users LIMIT 100"))
    session.commit()
    session.execute(text("ANALYZE"))


def remote_events(count: int, version: str) -> list[RemoteEvent]:
    start = datetime.now(UTC).replace(microsecond=0)
    return [RemoteEvent(provider_event_id=f"bench-{n}", title=f"Bench {n}", start_time=start + timedelta(hours=n),
                        end_time=start + timedelta(hours=n, minutes=30), etag=f'"{version}-{n}"')
            for n in range(count)]


def main() -> None:
    with bench_app():
        seed(db.session)
        connections = db.session.scalars(select(CalendarConnection.id)).all()
        states = db.session.scalars(select(OAuthState.state)).all()
        rows = []

        def pending():
            connection_id = connections[len(rows) % len(connections)]
            rows.append(db.session.scalars(select(CalendarEvent.id).where(
                CalendarEvent.calendar_connection_id == connection_id,
                CalendarEvent.sync_status.in_([SyncStatus.PENDING, SyncStatus.FAILED]))
                .order_by(CalendarEvent.created_at)).all())

        def state_lookup():
            db.session.execute(select(OAuthState).where(
                OAuthState.state == states[len(rows) % len(states)], OAuthState.consumed.is_(False),
                OAuthState.expires_at > datetime.now(UTC))).first()
            rows.append(1)

        results = [("pending sync (Query 2)", *timed(pending, 500)),
                   ("OAuth state (Query 3)", *timed(state_lookup, 500))]
        target = connections[0]
        now = datetime.now(UTC)
        for label, version in (("upsert 1,000 new events", "v1"), ("upsert 1,000 unchanged", "v1"),
                               ("upsert 1,000 changed", "v2")):
            batch = [as_row(event, None, now) for event in remote_events(1000, version)]
            started = time.perf_counter()
            upsert_events(db.session, target, batch)
            db.session.commit()
            elapsed = (time.perf_counter() - started) * 1000
            results.append((label, elapsed, elapsed))
        total = db.session.scalar(text("SELECT count(*) FROM calendar_events"))
    print(f"\nSync queries at {total:,} events and {len(connections):,} connections (embedded PostgreSQL)\n")
    print(f"{'query':<28} {'p50 ms':>8} {'p95 ms':>8}  seed target")
    for label, median, p95 in results:
        print(f"{label:<28} {median:>8.2f} {p95:>8.2f}  {SEED_TARGETS.get(label, '-')}")


if __name__ == "__main__":
    main()
