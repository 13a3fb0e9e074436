"""Google push: a watch channel per synced calendar and a calendarList channel per account, made by the jobs
against the emulator, which POSTs its notifications to the app on loopback; renewed before expiry, stopped on
disconnect; a refused address leaves the calendar on the sweep, saying why."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from tests.helpers import csrf_token_from, google_timed, soon
from webapp.extensions import db
from webapp.models import AuditLog, CalendarEvent, WatchChannel, WatchKind


def test_connecting_makes_a_channel_per_calendar_and_one_for_the_calendar_list(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, family) = pusher.connect(client)
    pusher.work("live", "sync", "default")

    channels = pusher.channels()
    assert {(channel.kind, channel.connection_id) for channel in channels} == {
        (WatchKind.EVENTS, work), (WatchKind.EVENTS, family), (WatchKind.CALENDAR_LIST, None)}
    assert all(channel.stop_requested_at is None for channel in channels)
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


def test_a_hundred_notifications_for_one_calendar_queue_one_sync(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, _family) = pusher.connect(client)
    pusher.work()
    google = pusher.providers.google_state
    google.wait_for_deliveries()

    for number in range(100):
        google.add_event(email, google_timed(f"Burst {number}", soon(hour=8) + timedelta(minutes=number)))
    assert google.wait_for_deliveries(60)
    assert len(pusher.queue("live").job_ids) == 1
    pusher.work("live")
    with pusher.app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(CalendarEvent).where(
            CalendarEvent.calendar_connection_id == work, CalendarEvent.deleted_at.is_(None)))
    assert stored == 100


def test_a_notification_during_a_sync_gets_another_round(pusher, monkeypatch):
    """The change lands after the sync read Google: the same job runs a second round instead of leaving it to
    the sweep."""
    import webapp.sync.runner as runner

    client = pusher.client_for(pusher.user())
    email, (work, _family) = pusher.connect(client)
    pusher.work()
    google = pusher.providers.google_state
    google.add_event(email, google_timed("First", soon()))
    google.wait_for_deliveries()
    real_run, rounds = runner.run_sync, []

    def run_and_meanwhile_change(session, connection_id, **options):
        result = real_run(session, connection_id, **options)
        rounds.append(connection_id)
        if len(rounds) == 1:
            google.add_event(email, google_timed("While it ran", soon(hour=11)))
            assert google.wait_for_deliveries()
        return result

    monkeypatch.setattr(runner, "run_sync", run_and_meanwhile_change)
    pusher.work("live")
    assert rounds == [work, work]
    assert pusher.queue("live").job_ids == []
    with pusher.app.app_context():
        titles = set(db.session.scalars(select(CalendarEvent.title).where(
            CalendarEvent.calendar_connection_id == work)))
    assert titles == {"First", "While it ran"}


def test_channels_are_renewed_before_they_run_out_and_the_old_one_is_stopped(pusher):
    from webapp.sync import watch

    client = pusher.client_for(pusher.user())
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    pusher.work()
    (old,) = pusher.channels(connection_id=work)
    settings = watch.WatchSettings.of(pusher.app.config)
    with pusher.app.app_context():
        assert watch.due_work(db.session, settings, now=old.expires_at - timedelta(days=3)).renewals == []
        later = old.created_at + (old.expires_at - old.created_at) * 0.7
        due = watch.due_work(db.session, settings, now=later)
        assert old.id in due.renewals
        assert watch.renew(db.session, old.id, settings, now=later) == "started"
    pusher.work("default")  # the old channel's stop
    (new,) = pusher.channels(connection_id=work)
    assert new.channel_id != old.channel_id
    assert pusher.channels(id=old.id) == []
    at_google = {channel["id"] for channel in pusher.providers.google_state.channels()}
    assert new.channel_id in at_google and old.channel_id not in at_google


def test_an_expired_channel_falls_silent_and_maintenance_makes_a_new_one(pusher):
    import jobs.watch

    client = pusher.client_for(pusher.user())
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    google = pusher.providers.google_state
    google.set_push_policy(channel_max_ttl=3600)  # Google grants less than asked: its answer counts
    pusher.work()
    (channel,) = pusher.channels(connection_id=work)
    assert channel.expires_at < datetime.now(UTC) + timedelta(hours=1, minutes=1)

    google.advance_clock(3700)
    try:
        google.add_event(email, google_timed("Nobody hears this", soon()))
        google.wait_for_deliveries()
        assert pusher.queue("live").job_ids == []
        assert google.channels() == []
    finally:
        google.advance_clock(-3700)
    with pusher.app.app_context():  # our clock catches up with Google's
        db.session.execute(update(WatchChannel).where(WatchChannel.id == channel.id)
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    jobs.watch.maintain()
    pusher.work("default")
    (fresh,) = pusher.channels(connection_id=work)
    assert fresh.id != channel.id


def test_disconnecting_stops_the_calendars_channel_and_the_last_one_the_account_list(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, family) = pusher.connect(client)
    pusher.work()
    google = pusher.providers.google_state
    assert len(google.channels()) == 3

    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    client.post(f"/connections/{family}/disconnect", data={"csrf_token": token})
    pusher.work("default")
    assert {channel.kind for channel in pusher.channels()} == {WatchKind.EVENTS, WatchKind.CALENDAR_LIST}
    assert [channel["calendar_id"] for channel in google.channels()].count(None) == 1
    assert len(google.channels()) == 2

    # The last calendar of the account: its grant is revoked, so the channels are stopped first, at once.
    client.post(f"/connections/{work}/disconnect", data={"csrf_token": token})
    assert google.channels() == []
    pusher.work("default")
    assert pusher.channels() == []
    with pusher.app.app_context():
        stops = db.session.scalars(select(AuditLog.status).where(AuditLog.action == "WATCH_STOP")).all()
    assert [status.value for status in stops] == ["SUCCESS"] * 3


def test_a_refused_address_leaves_the_calendar_on_the_sweep_and_says_why(pusher):
    google = pusher.providers.google_state
    google.set_push_policy(require_https=True)  # as Google does: http is refused, loopback or not
    client = pusher.client_for(pusher.user(is_admin=True))
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    pusher.work()

    assert pusher.channels() == []
    reason = pusher.connection(work).watch_unavailable_reason
    assert reason == (f"Google sends notifications only to an https:// address with a valid certificate, and "
                      f"{pusher.server.url}/webhooks/google is not one.")
    page = client.get("/connections/").get_data(as_text=True)
    assert "Updates every 5 minutes — push unavailable:" in page and "valid certificate" in page
    health = client.get("/admin/health").get_data(as_text=True)
    assert "Updates every 5 minutes — push unavailable: Google sends notifications only to an https://" in health
    with pusher.app.app_context():
        failures = db.session.scalars(select(AuditLog).where(AuditLog.action == "WATCH_START")).all()
    assert [(row.status.value, row.error_message) for row in failures] == [("FAILURE", "watch_refused")]


def test_with_push_turned_off_no_channel_is_made_and_those_there_are_are_stopped(pusher, monkeypatch):
    import jobs.watch

    client = pusher.client_for(pusher.user())
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    pusher.work()
    assert len(pusher.channels()) == 2

    monkeypatch.setitem(pusher.app.config, "PUSH_NOTIFICATIONS", False)
    jobs.watch.maintain()
    pusher.work("default")
    assert pusher.channels() == [] and pusher.providers.google_state.channels() == []
    other = pusher.client_for(pusher.user())
    pusher.connect(other, calendars=(("Home", "#4285f4", True),))
    pusher.work()
    assert pusher.channels() == []
    page = other.get("/connections/").get_data(as_text=True)
    assert "push unavailable" not in page and "changes arrive within seconds" not in page


def test_a_calendar_added_at_google_is_noticed_through_the_calendar_list_channel(pusher):
    client = pusher.client_for(pusher.user())
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    pusher.work()
    google = pusher.providers.google_state
    google.add_calendar(email, f"trips-{email}", "Trips", color="#33b679")
    google.add_event(f"trips-{email}", google_timed("Flight to Lisbon", soon()))
    assert google.wait_for_deliveries()

    pusher.work()  # the list is read again, the new calendar synced and watched
    with pusher.app.app_context():
        trips = db.session.scalar(select(CalendarEvent.calendar_connection_id).where(
            CalendarEvent.title == "Flight to Lisbon"))
    assert trips is not None and trips != work
    assert pusher.connection(trips).calendar_name == "Trips"
    assert [channel.connection_id for channel in pusher.channels(kind=WatchKind.EVENTS)] == [work, trips]


def test_a_calendar_deleted_at_google_is_marked_removed_and_its_channel_stopped(pusher):
    client = pusher.client_for(pusher.user())
    email, (work, family) = pusher.connect(client)
    pusher.work()
    google = pusher.providers.google_state
    (channel,) = pusher.channels(connection_id=family)

    google.delete_calendar(pusher.connection(family).calendar_id)
    assert google.wait_for_deliveries()
    pusher.work()  # the "not_exists" notification's sync finds it gone; the list says so too
    assert pusher.connection(family).provider_removed_at is not None
    assert pusher.channels(id=channel.id) == []
    assert channel.channel_id not in {item["id"] for item in google.channels()}
    assert [row.connection_id for row in pusher.channels(kind=WatchKind.EVENTS)] == [work]
