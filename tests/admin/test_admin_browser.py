"""An admin in Chromium: filters and pages through the audit log, opens an entry, and checks sync health."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from rq import Queue, SimpleWorker
from sqlalchemy import insert

from tests.factories import make_user
from tests.helpers import log_in, screenshot
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarProvider
from webapp.models.maintenance import HealthSample


def seed(app, redis) -> str:
    """Real commits (the browser reads through another thread); live_server empties the tables afterwards."""
    now = datetime.now(UTC)
    with app.app_context():
        admin = make_user(db.session, email="grace@example.com", is_admin=True, first_name="Grace")
        member = make_user(db.session, email="ada@example.com", first_name="Ada")
        db.session.execute(insert(AuditLog), [
            {"action": "EVENT_SYNC", "status": AuditStatus.FAILURE if n % 3 == 0 else AuditStatus.SUCCESS,
             "user_id": member.id, "resource_type": "connection", "resource_id": str(n),
             "error_message": "Provider answered 503" if n % 3 == 0 else None,
             "metadata_": {"events": n, "note": "<b>not bold</b>"}, "created_at": now - timedelta(minutes=n)}
            for n in range(1, 181)])
        db.session.execute(insert(AuditLog), [
            {"action": "USER_LOGIN", "status": AuditStatus.SUCCESS, "user_id": member.id,
             "created_at": now - timedelta(minutes=n, seconds=30)} for n in range(1, 40)])
        for n, (failures, error) in enumerate([(0, None), (4, "Provider answered 503"), (0, None)]):
            db.session.add(CalendarConnection(
                user_id=member.id, provider=CalendarProvider.GOOGLE, calendar_id=f"cal-{n}",
                calendar_name=f"Calendar {n}", sync_failures=failures, last_sync_error=error,
                last_synced_at=now - timedelta(minutes=7 * n)))
        db.session.execute(insert(HealthSample), [
            {"recorded_at": now - timedelta(hours=hours), "metric": metric, "subject": "", "value": value}
            for hours in range(0, 7 * 24, 6)
            for metric, value in (("database_bytes", 40e6 + hours * 1e5), ("cache_hit_ratio", 0.95 + hours / 4000),
                                  ("connections_in_use", 3 + hours % 5))])
        db.session.execute(insert(AuditLog), [{
            "action": "MAINTENANCE_ARCHIVE_AUDIT_LOGS", "status": AuditStatus.SUCCESS, "resource_type": "maintenance",
            "resource_id": "archive-audit-logs", "metadata_": {"archived": 1200, "duration_ms": 840},
            "created_at": now - timedelta(minutes=15)}])
        db.session.commit()
        assert admin.is_admin
    queue = Queue("sync", connection=redis)
    queue.enqueue("math.sqrt", -1, job_id=f"sync-connection-{uuid.uuid4()}")
    SimpleWorker([queue], connection=redis).work(burst=True)
    return "grace@example.com"



def test_admin_browses_the_audit_log_with_filters(app, live_server, redis, page):
    base = live_server.url
    log_in(page, base, seed(app, redis))
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.click("nav >> text=Admin")
    page.click("#admin >> text=Audit log")
    page.wait_for_selector("#audit tbody tr")
    assert page.locator("#audit tbody tr").count() == 50

    page.fill("#action", "event_sync")
    page.select_option("#status", "FAILURE")
    page.click("#audit button[type=submit]")
    page.wait_for_url(lambda url: "status=FAILURE" in url)
    query = parse_qs(urlparse(page.url).query)
    assert query["action"] == ["event_sync"] and query["status"] == ["FAILURE"]
    rows = page.locator("#audit tbody tr")
    assert rows.count() == 50
    assert all("FAILURE" in text and "EVENT_SYNC" in text for text in rows.all_inner_texts())
    screenshot(page, "admin-audit-log-filtered")

    page.click("#audit >> text=Older")
    page.wait_for_url(lambda url: "before=" in url)
    assert page.locator("#audit tbody tr").count() == 10  # 60 failures in all, 50 on the first page
    assert "status=FAILURE" in page.url  # the filters travel with the page link
    assert page.input_value("#action") == "event_sync"  # the form keeps what was typed

    page.locator("#audit tbody tr >> text=Details").first.click()
    page.wait_for_selector("pre.metadata")
    assert "<b>not bold</b>" in page.inner_text("pre.metadata")  # shown as text, not markup
    screenshot(page, "admin-audit-entry")
    page.click("text=Back to the audit log")
    page.wait_for_selector("#audit tbody tr")
    assert "status=FAILURE" in page.url
    assert errors == []


def test_admin_checks_sync_health_and_retries_a_failed_job(app, live_server, redis, page):
    base = live_server.url
    log_in(page, base, seed(app, redis))
    page.goto(f"{base}/admin/health")
    page.wait_for_selector("#health")
    assert page.locator("#health-charts polyline").count() == 3
    assert page.locator("#sync-ages rect").count() == 7
    assert "Provider answered 503" in page.inner_text("#failing-connections")
    assert "archived=1200" in page.inner_text("#maintenance-runs")
    assert "ValueError: math domain error" in page.inner_text("#failed-jobs")
    screenshot(page, "admin-sync-health")

    page.click("#failed-jobs >> text=Retry")
    page.wait_for_selector(".toast >> text=is queued again")
    assert page.locator("#failed-jobs").count() == 0
    assert "No failed jobs." in page.inner_text("#health")
