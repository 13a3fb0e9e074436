"""The database half of a sync alone: storing 10,000 provider events, storing them again unchanged, and storing
them with 10 % changed — rows per second, each run one call of the pull's storing function and its commit.

Run: `python -m bench [--quick] sync_store` (a throwaway embedded PostgreSQL unless BENCH_DATABASE_URL is set).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.harness import bench_app, row
from webapp.extensions import db
from webapp.providers.base import RemoteEvent
from webapp.sync.events import as_row, upsert_events

TARGET_ROWS_PER_SECOND = 40_000


def remote_events(count: int, changed_every: int | None = None) -> list[RemoteEvent]:
    """`count` events; with `changed_every`, every that-many-th one has a new etag (a changed event)."""
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return [RemoteEvent(provider_event_id=f"bench-{n}", title=f"Bench event {n}", description="Agenda " * 8,
                        location="Room 4", start_time=start + timedelta(hours=n),
                        end_time=start + timedelta(hours=n, minutes=30), timezone="Europe/Berlin",
                        attendees=[{"email": f"guest{n % 7}@example.com", "responseStatus": "accepted"}],
                        etag=f'"v{2 if changed_every and n % changed_every == 0 else 1}-{n}"')
            for n in range(count)]


def new_connection(session) -> str:
    session.execute(text("INSERT INTO users (email, password_hash) VALUES ('store@example.com', 'x') "
                         "ON CONFLICT DO NOTHING"))
    connection_id = session.scalar(text(
        "INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name) "
        "SELECT id, 'GOOGLE', 'cal-' || gen_random_uuid(), 'Bench' FROM users WHERE email = 'store@example.com' "
        "RETURNING id"))
    session.commit()
    return connection_id


def measure(quick: bool = False, scale: int = 1) -> list[dict]:
    count = 500 if quick else 10_000 * scale
    rows = []
    with bench_app():
        session = db.session
        connection_id = new_connection(session)
        now = datetime.now(UTC)
        for what, events in ((f"insert {count:,} new events", remote_events(count)),
                             (f"store {count:,} unchanged", remote_events(count)),
                             (f"store {count:,}, 10 % changed", remote_events(count, changed_every=10))):
            batch = [as_row(event, None, now) for event in events]
            started = time.perf_counter()
            created, updated = upsert_events(session, connection_id, batch)
            session.commit()
            elapsed = time.perf_counter() - started
            rate = count / elapsed
            rows.append(row(f"{what}: created {created:,}, updated {updated:,} in {elapsed * 1000:,.0f} ms", rate,
                            "rows/s", f">= {TARGET_ROWS_PER_SECOND:,} rows/s", rate >= TARGET_ROWS_PER_SECOND))
    return rows


def run(quick: bool = False, scale: int = 1) -> dict:
    return {"title": "Storing provider events, database path alone (COPY into a temporary table, one INSERT … "
                     "SELECT ON CONFLICT)", "rows": measure(quick, scale),
            "notes": ["Each new row computes the search vector (a generated column); that alone takes about "
                      "200 µs per row here and bounds the insert rate."]}

