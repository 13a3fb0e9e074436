"""Google push: a watch channel per synced calendar and a calendarList channel per account, made by the jobs
against the emulator, which POSTs its notifications to the app on loopback; renewed before expiry, stopped on
disconnect; a refused address leaves the calendar on the sweep, saying why."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.helpers import csrf_token_from, google_timed, soon, wait_for
from webapp.extensions import db
from webapp.models import AuditLog, CalendarEvent, WatchKind


def test_connecting_makes_a_channel_per_calendar_and_one_for_the_calendar_list(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, family) = pusher.connect(client)
    pusher.work("live", "sync", "default")

    channels = pusher.channels()
    assert {(channel.kind, channel.connection_id) for channel in channels} == {
        (WatchKind.EVENTS, work), (WatchKind.EVENTS, family), (WatchKind.CALENDAR_LIST, None)}
    assert all(channel.expires_at > datetime.now(UTC) + timedelta(days=6) for channel in channels)
    google = pusher.providers.google_state
    at_google = {channel["id"]: channel for channel in google.channels()}
    assert {channel.channel_id for channel in channels} <= set(at_google)
    # The token Google echoes is a secret of each channel: we keep only its hash.
    assert all(at_google[channel.channel_id]["token"] and channel.token_hash != at_google[channel.channel_id]["token"]
               for channel in channels)
    assert pusher.connection(work).watch_unavailable_reason is None


def test_a_change_at_google_queues_one_incremental_sync_that_brings_it(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, _family) = pusher.connect(client)
    pusher.work()
    google = pusher.providers.google_state
    google.wait_for_deliveries()
    assert pusher.queue("live").job_ids == []  # the channels' "sync" messages ask for nothing

    google.add_event(email, google_timed("Pushed from Google", soon()))
    assert google.wait_for_deliveries()
    (job_id,) = pusher.queue("live").job_ids
    assert job_id.startswith(f"sync-notified-{work}-")
    pusher.work("live")
    with pusher.app.app_context():
        titles = db.session.scalars(select(CalendarEvent.title).where(
            CalendarEvent.calendar_connection_id == work, CalendarEvent.deleted_at.is_(None))).all()
    assert titles == ["Pushed from Google"]
