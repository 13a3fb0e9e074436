"""Sync-health page: connection states, failing connections, sync ages, queues, failed jobs, history, charts."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import insert, select

from tests.factories import add_audit_rows, add_users, make_connection
from tests.helpers import csrf_token_from
from webapp.admin.health import connection_health, connection_state_counts, sync_age_distribution
from webapp.models import AuditLog, AuditStatus
from webapp.models.maintenance import HealthSample


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</table>", start) if "<table" in html[start - 40:start] else
                html.index("</svg>", start)]


def make_failed_job(redis, queue_name="sync") -> str:
    queue = Queue(queue_name, connection=redis)
    job = queue.enqueue("math.sqrt", -1, job_id="sync-connection-broken")  # ValueError: math domain error
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
    return job.id


def test_connection_states_and_failing_connections(admin_client, db_session):
    now = datetime.now(UTC)
    [user_id] = add_users(db_session, ["owner@example.com"])
    make_connection(db_session, user_id, last_synced_at=now)
    make_connection(db_session, user_id, last_synced_at=now - timedelta(hours=2), sync_failures=4,
                    last_sync_error="Google had a temporary problem (HTTP 503).")  # retries exhausted: stopped
    make_connection(db_session, user_id, last_synced_at=now - timedelta(minutes=3), sync_failures=1,
                    last_sync_error="Google asked Almanac to slow down.", next_attempt_at=now + timedelta(minutes=2),
                    retry_after_until=now + timedelta(minutes=2))
    make_connection(db_session, user_id, is_connected=False, disconnect_reason="Access was revoked at Google")
    make_connection(db_session, user_id, attention_reason="Sync paused: 80% of events would be deleted",
                    last_synced_at=now)
    make_connection(db_session, user_id, last_synced_at=now - timedelta(hours=3))  # nothing failing, yet stale
    make_connection(db_session, user_id)  # never synced
    make_connection(db_session, user_id, deleted_at=now, sync_failures=9)  # gone: not counted
    make_connection(db_session, user_id, last_synced_at=now - timedelta(hours=1), provider_removed_at=now)

    health = connection_health(db_session, now)
    assert connection_state_counts(health) == {
        "synced": 1, "syncing": 0, "retrying": 1, "stopped": 1, "needs_reconnect": 1, "needs_attention": 1,
        "behind": 1, "waiting": 1, "removed": 1}
    html = admin_client.get("/admin/health").get_data(as_text=True)
    failing = section(html, "failing-connections")
    assert failing.count("<tr data-connection-id") == 6
    for text in ("HTTP 503", "Sync stopped after 4 failed attempts", "Access was revoked at Google",
                 "80% of events would be deleted", "asked us to wait until", "workers may be stopped",
                 "Removed at Google"):
        assert text in failing
    # Worst first: the removed calendar (nothing will fix it by itself), then the stopped one.
    assert failing.index("Removed at Google") < failing.index("HTTP 503") < failing.index("Access was revoked")


def test_time_since_last_sync_buckets(admin_client, db_session):
    now = datetime.now(UTC)
    [user_id] = add_users(db_session, ["ages@example.com"])
    for age in (timedelta(minutes=1), timedelta(minutes=4, seconds=59), timedelta(minutes=10),
                timedelta(minutes=30), timedelta(hours=3), timedelta(hours=12), timedelta(days=3)):
        make_connection(db_session, user_id, last_synced_at=now - age)
    make_connection(db_session, user_id)
    make_connection(db_session, user_id, is_connected=False, last_synced_at=now)  # disconnected: left out
    assert sync_age_distribution(db_session, now) == [
        ("under 5 min", 2), ("5–15 min", 1), ("15–60 min", 1), ("1–6 h", 1), ("6–24 h", 1), ("over 24 h", 1),
        ("never", 1)]
    chart = section(admin_client.get("/admin/health").get_data(as_text=True), "sync-ages")
    widths = re.findall(r'<rect x="160" y="\d+" width="([\d.]+)"', chart)
    assert widths == ["320.0", "160.0", "160.0", "160.0", "160.0", "160.0", "160.0"]


def test_queue_depths_and_failed_job_retry(admin_client, db_session, redis, admin):
    job_id = make_failed_job(redis)
    Queue("default", connection=redis).enqueue("math.sqrt", 4)
    html = admin_client.get("/admin/health").get_data(as_text=True)
    queues = section(html, "queues")
    assert re.search(r'data-queue="sync">\s*<td>sync</td><td>0</td><td>0</td>\s*<td>0</td><td>0</td><td>1</td>', queues)
    assert re.search(r'data-queue="default">\s*<td>default</td><td>1</td>', queues)
    failed = section(html, "failed-jobs")
    assert job_id in failed and "ValueError: math domain error" in failed

    response = admin_client.post(f"/admin/health/failed-jobs/sync/{job_id}/retry",
                                 data={"csrf_token": csrf_token_from(html)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "is queued again" in response.headers["HX-Trigger"]
    assert job_id in Queue("sync", connection=redis).job_ids
    assert job_id not in FailedJobRegistry(queue=Queue("sync", connection=redis)).get_job_ids()
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "ADMIN_JOB_RETRY"))
    assert (entry.user_id, entry.resource_id) == (admin.id, job_id)
    # Retrying again: it is no longer failed.
    again = admin_client.post(f"/admin/health/failed-jobs/sync/{job_id}/retry",
                              data={"csrf_token": csrf_token_from(html)})
    assert again.status_code == 404
    assert admin_client.post(f"/admin/health/failed-jobs/nonsense/{job_id}/retry",
                             data={"csrf_token": csrf_token_from(html)}).status_code == 404


def test_maintenance_history_lists_system_runs(admin_client, db_session):
    add_audit_rows(db_session, 1, action="MAINTENANCE_ARCHIVE_AUDIT_LOGS", resource_type="maintenance",
                   resource_id="archive-audit-logs", metadata_={"archived": 1234, "duration_ms": 812})
    add_audit_rows(db_session, 1, action="MAINTENANCE_VACUUM_ANALYZE", resource_type="maintenance",
                   resource_id="vacuum-analyze", status=AuditStatus.FAILURE, error_message="QueryCanceled: timeout",
                   metadata_={"duration_ms": 30001}, newest=datetime.now(UTC) - timedelta(hours=2))
    add_audit_rows(db_session, 1, action="USER_LOGIN")
    history = section(admin_client.get("/admin/health").get_data(as_text=True), "maintenance-runs")
    assert history.count("<tr data-job") == 2
    assert history.index("archive-audit-logs") < history.index("vacuum-analyze")
    assert "archived=1234" in history and "812 ms" in history
    assert "QueryCanceled: timeout" in history and "FAILURE" in history


def test_health_metrics_are_drawn_as_svg_lines(admin_client, db_session):
    now = datetime.now(UTC)
    samples = []
    for hours_ago, size in ((48, 1000), (24, 3000), (1, 2000)):
        moment = now - timedelta(hours=hours_ago)
        samples += [{"recorded_at": moment, "metric": "database_bytes", "subject": "", "value": size * 1024},
                    {"recorded_at": moment, "metric": "dead_tuples", "subject": "calendar_events", "value": 10},
                    {"recorded_at": moment, "metric": "dead_tuples", "subject": "audit_logs", "value": hours_ago}]
    samples.append({"recorded_at": now - timedelta(days=8), "metric": "database_bytes", "subject": "", "value": 1})
    samples += [{"recorded_at": now - timedelta(hours=5), "metric": metric, "subject": "events", "value": value}
                for metric, value in (("table_bytes", 8192 * 3), ("index_bytes", 8192), ("live_rows", 1234))]
    db_session.execute(insert(HealthSample), samples)
    db_session.commit()
    html = admin_client.get("/admin/health").get_data(as_text=True)
    charts = section(html, "health-charts")
    lines = re.findall(r'<polyline points="([^"]+)"', charts)
    assert len(lines) == 2  # database size and dead tuples; the other metrics have no samples
    database_line = [tuple(map(float, point.split(","))) for point in lines[0].split()]
    assert len(database_line) == 3  # the 8-day-old sample is outside the 7-day window
    xs, ys = zip(*database_line, strict=True)
    assert xs == tuple(sorted(xs)) and max(ys) == 53.0 and min(ys) == 3.0  # 3000 KB on top, 1000 KB at the bottom
    assert "2.0 MB" in charts and "1000.0 KB – 2.9 MB" in charts
    assert "(3 samples)" in charts and "no data" in charts
    assert "58" in charts  # dead tuples summed over tables: 10 + 48
    sizes = section(html, "table-sizes")
    assert "<td>events</td><td>24.0 KiB</td>" in sizes and "1,234" in sizes


def test_health_page_query_count_does_not_grow_with_rows(admin_client, db_session, count_queries):
    def page_queries() -> int:
        before = count_queries.count
        assert admin_client.get("/admin/health").status_code == 200
        return count_queries.count - before

    page_queries()
    few = page_queries()
    [user_id] = add_users(db_session, ["many@example.com"])
    for number in range(15):
        make_connection(db_session, user_id, sync_failures=number + 1, last_sync_error="boom")
    add_audit_rows(db_session, 10, action="MAINTENANCE_PURGE_EVENTS", resource_id="purge-deleted-events")
    assert page_queries() == few
