"""A person in Chromium settles a sync conflict on the event panel: their version is shown beside a choice."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.factories import make_connection, make_user
from tests.helpers import screenshot, submit_login
from webapp.extensions import db
from webapp.models import CalendarEvent, CalendarProvider, EventStatus, SyncStatus


def test_keep_mine_or_take_theirs_on_the_event_panel(app, live_server, page, redis):
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    theirs = {"title": "Budget review (moved by Sam)", "start_time": (start + timedelta(hours=2)).isoformat(),
              "end_time": (start + timedelta(hours=3)).isoformat(), "is_all_day": False, "timezone": "UTC",
              "status": "CONFIRMED", "description": None, "location": None}
    with app.app_context():
        user = make_user(db.session, email="conflicted@example.com")
        connection = make_connection(db.session, user.id, calendar_name="Work", provider=CalendarProvider.GOOGLE,
                                     calendar_color="#1a73e8", last_synced_at=datetime.now(UTC))
        event = CalendarEvent(
            calendar_connection_id=connection.id, provider_event_id=uuid.uuid4().hex, title="Budget review (mine)",
            start_time=start, end_time=start + timedelta(hours=1), timezone="UTC", status=EventStatus.CONFIRMED,
            sync_status=SyncStatus.PENDING,
            provider_metadata={"etag": '"1"', "conflict": {"detected_at": start.isoformat(), "remote": theirs,
                                                           "etag": '"2"', "remote_deleted": False}})
        db.session.add(event)
        db.session.commit()
        event_id = event.id

    submit_login(page, live_server.url, "conflicted@example.com")
    page.goto(f"{live_server.url}/calendar/events/{event_id}")
    conflict = page.locator("#sync-conflict")
    assert "changed in Google after you changed it here" in conflict.inner_text()
    assert "Budget review (moved by Sam)" in conflict.inner_text()
    assert "Saving to" not in page.inner_text("#sync-status")  # held for the user's choice, not on its way
    screenshot(page, "sync-conflict-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "sync-conflict-phone")

    page.click("#sync-conflict >> text=Take theirs")
    page.wait_for_selector("#sync-conflict >> text=Take theirs", state="detached")
    with app.app_context():
        settled = db.session.get(CalendarEvent, event_id)
        assert (settled.title, settled.sync_status) == ("Budget review (moved by Sam)", SyncStatus.SYNCED)
        assert "conflict" not in settled.provider_metadata


def test_an_event_deleted_here_and_changed_at_google_stays_struck_through_until_the_choice(app, live_server, page,
                                                                                          redis):
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    theirs = {"title": "Board meeting (moved by Sam)", "start_time": (start + timedelta(hours=1)).isoformat(),
              "end_time": (start + timedelta(hours=2)).isoformat(), "is_all_day": False, "timezone": "UTC",
              "status": "CONFIRMED", "description": None, "location": None}
    with app.app_context():
        user = make_user(db.session, email="deleter@example.com")
        connection = make_connection(db.session, user.id, calendar_name="Work", calendar_color="#1a73e8",
                                     last_synced_at=datetime.now(UTC))
        event = CalendarEvent(
            calendar_connection_id=connection.id, provider_event_id=uuid.uuid4().hex, title="Board meeting",
            start_time=start, end_time=start + timedelta(hours=1), timezone="UTC", status=EventStatus.CONFIRMED,
            sync_status=SyncStatus.PENDING, deletion_requested_at=datetime.now(UTC),
            provider_metadata={"etag": '"1"', "conflict": {"detected_at": start.isoformat(), "remote": theirs,
                                                           "etag": '"2"', "remote_deleted": False}})
        db.session.add(event)
        db.session.commit()
        event_id = event.id

    submit_login(page, live_server.url, "deleter@example.com")
    page.goto(f"{live_server.url}/calendar/week/{start.date().isoformat()}")
    card = page.locator(f'a.event[data-event-id="{event_id}"]')
    assert "is-deleting" in card.get_attribute("class")
    assert page.evaluate("e => getComputedStyle(e).textDecorationLine",
                         card.locator(".event-title").element_handle()) == "line-through"
    card.click()  # htmx opens the panel
    conflict = page.locator("#sync-conflict")
    conflict.locator("text=Keep theirs").wait_for()
    assert "changed in Google after you deleted it here" in conflict.inner_text()
    assert "Board meeting (moved by Sam)" in conflict.inner_text()
    assert conflict.locator("text=Delete anyway").count() == 1
    screenshot(page, "sync-conflict-deleted-here")

    page.click("#sync-conflict >> text=Keep theirs")
    page.wait_for_selector("#sync-conflict >> text=Keep theirs", state="detached")
    with app.app_context():
        settled = db.session.get(CalendarEvent, event_id)
        assert (settled.title, settled.sync_status, settled.deletion_requested_at) == (
            "Board meeting (moved by Sam)", SyncStatus.SYNCED, None)
    page.reload()
    assert "is-deleting" not in page.locator(f'a.event[data-event-id="{event_id}"]').get_attribute("class")
