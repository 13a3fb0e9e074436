"""An incremental sync that finds nothing new, on a calendar of 10,000 events: its time (p50/p95 over many runs),
the requests the provider answered (counted at the emulator), the rows our database wrote (PostgreSQL's own
counters, pg_stat_user_tables) and the statements it ran.

Run: `python -m bench.sync_incremental [--quick]`.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from unittest import mock

from sqlalchemy import event, text

from bench.harness import percentile
from bench.sync_env import connect_oauth, connections_of, logged_in, new_user, print_table, sync_bench
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
    print(f"\nStatements per run ({len(statements) / runs:.0f}):")
    for name, count in shapes.most_common():
        print(f"  {count / runs:>4.1f} × {name}")
    return [
        {"what": f"no-change incremental sync, {events:,}-event calendar, {runs} runs: p50 {p50:.1f} ms",
         "measured": f"p95 {p95:.1f} ms", "target": "p95 ≤ 20 ms", "met": p95 <= 20},
        {"what": "provider requests per run (counted at the emulator)", "measured": f"{requests_per_run:.2f}",
         "target": "1", "met": requests_per_run == 1},
        {"what": "event and audit rows written per run (pg_stat_user_tables)",
         "measured": f"{written['calendar_events']:.2f} + {written['audit_logs']:.2f}", "target": "0",
         "met": written["calendar_events"] == written["audit_logs"] == 0},
        {"what": "connection rows updated per run (its cursor and last-synced time)",
         "measured": f"{written['calendar_connections']:.2f}", "target": "1 (the time the page shows)",
         "met": written["calendar_connections"] <= 1},
        {"what": "statements reading calendar_events per run (only the pending-push check by status)",
         "measured": f"{len(event_reads) / runs:.2f}", "target": "no per-event reads",
         "met": all("sync_status IN" in statement for statement in event_reads)},
    ]


def run(quick: bool = False, scale: int = 1) -> dict:
    return {"name": "sync_incremental", "title": "Incremental sync with no changes", "rows": measure(quick, scale)}


def main() -> None:
    result = run(quick="--quick" in sys.argv)
    print_table(result["title"], result["rows"])


if __name__ == "__main__":
    main()
