"""Pulling from the Google emulator: paging, incremental changes, 410, recurrence, guard, retries."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq import Queue
from sqlalchemy import select

from tests.helpers import google_timed, live_events, soon
from webapp.models import AuditLog, AuditStatus, CalendarConnection, CalendarEvent, EventStatus


def refreshed(db_session, connection):
    return db_session.get(CalendarConnection, connection.id)


def test_first_sync_follows_every_page_and_stores_the_token_from_the_last(google, run_sync, db_session):
    connection, calendar_id, state = google
    for index in range(7):
        state.add_event(calendar_id, google_timed(f"Meeting {index}", soon(days=index + 1)))
    state.set_page_size(3)
    counts = run_sync(connection.id)
    assert counts["created"] == 7 and counts["pages"] == 3 and counts["full_resync"] is True
    assert [e.title for e in live_events(db_session, connection)] == [f"Meeting {i}" for i in range(7)]
    connection = refreshed(db_session, connection)
    assert connection.sync_token and connection.last_synced_at > datetime.now(UTC) - timedelta(minutes=1)
    sync_requests = [r for r in state.requests if "/events" in r.path]
    assert "syncToken" not in sync_requests[0].query and sync_requests[0].query.get("showDeleted") == "true"
    entry = db_session.scalars(select(AuditLog).where(AuditLog.action == "EVENT_SYNC_SUCCESS")).one()
    assert entry.metadata_["pages"] == 3 and entry.metadata_["created"] == 7 and "duration_ms" in entry.metadata_


def test_incremental_sync_applies_adds_changes_and_deletes(google, run_sync, db_session):
    connection, calendar_id, state = google
    keep = state.add_event(calendar_id, google_timed("Standup", soon()))
    gone = state.add_event(calendar_id, google_timed("Retro", soon(days=2)))
    run_sync(connection.id)
    state.update_event(calendar_id, keep["id"], {"summary": "Standup (moved)", "location": "Room 4"})
    state.delete_event(calendar_id, gone["id"])
    state.add_event(calendar_id, google_timed("Planning", soon(days=3)))
    counts = run_sync(connection.id)
    assert (counts["created"], counts["updated"], counts["deleted"], counts["full_resync"]) == (1, 1, 1, False)
    assert [(e.title, e.location) for e in live_events(db_session, connection)] == [
        ("Standup (moved)", "Room 4"), ("Planning", None)]
    assert "syncToken" in [r for r in state.requests if "/events" in r.path][-1].query
    # Nothing changed: nothing written.
    assert run_sync(connection.id)["updated"] == 0


def test_expired_sync_token_resyncs_in_full_and_reconciles(google, run_sync, db_session):
    connection, calendar_id, state = google
    first = state.add_event(calendar_id, google_timed("Stays", soon()))
    second = state.add_event(calendar_id, google_timed("Vanishes", soon(days=2)))
    run_sync(connection.id)
    state.expire_sync_tokens(calendar_id)
    state.delete_event(calendar_id, second["id"])
    counts = run_sync(connection.id)
    assert counts["full_resync"] is True and counts["deleted"] == 1
    (event,) = live_events(db_session, connection)
    assert event.provider_event_id == first["id"]
    assert len(db_session.scalars(select(CalendarEvent)).all()) == 2  # soft-deleted, not duplicated


def test_deletion_guard_keeps_events_when_the_calendar_reads_empty(google, run_sync, db_session):
    connection, calendar_id, state = google
    events = [state.add_event(calendar_id, google_timed(f"E{i}", soon(days=i % 20 + 1))) for i in range(24)]
    run_sync(connection.id)
    state.expire_sync_tokens(calendar_id)
    for event in events:
        state.delete_event(calendar_id, event["id"])
    outcome = run_sync(connection.id)
    assert "guard" in outcome
    assert len(live_events(db_session, connection)) == 24
    connection = refreshed(db_session, connection)
    assert "would have removed 24 of 24" in connection.attention_reason
    failure = db_session.scalars(select(AuditLog).where(AuditLog.action == "EVENT_SYNC_FAILURE")).one()
    assert failure.error_message == "deletion_guard" and failure.metadata_["would_delete"] == 24
    # A resync the user confirmed goes through.
    assert run_sync(connection.id, full=True, allow_mass_delete=True)["deleted"] == 24


def test_recurring_master_with_exception_and_cancelled_instance(google, run_sync, db_session):
    connection, calendar_id, state = google
    start = datetime(2026, 3, 2, 9, 0)  # Monday; New York springs forward on 8 March
    master = state.add_event(calendar_id, {
        "summary": "Weekly sync", "start": {"dateTime": start.isoformat(), "timeZone": "America/New_York"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "America/New_York"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=America/New_York:20260316T090000"]})
    # Another client moves one instance and cancels another, through the instance ids Google hands out.
    state.update_event(calendar_id, f"{master['id']}_20260323T130000Z", {
        "summary": "Weekly sync (late)",
        "start": {"dateTime": "2026-03-23T15:00:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-23T16:00:00-04:00", "timeZone": "America/New_York"}})
    state.delete_event(calendar_id, f"{master['id']}_20260330T130000Z")
    run_sync(connection.id)
    rows = db_session.scalars(select(CalendarEvent).where(CalendarEvent.calendar_connection_id == connection.id)
                              .order_by(CalendarEvent.start_time)).all()
    series = next(r for r in rows if r.is_recurring)
    assert series.recurrence_rule.startswith("RRULE:FREQ=WEEKLY") and "EXDATE" in series.recurrence_rule
    assert series.recurrence_frequency.value == "WEEKLY" and series.recurrence_count == 6
    assert series.timezone == "America/New_York" and series.start_time == datetime(2026, 3, 2, 14, tzinfo=UTC)
    children = {r.title: r for r in rows if r.parent_event_id == series.id}
    assert children["Weekly sync (late)"].provider_metadata["original_start_time"].startswith("2026-03-23T13:00")
    cancelled = [r for r in rows if r.parent_event_id == series.id and r.status == EventStatus.CANCELLED]
    assert len(cancelled) == 1


def test_token_expiring_in_the_middle_of_paging_is_refreshed_once(google, run_sync, db_session):
    connection, calendar_id, state = google
    for index in range(4):
        state.add_event(calendar_id, google_timed(f"M{index}", soon(days=index + 1)))
    state.set_page_size(2)
    state.fail_next(f"/calendar/v3/calendars/{calendar_id}/events", 401)
    counts = run_sync(connection.id)
    assert counts["created"] == 4
    assert [r.path for r in state.requests].count("/token") >= 2  # the code exchange, then one refresh


def test_rate_limit_waits_for_retry_after_and_reschedules(google, run_sync, db_session, redis):
    connection, calendar_id, state = google
    state.fail_next(f"/calendar/v3/calendars/{calendar_id}/events", 429, headers={"Retry-After": "120"})
    outcome = run_sync(connection.id)
    assert outcome == {"rate_limited": 120}
    connection = refreshed(db_session, connection)
    wait = connection.retry_after_until - datetime.now(UTC)
    assert timedelta(seconds=115) < wait <= timedelta(seconds=120)
    assert connection.next_attempt_at == connection.retry_after_until
    registry = Queue("sync", connection=redis).scheduled_job_registry
    assert registry.get_job_ids() == [f"sync-retry-{connection.id}"]
    assert abs(registry.get_scheduled_time(f"sync-retry-{connection.id}") - connection.next_attempt_at) \
        < timedelta(seconds=1)
    assert connection.sync_failures == 1 and "slow down" in connection.last_sync_error
    assert db_session.scalars(select(AuditLog).where(AuditLog.action == "EVENT_SYNC_FAILURE")).one().status \
        == AuditStatus.FAILURE


def test_sync_is_skipped_while_another_worker_holds_the_lock(app, google, run_sync, monkeypatch):
    import jobs.sync
    from webapp.locks import connection_lock

    connection, calendar_id, state = google
    monkeypatch.setattr(jobs.sync, "SYNC_LOCK_WAIT_SECONDS", 0)
    before = len(state.requests)
    with app.app_context(), connection_lock(connection.id) as held:
        assert held
        assert run_sync(connection.id) is None
    assert not [r for r in state.requests[before:] if "/events" in r.path]


def test_user_accepts_the_deletions_from_the_connections_page(google, run_sync, client, db_session, redis):
    from rq import Queue, SimpleWorker

    from tests.helpers import csrf_token_from

    connection, calendar_id, state = google
    events = [state.add_event(calendar_id, google_timed(f"E{i}", soon(days=i % 20 + 1))) for i in range(21)]
    run_sync(connection.id)
    state.expire_sync_tokens(calendar_id)
    for event in events:
        state.delete_event(calendar_id, event["id"])
    run_sync(connection.id)
    Queue("sync", connection=redis).empty()  # the connect flow's first sync, which run_sync stood in for
    page = client.get("/connections/").get_data(as_text=True)
    assert "Needs attention" in page and "Accept the provider&#39;s version" in page
    token = csrf_token_from(page)
    response = client.post(f"/connections/{connection.id}/accept-deletions",
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200 and "Syncing…" in response.get_data(as_text=True)
    SimpleWorker([Queue("sync", connection=redis)], connection=redis).work(burst=True)
    assert live_events(db_session, connection) == []
    assert refreshed(db_session, connection).attention_reason is None


def test_invitations_with_hostile_rules_sync_and_every_page_stays_bounded(google, run_sync, db_session, client):
    """The two rules that once stalled the server, arriving by invitation beside an ordinary event."""
    connection, calendar_id, state = google
    every_second = ("RRULE:FREQ=DAILY;COUNT=999999999;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE="
                    + ",".join(map(str, range(60))) + ";BYSECOND=" + ",".join(map(str, range(60))))
    state.add_event(calendar_id, google_timed("Every second", soon(days=-60), recurrence=[every_second]))
    state.add_event(calendar_id, google_timed("Thirtieth of February", soon(days=-60),
                                              recurrence=["RRULE:FREQ=DAILY;COUNT=5;BYMONTH=2;BYMONTHDAY=30"]))
    state.add_event(calendar_id, google_timed("Lunch", soon(days=1, hour=12)))

    assert run_sync(connection.id)["created"] == 3

    rows = {event.title: event for event in live_events(db_session, connection)}
    assert rows["Every second"].series_limit.startswith("it repeats more than 24 times a day")
    assert rows["Thirtieth of February"].series_limit is None
    assert rows["Thirtieth of February"].series_until < soon(days=-58)  # no instance after its first
    tomorrow = soon(days=1).date()
    week = client.get(f"/calendar/week/{tomorrow.isoformat()}")
    assert week.status_code == 200 and "Lunch" in week.get_data(as_text=True)
    assert len(week.get_data()) < 200_000
    for url in ("/calendar/month/2500-12", "/calendar/agenda", "/search?q=every+second"):
        assert client.get(url).status_code == 200, url
    panel = client.get(f"/calendar/events/{rows['Every second'].id}").get_data(as_text=True)
    assert "Too many occurrences to show: it repeats more than 24 times a day" in panel
    listing = client.get("/connections/").get_data(as_text=True)
    assert "1 series with too many occurrences to show" in listing and "Every second" in listing
