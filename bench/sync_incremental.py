"""An incremental sync that finds nothing new, on a calendar of 10,000 events: its time (p50/p95 over many runs),
the requests the provider answered (counted at the emulator), the rows our database wrote (PostgreSQL's own
counters, pg_stat_user_tables) and the statements it ran.

Run: `python -m bench [--quick] sync_incremental`.
"""
from __future__ import annotations

import time
from collections import Counter
from unittest import mock

from sqlalchemy import event, text

from bench.harness import percentile, row
from bench.sync_env import connect_oauth, connections_of, logged_in, new_user, sync_bench
from webapp.extensions import db

TABLES = ("calendar_events", "audit_logs", "calendar_connections")


def written_rows() -> dict[str, int]:
    """Rows inserted, updated or deleted per table so far. Every backend reports its counts when it ends, so the
    pool is emptied first."""
    db.session.remove()
    db.engine.dispose()
    time.sleep(0.5)
    with db.engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = connection.execute(text(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = ANY(:names)"
        ), {"names": list(TABLES)}).all()
    return dict(rows)


def shape(statement: str) -> str:
    words = " ".join(statement.split())
    return words[:90]


def measure(quick: bool = False, scale: int = 1) -> list[dict]:
    import jobs.sync

    events = 200 if quick else 10_000 * scale
    runs = 20 if quick else 300
    with sync_bench(google=[f"quiet@gmail.com:1:{events}"]) as bench:
        user = new_user("quiet@example.com")
        connect_oauth(bench, logged_in(bench.app, user), "google", "quiet@gmail.com")
        (connection,) = connections_of(user.id)
        connection_id = str(connection.id)
        statements: list[str] = []

        def remember(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with mock.patch.object(jobs.sync, "job_app", lambda: bench.app):
            assert jobs.sync.sync_connection(connection_id)["created"] == events
            jobs.sync.sync_connection(connection_id)  # warm: the first run after the full one settles the cursor
            before_rows, before_requests = written_rows(), bench.requests_seen("google")
            event.listen(db.engine, "before_cursor_execute", remember)
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                counts = jobs.sync.sync_connection(connection_id)
                samples.append((time.perf_counter() - started) * 1000)
                assert counts["created"] == counts["updated"] == counts["deleted"] == 0
            event.remove(db.engine, "before_cursor_execute", remember)
            after_requests, after_rows = bench.requests_seen("google"), written_rows()
    written = {table: (after_rows.get(table, 0) - before_rows.get(table, 0)) / runs for table in TABLES}
    requests_per_run = (after_requests - before_requests) / runs
    shapes = Counter(shape(statement) for statement in statements)
    event_reads = [statement for statement in statements if "FROM calendar_events" in statement]
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    notes = [f"Statements per run ({len(statements) / runs:.0f}):"]
    notes += [f"  {count / runs:>4.1f} x {name}" for name, count in shapes.most_common()]
    rows = [
        row(f"no-change incremental sync, {events:,}-event calendar, {runs} runs (p50 {p50:.1f} ms)", p95, "ms p95",
            "p95 <= 20 ms", p95 <= 20),
        row("provider requests per run (counted at the emulator)", requests_per_run, "requests", "1",
            requests_per_run == 1),
        row("event and audit rows written per run (pg_stat_user_tables)",
            written["calendar_events"] + written["audit_logs"], "rows", "0",
            written["calendar_events"] == written["audit_logs"] == 0),
        row("connection rows updated per run (cursor and last-synced time, one statement)",
            written["calendar_connections"], "rows", "1: the time the page shows",
            written["calendar_connections"] <= 1),
        row("statements reading calendar_events per run (the pending-push check, by status)",
            len(event_reads) / runs, "statements", "no per-event reads",
            all("sync_status IN" in statement for statement in event_reads)),
    ]
    return rows, notes


def run(quick: bool = False, scale: int = 1) -> dict:
    rows, notes = measure(quick, scale)
    return {"title": "Incremental sync with no changes (Google emulator)", "rows": rows, "notes": notes}

