"""What a person sees of sync trouble in Chromium: Synced, Retrying (with the provider's wait), Stopped (with
Retry), and the same calendars on the admin sync-health page; at desktop and phone sizes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq import Queue
from sqlalchemy import update

from tests.factories import make_connection, make_user
from tests.helpers import screenshot, submit_login
from webapp.extensions import db
from webapp.models import CalendarProvider, User

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def test_sync_statuses_read_true_at_both_sizes(app, live_server, page, redis):
    now = datetime.now(UTC)
    with app.app_context():
        user = make_user(db.session, email="statuses@example.com", time_zone="Europe/Berlin", is_admin=True)
        common = {"account_email": "ada@gmail.com", "provider": CalendarProvider.GOOGLE}
        make_connection(db.session, user.id, calendar_name="Work", last_synced_at=now - timedelta(minutes=2),
                        calendar_color="#1a73e8", is_primary=True, **common)
        make_connection(db.session, user.id, calendar_name="Family", last_synced_at=now - timedelta(minutes=9),
                        calendar_color="#0b8043", sync_failures=1, last_sync_error="Google asked Almanac to slow "
                        "down.", next_attempt_at=now + timedelta(minutes=4),
                        retry_after_until=now + timedelta(minutes=4), **common)
        make_connection(db.session, user.id, calendar_name="Holidays", last_synced_at=now - timedelta(hours=3),
                        calendar_color="#d50000", sync_failures=4, last_sync_error="Google answered with an error "
                        "(HTTP 400).", **common)
        make_connection(db.session, user.id, calendar_name="Team", last_synced_at=now - timedelta(minutes=7),
                        calendar_color="#f4511e", sync_failures=2, last_sync_error="Google could not be reached "
                        "(the connection failed or timed out).", next_attempt_at=now + timedelta(minutes=2),
                        **common)
        db.session.execute(update(User).where(User.id == user.id).values(time_zone="Europe/Berlin"))
        db.session.commit()

    submit_login(page, live_server.url, "statuses@example.com")
    page.goto(f"{live_server.url}/connections/")
    rows = {row.locator(".calendar-name").inner_text(): row for row in page.locator("tr[data-sync-state]").all()}
    assert rows["Work"].get_attribute("data-sync-state") == "synced"
    assert "Synced" in rows["Work"].inner_text()
    assert rows["Family"].get_attribute("data-sync-state") == "retrying"
    assert "Google asked us to wait until" in rows["Family"].inner_text()
    assert "Next attempt at" in rows["Team"].inner_text()
    holidays = rows["Holidays"]
    assert holidays.get_attribute("data-sync-state") == "stopped"
    assert "Sync stopped after 4 failed attempts" in holidays.inner_text()
    for name, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"sync-status-{name}")

    page.set_viewport_size({"width": 1280, "height": 800})
    holidays.locator("button", has_text="Retry").click()
    page.wait_for_selector("tr[data-sync-state=syncing] >> text=Holidays")
    assert Queue("sync", connection=redis).job_ids[-1].startswith("sync-connection-")

    page.goto(f"{live_server.url}/admin/health")
    failing = page.locator("#failing-connections")
    assert "Stopped" in failing.inner_text() and "Retrying" in failing.inner_text()
    for name, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"sync-health-{name}")
