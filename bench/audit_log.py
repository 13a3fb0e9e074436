"""Audit log paging over 50,000+ rows: page 1 and page 500, keyset (what the admin page does) against OFFSET.

    python -m bench audit_log

Uses BENCH_DATABASE_URL when set (a scratch database: the schema is migrated and rows are added to it),
otherwise an embedded PostgreSQL in a temporary directory. Reports the median of REPEAT runs.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, text

from bench.harness import bench_app, row, timed
from webapp.admin.audit_query import PAGE_SIZE, AuditFilters, Cursor, _columns, audit_page
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.extensions import db
from webapp.models import AuditLog, User

DEEP_PAGE, QUICK_DEEP_PAGE = 500, 3
ROWS, REPEAT = 50_000, 15


def run(quick: bool, scale: int) -> dict:
    deep_page = QUICK_DEEP_PAGE if quick else DEEP_PAGE
    rows = deep_page * PAGE_SIZE if quick else ROWS * scale
    with bench_app() as app:
        results = measure(app, rows, 2 if quick else REPEAT, deep_page)
    return {
        "title": f"audit log, {rows:,} live rows and as many archived, {PAGE_SIZE} per page: median ms",
        "rows": [row(f"{name}, page {page}", figure, "ms")
                 for name, first, deep in results for page, figure in ((1, first), (deep_page, deep))],
    }


def measure(app, rows: int, repeat: int, deep_page: int) -> list[tuple[str, float, float]]:
    fill(rows)
    session = db.session
    deep_cursor = cursor_before_page(deep_page)
    filters = AuditFilters()
    cookie = admin_cookie()
    results = [
        ("keyset (admin page query)",
         time_it(lambda: audit_page(session, filters), repeat),
         time_it(lambda: audit_page(session, filters, before=deep_cursor), repeat)),
        ("keyset incl. archive (2x rows)",
         time_it(lambda: audit_page(session, AuditFilters(include_archived=True)), repeat),
         time_it(lambda: audit_page(session, AuditFilters(include_archived=True), before=deep_cursor), repeat)),
        ("OFFSET, for comparison",
         time_it(lambda: offset_page(1), repeat),
         time_it(lambda: offset_page(deep_page), repeat)),
    ]
    session.remove()
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, cookie)
    results.append((
        "whole page over HTTP (render)",
        time_it(lambda: get(client, "/admin/audit"), repeat),
        time_it(lambda: get(client, f"/admin/audit?before={deep_cursor.encode().replace('+', '%2B')}"), repeat),
    ))
    return results


def fill(rows: int) -> None:
    """`rows` live rows, and as many older ones already archived."""
    for table, offset in (("audit_logs", 0), ("audit_logs_archive", rows)):
        _fill(table, rows, offset)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE audit_logs"))
        connection.execute(text("VACUUM ANALYZE audit_logs_archive"))


def _fill(table: str, rows: int, offset: int) -> None:
    db.session.execute(
        text(
            f"INSERT INTO {table} (action, status, resource_type, resource_id, error_message, metadata, created_at)"
            " SELECT (ARRAY['USER_LOGIN','EVENT_SYNC','EVENT_UPDATE','CONNECTION_ADD','SESSION_REVOKE'])[1 + n % 5],"
            "  CASE WHEN n % 20 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END::audit_status, 'event', n::text,"
            "  CASE WHEN n % 20 = 0 THEN 'Provider answered 503' END, jsonb_build_object('n', n),"
            "  now() - n * interval '7 seconds'"
            " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
        ),
        {"first": offset + 1, "last": offset + rows},
    )


def cursor_before_page(page: int) -> Cursor:
    """The position page `page` starts after (found once with OFFSET; not timed)."""
    row = db.session.execute(
        select(AuditLog.created_at, AuditLog.id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .offset((page - 1) * PAGE_SIZE - 1)
        .limit(1)
    ).one()
    return Cursor(row.created_at, row.id)


def offset_page(page: int) -> list:
    """The same columns and join as the admin page, paged with OFFSET instead."""
    table = AuditLog.__table__
    return db.session.execute(
        _columns(table, False).order_by(table.c.created_at.desc(), table.c.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()


def admin_cookie() -> str:
    admin = User(email="bench-admin@example.com", password_hash="not-a-hash", is_admin=True)
    db.session.add(admin)
    db.session.flush()
    token = start_session(db.session, admin, absolute_days=1, user_agent="bench", ip_address=None)
    db.session.commit()
    return token


def get(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def time_it(call: Callable[[], object], repeat: int) -> float:
    """Median milliseconds, after one warm-up call."""
    return timed(call, repeat, warm_up=1).p50
