"""The audit log page: filters kept in the URL, keyset pages, entry detail, CSV export, bad input."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlparse

from sqlalchemy import select, text

from tests.factories import add_audit_rows, add_many_audit_rows, make_user
from webapp.admin.audit_query import AuditFilters, Cursor, _filtered, _ordered, audit_page, iter_audit_rows
from webapp.models import AuditLog, AuditStatus
from webapp.models.maintenance import AuditLogArchive

ENTRY_ID = re.compile(r'data-entry-id="([0-9a-f-]{36})"')


def entry_ids(response) -> list[str]:
    return ENTRY_ID.findall(response.get_data(as_text=True))


def link(response, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', response.get_data(as_text=True), re.S)
    return match.group(1).replace("&amp;", "&") if match else None


def test_newest_first(admin_client, db_session):
    ids = add_audit_rows(db_session, 3)
    shown = entry_ids(admin_client.get("/admin/audit?action=TEST_ACTION"))
    assert shown == [str(i) for i in ids]


def test_each_filter_narrows_the_rows(admin_client, db_session):
    alice = make_user(db_session, email="alice@example.com")
    bob = make_user(db_session, email="bob@example.com")
    now = datetime.now(UTC)
    # `newest=now`: the rows fall on today's date even a second after midnight.
    [by_alice] = add_audit_rows(db_session, 1, newest=now, user_id=alice.id, action="EVENT_UPDATE",
                                resource_type="event")
    [by_bob] = add_audit_rows(db_session, 1, newest=now, user_id=bob.id, action="EVENT_DELETE", resource_type="event")
    [failed] = add_audit_rows(db_session, 1, newest=now, user_id=bob.id, action="EVENT_SYNC",
                              status=AuditStatus.FAILURE, error_message="Provider said 503_Service%Unavailable",
                              resource_type="connection")
    [old] = add_audit_rows(db_session, 1, newest=now - timedelta(days=10), action="EVENT_SYNC",
                           resource_type="connection")

    def shown(query: str) -> set[str]:
        response = admin_client.get("/admin/audit?" + query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return set(entry_ids(response))

    assert shown("email=ALICE@") == {str(by_alice)}
    assert shown("action=event_delete") == {str(by_bob)}  # actions are matched upper-cased
    assert shown("status=FAILURE") >= {str(failed)}
    assert str(by_alice) not in shown("status=FAILURE")
    assert shown("resource_type=connection") == {str(failed), str(old)}
    # % and _ are literal characters in the search, not wildcards.
    assert shown("error_text=503_service%25") == {str(failed)}
    assert shown("error_text=503xservice") == set()
    ten_days_ago = (now - timedelta(days=10)).date().isoformat()
    assert shown(f"date_from={ten_days_ago}&date_to={ten_days_ago}&action=EVENT_SYNC") == {str(old)}
    assert shown(f"date_to={ten_days_ago}&resource_type=connection") == {str(old)}
    assert shown(f"date_from={now.date().isoformat()}&resource_type=connection") == {str(failed)}


def test_filters_stay_in_every_link(admin_client, db_session):
    add_audit_rows(db_session, 60, action="KEEP_ME", status=AuditStatus.FAILURE)
    response = admin_client.get("/admin/audit?action=KEEP_ME&status=FAILURE&include_archived=y")
    older = link(response, "next")
    query = parse_qs(urlparse(older).query)
    assert query["action"] == ["KEEP_ME"] and query["status"] == ["FAILURE"] and query["include_archived"] == ["y"]
    html = response.get_data(as_text=True)
    assert "/admin/audit/export.csv?action=KEEP_ME&amp;status=FAILURE&amp;include_archived=y" in html
    detail = re.search(r'href="(/admin/audit/[0-9a-f-]{36}\?[^"]+)"', html).group(1).replace("&amp;", "&")
    back = admin_client.get(detail).get_data(as_text=True)
    assert 'href="/admin/audit?action=KEEP_ME&amp;status=FAILURE&amp;include_archived=y"' in back
    # The form shows the filters it applied.
    assert 'value="KEEP_ME"' in html and '<option selected value="FAILURE">' in html


def test_keyset_pages_walk_every_row_once_both_ways(admin_client, db_session):
    ids = [str(i) for i in add_audit_rows(db_session, 130, action="WALK")]
    seen, url = [], "/admin/audit?action=WALK"
    pages = []
    while url:
        response = admin_client.get(url)
        pages.append(entry_ids(response))
        seen += pages[-1]
        url = link(response, "next")
    assert [len(page) for page in pages] == [50, 50, 30]
    assert seen == ids
    # And back again with "Newer" from the last page.
    url, back = link(response, "prev"), []
    while url:
        response = admin_client.get(url)
        back = entry_ids(response) + back
        url = link(response, "prev")
    assert back == ids[:100]


def test_rows_with_the_same_timestamp_are_neither_skipped_nor_repeated(db_session):
    moment = datetime.now(UTC) - timedelta(hours=1)
    ids = add_audit_rows(db_session, 23, newest=moment, step=timedelta(0), action="TIED")
    filters, seen, before = AuditFilters(action="TIED"), [], None
    while True:
        page = audit_page(db_session, filters, before=before, limit=5)
        seen += [row.id for row in page.rows]
        if page.older is None:
            break
        before = page.older
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert seen == sorted(ids, reverse=True)  # ties are ordered by id, newest-first order is stable


def test_archived_rows_are_included_on_request_in_one_order(admin_client, db_session):
    now = datetime.now(UTC)
    live = add_audit_rows(db_session, 30, newest=now - timedelta(minutes=1), step=timedelta(minutes=2), action="MIX")
    archived = add_audit_rows(db_session, 30, newest=now - timedelta(minutes=2), step=timedelta(minutes=2),
                              action="MIX", table=AuditLogArchive)
    assert set(entry_ids(admin_client.get("/admin/audit?action=MIX"))) == {str(i) for i in live}
    response = admin_client.get("/admin/audit?action=MIX&include_archived=y")
    interleaved = [str(i) for pair in zip(live, archived, strict=True) for i in pair]
    assert entry_ids(response) == interleaved[:50]
    assert entry_ids(admin_client.get(link(response, "next"))) == interleaved[50:]
    assert "archived" in response.get_data(as_text=True)


def test_deep_pages_use_the_index_over_50000_rows(admin_client, db_session):
    add_many_audit_rows(db_session, 50_000)
    db_session.execute(text("ANALYZE audit_logs"))
    rows = list(db_session.execute(select(AuditLog.created_at, AuditLog.id)
                                   .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())))
    deep = Cursor(*rows[24_999])  # the last row of page 500
    response = admin_client.get(f"/admin/audit?before={quote(deep.encode())}")
    assert entry_ids(response) == [str(row.id) for row in rows[25_000:25_050]]
    plan = explain_page_query(db_session, deep)
    assert "audit_logs_created_at_id_idx" in plan
    # The 50,000-row table is read in index order; a tiny joined users table may be scanned, that is fine.
    assert "Sort" not in plan and "Seq Scan on audit_logs" not in plan


def explain_page_query(session, cursor: Cursor) -> str:
    """The plan of exactly the statement the page runs for a page older than `cursor`."""
    table = AuditLog.__table__
    query = _ordered(_filtered(table, False, AuditFilters(), cursor, None), table, False, 51)
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))


def test_entry_detail_pretty_prints_and_escapes_metadata(admin_client, db_session):
    [entry_id] = add_audit_rows(db_session, 1, action="EVENT_UPDATE",
                                metadata_={"title": "<script>alert(1)</script>", "changes": {"b": 2, "a": 1}})
    html = admin_client.get(f"/admin/audit/{entry_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"changes": {\n    "a": 1,\n    "b": 2\n  }' in html.replace("&#34;", '"')


def test_entry_detail_finds_archived_rows_and_404s_unknown_ids(admin_client, db_session):
    [archived] = add_audit_rows(db_session, 1, action="OLD_THING", table=AuditLogArchive)
    response = admin_client.get(f"/admin/audit/{archived}")
    assert response.status_code == 200 and "OLD_THING" in response.get_data(as_text=True)
    assert admin_client.get("/admin/audit/00000000-0000-0000-0000-000000000000").status_code == 404


def test_bad_filters_get_a_clear_message_not_an_error(admin_client):
    response = admin_client.get("/admin/audit?date_from=2026-13-45&status=MAYBE")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Use a date like 2026-11-25." in html and "Not a valid choice" in html
    response = admin_client.get("/admin/audit?date_from=2026-11-25&date_to=2026-11-01")
    assert response.status_code == 422
    assert "The end date is before the start date." in response.get_data(as_text=True)
    response = admin_client.get("/admin/audit?email=" + "x" * 300)
    assert response.status_code == 422


def test_the_first_and_last_days_of_the_calendar_filter_like_any_other(admin_client, db_session):
    """9999-12-31 has no next day to stop before: a day ends at its own last instant (it was a 500)."""
    [last_moment] = add_audit_rows(db_session, 1, action="EDGE", newest=datetime(2026, 3, 2, 23, 59, 59, 999000, UTC))
    add_audit_rows(db_session, 1, action="EDGE", newest=datetime(2026, 3, 3, tzinfo=UTC))
    cases = {"date_from=9999-12-31&date_to=9999-12-31": [], "date_from=0001-01-01&date_to=0001-01-01": [],
             "date_to=9999-12-31&date_from=0001-01-01": None, "date_to=2026-03-02": [str(last_moment)]}
    for query, expected in cases.items():
        page = admin_client.get(f"/admin/audit?action=EDGE&{query}")
        export = admin_client.get(f"/admin/audit/export.csv?action=EDGE&{query}")
        assert page.status_code == export.status_code == 200, query
        exported = [row["id"] for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))]
        assert entry_ids(page) == exported
        assert exported == expected if expected is not None else len(exported) == 2


def test_bad_page_links_are_a_400_page(admin_client):
    for query in ("before=yesterday", "before=2026-11-25T10:00:00_not-a-uuid",
                  "after=2026-11-25T10:00:00_00000000-0000-0000-0000-000000000000",  # no time zone
                  "before=2026-11-25T10:00:00%2B00:00_00000000-0000-0000-0000-000000000000"
                  "&after=2026-11-25T10:00:00%2B00:00_00000000-0000-0000-0000-000000000000"):
        response = admin_client.get("/admin/audit?" + query)
        assert response.status_code == 400, query
        assert "Traceback" not in response.get_data(as_text=True)


def test_csv_export_streams_the_filtered_rows(admin_client, db_session, admin):
    ids = add_audit_rows(db_session, 1200, action="EXPORT_ME", resource_type="event", metadata_={"n": 1})
    add_audit_rows(db_session, 5, action="NOT_ME")
    [formula] = add_audit_rows(db_session, 1, action="EXPORT_ME", newest=datetime.now(UTC),
                               error_message="=HYPERLINK(\"http://evil.example\")")
    response = admin_client.get("/admin/audit/export.csv?action=EXPORT_ME")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["id"] for row in rows] == [str(formula)] + [str(i) for i in ids]
    assert rows[0]["error_message"].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    assert rows[1]["metadata"] == '{"n": 1}'
    export = db_session.scalar(select(AuditLog).where(AuditLog.action == "ADMIN_AUDIT_EXPORT"))
    assert export.user_id == admin.id and export.metadata_ == {"filters": {"action": "EXPORT_ME"}}


def test_csv_export_refuses_bad_filters(admin_client):
    response = admin_client.get("/admin/audit/export.csv?date_to=someday")
    assert response.status_code == 400
    assert "Fix the filters" in response.get_data(as_text=True)


def test_export_iterates_in_batches_without_gaps(db_session):
    ids = add_audit_rows(db_session, 25, action="BATCHED")
    assert [row.id for row in iter_audit_rows(db_session, AuditFilters(action="BATCHED"), batch_size=4)] == ids


def test_audit_page_query_count_does_not_grow_with_rows(admin_client, db_session, count_queries):
    add_audit_rows(db_session, 5, action="COUNTED", user_id=make_user(db_session).id)
    admin_client.get("/admin/audit?action=COUNTED")  # warm up: the login session's last_seen_at write
    before = count_queries.count
    admin_client.get("/admin/audit?action=COUNTED&include_archived=y")
    few = count_queries.count - before
    add_audit_rows(db_session, 55, action="COUNTED", user_id=make_user(db_session).id)
    before = count_queries.count
    response = admin_client.get("/admin/audit?action=COUNTED&include_archived=y")
    assert len(entry_ids(response)) == 50
    assert count_queries.count - before == few
    assert few <= 4  # the login session and its user, the page of rows, the action suggestions
