"""Almanac → provider: creates, edits and deletes, idempotent under retries, with etag conflicts resolved."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import csrf_token_from, google_timed, live_events, soon
from webapp.credentials import credentials_for
from webapp.extensions import db
from webapp.models import AuditLog, CalendarEvent, EventStatus, SyncStatus
from webapp.providers import get_provider
from webapp.providers.base import ProviderError
from webapp.sync.events import remote_from_row


def local_event(db_session, connection, title="Dinner", **overrides) -> CalendarEvent:
    start = soon(days=5, hour=18)
    event = CalendarEvent(calendar_connection_id=connection.id, provider_event_id=uuid.uuid4().hex, title=title,
                          start_time=start, end_time=start + timedelta(hours=2), timezone="Europe/Berlin",
                          status=EventStatus.CONFIRMED, sync_status=SyncStatus.PENDING, **overrides)
    db_session.add(event)
    db_session.commit()
    return event


def test_created_event_is_sent_once_and_its_echo_updates_the_same_row(google, run_sync, run_push, db_session):
    connection, calendar_id, state = google
    run_sync(connection.id)
    event = local_event(db_session, connection)
    assert run_push(event.id) == "created"
    stored = db_session.get(CalendarEvent, event.id)
    assert stored.sync_status == SyncStatus.SYNCED and stored.provider_metadata["etag"]
    remote = [e for e in state.stored_events(calendar_id) if e["summary"] == "Dinner"]
    assert [e["id"] for e in remote] == [event.provider_event_id]
    assert run_push(event.id) == "nothing"  # a duplicate job is harmless
    run_sync(connection.id)
    assert [e.title for e in live_events(db_session, connection)] == ["Dinner"]


def send_directly(app, connection, calendar_id, event):
    """A first push attempt that reached the provider, but whose answer never came back."""
    with app.app_context():
        credentials = credentials_for(db.session, connection.id)
        with get_provider(connection.provider) as provider:
            provider.create_event(credentials, calendar_id, remote_from_row(event))


def test_push_retried_after_a_lost_response_creates_exactly_one_event(app, google, run_push, db_session):
    connection, calendar_id, state = google
    event = local_event(db_session, connection, title="Lost response")
    send_directly(app, connection, calendar_id, event)
    assert run_push(event.id) == "created"
    assert len([e for e in state.stored_events(calendar_id) if e["summary"] == "Lost response"]) == 1


def test_microsoft_create_is_deduplicated_by_transaction_id(app, microsoft, run_push, db_session):
    connection, calendar_id, state = microsoft
    event = local_event(db_session, connection, title="Team lunch")
    send_directly(app, connection, calendar_id, event)
    assert run_push(event.id) == "created"
    assert [e["subject"] for e in state.list_events(calendar_id)].count("Team lunch") == 1


def edit_locally(db_session, row, **changes):
    for name, value in changes.items():
        setattr(row, name, value)
    row.sync_status = SyncStatus.PENDING
    db_session.commit()


def test_a_provider_change_to_a_pending_edit_is_a_conflict_and_keep_mine_wins(google, run_sync, run_push,
                                                                             db_session, client, login, user):
    connection, calendar_id, state = google
    connection_id = connection.id
    remote = state.add_event(calendar_id, google_timed("Board meeting", soon(days=2)))
    run_sync(connection_id)
    state.update_event(calendar_id, remote["id"], {"summary": "Board meeting (moved by Sam)"})
    (row,) = live_events(db_session, connection_id)
    edit_locally(db_session, row, title="Board meeting (my edit)")

    run_sync(connection_id)  # a pull never overwrites a pending local edit: it records the conflict
    row = db_session.get(CalendarEvent, row.id)
    assert row.title == "Board meeting (my edit)" and row.sync_status == SyncStatus.PENDING
    conflict = row.provider_metadata["conflict"]
    assert conflict["remote"]["title"] == "Board meeting (moved by Sam)" and not conflict["remote_deleted"]
    assert run_push(row.id) == "held"  # nothing goes out until the user picks a side
    assert db_session.scalars(select(AuditLog).where(AuditLog.action == "EVENT_SYNC_CONFLICT")).one()

    page = client.get(f"/calendar/events/{row.id}").get_data(as_text=True)
    assert "Board meeting (moved by Sam)" in page and "Keep mine" in page and "Take theirs" in page
    token = csrf_token_from(page)
    client.post(f"/connections/events/{row.id}/conflict", data={"choice": "mine", "csrf_token": token})
    assert run_push(row.id) == "updated"
    assert next(e for e in state.stored_events(calendar_id) if e["id"] == remote["id"])["summary"] \
        == "Board meeting (my edit)"
    run_sync(connection_id)
    (row,) = live_events(db_session, connection_id)
    assert (row.title, row.sync_status) == ("Board meeting (my edit)", SyncStatus.SYNCED)
    assert "conflict" not in row.provider_metadata


def test_take_theirs_replaces_the_local_edit_and_keeps_it_in_the_audit_log(google, run_sync, run_push, db_session,
                                                                         client, login, user):
    connection, calendar_id, state = google
    connection_id = connection.id
    remote = state.add_event(calendar_id, google_timed("Lunch", soon(days=2)))
    run_sync(connection_id)
    (row,) = live_events(db_session, connection_id)
    edit_locally(db_session, row, title="Lunch (mine)")
    state.update_event(calendar_id, remote["id"], {"summary": "Lunch (theirs)"})
    assert run_push(row.id) == "conflict"  # the push met their newer etag before any pull did

    run_sync(connection_id)  # queued by the conflict: brings their version for the comparison
    row = db_session.get(CalendarEvent, row.id)
    assert row.provider_metadata["conflict"]["remote"]["title"] == "Lunch (theirs)"
    token = csrf_token_from(client.get(f"/calendar/events/{row.id}").get_data(as_text=True))
    client.post(f"/connections/events/{row.id}/conflict", data={"choice": "theirs", "csrf_token": token})

    row = db_session.get(CalendarEvent, row.id)
    assert (row.title, row.sync_status) == ("Lunch (theirs)", SyncStatus.SYNCED)
    resolved = db_session.scalars(select(AuditLog).where(AuditLog.action == "EVENT_SYNC_CONFLICT_RESOLVED")).one()
    assert resolved.metadata_["choice"] == "take_theirs" and resolved.metadata_["discarded"]["title"] == \
        "Lunch (mine)"
    assert run_push(row.id) == "nothing"
    assert next(e for e in state.stored_events(calendar_id) if e["id"] == remote["id"])["summary"] == \
        "Lunch (theirs)"


def test_local_delete_reaches_the_provider(google, run_sync, run_push, db_session):
    connection, calendar_id, state = google
    remote = state.add_event(calendar_id, google_timed("Cancel me", soon(days=2)))
    run_sync(connection.id)
    (row,) = live_events(db_session, connection)
    row.deletion_requested_at, row.sync_status = row.start_time, SyncStatus.PENDING
    db_session.commit()
    assert run_push(row.id) == "deleted"
    assert next(e for e in state.stored_events(calendar_id) if e["id"] == remote["id"])["status"] == "cancelled"
    deleted = db_session.get(CalendarEvent, row.id)
    assert deleted.sync_status == SyncStatus.DELETED and deleted.deleted_at and not deleted.deletion_requested_at


def test_failed_push_is_marked_and_retried_by_the_sweep(app, google, run_push, db_session, redis, monkeypatch):
    from rq import Queue

    import jobs.sync

    connection, calendar_id, state = google
    event = local_event(db_session, connection, title="Flaky")
    event_id = event.id
    state.fail_next(f"/calendar/v3/calendars/{calendar_id}/events", 503)
    with pytest.raises(ProviderError):
        run_push(event.id)
    failed = db_session.get(CalendarEvent, event.id)
    assert failed.sync_status == SyncStatus.FAILED and failed.provider_metadata["push_error"]
    Queue("sync", connection=redis).empty()
    assert jobs.sync.sweep()["pushes"] >= 1
    assert f"push-event-{event_id}" in Queue("sync", connection=redis).job_ids
    assert run_push(event_id) == "created"


def test_apple_push_names_the_resource_and_the_next_pull_does_not_duplicate(apple, run_sync, run_push, db_session):
    connection, url = apple
    run_sync(connection.id)
    event = local_event(db_session, connection, title="Piano lesson")
    assert run_push(event.id) == "created"
    stored = db_session.get(CalendarEvent, event.id)
    assert stored.provider_event_id.endswith(".ics") and stored.provider_metadata["etag"]
    run_sync(connection.id)
    assert [e.title for e in live_events(db_session, connection)] == ["Piano lesson"]


def test_editing_one_occurrence_edits_googles_instance(google, run_sync, run_push, db_session):
    connection, calendar_id, state = google
    start = soon(days=3, hour=9)
    master = state.add_event(calendar_id, {**google_timed("Yoga", start, zone="UTC"),
                                           "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]})
    run_sync(connection.id)
    series = live_events(db_session, connection)[0]
    moved_from = start + timedelta(days=1)
    override = CalendarEvent(
        calendar_connection_id=connection.id, provider_event_id=uuid.uuid4().hex, title="Yoga (outdoors)",
        start_time=moved_from + timedelta(hours=2), end_time=moved_from + timedelta(hours=3), timezone="UTC",
        status=EventStatus.CONFIRMED, sync_status=SyncStatus.PENDING, parent_event_id=series.id,
        provider_metadata={"original_start_time": moved_from.isoformat(), "parent_provider_event_id": master["id"]})
    db_session.add(override)
    db_session.commit()
    assert run_push(override.id) == "created"
    instance_id = f"{master['id']}_{moved_from:%Y%m%dT%H%M%SZ}"
    assert db_session.get(CalendarEvent, override.id).provider_event_id == instance_id
    assert next(e for e in state.stored_events(calendar_id) if e["id"] == instance_id)["summary"] == "Yoga (outdoors)"
    run_sync(connection.id)
    rows = db_session.scalars(select(CalendarEvent).where(CalendarEvent.parent_event_id == series.id,
                                                          CalendarEvent.deleted_at.is_(None))).all()
    assert [(row.id, row.title) for row in rows] == [(override.id, "Yoga (outdoors)")]


def test_a_series_created_here_is_represented_by_graphs_occurrences_after_the_pull(microsoft, run_sync, run_push,
                                                                                   db_session):
    connection, calendar_id, state = microsoft
    run_sync(connection.id)
    series = local_event(db_session, connection, title="Piano practice", is_recurring=True,
                         recurrence_rule="RRULE:FREQ=DAILY;COUNT=3")
    assert run_push(series.id) == "created"
    run_sync(connection.id)
    practice = [event for event in live_events(db_session, connection) if event.title == "Piano practice"]
    assert len(practice) == 3 and all(not event.is_recurring for event in practice)
    assert db_session.get(CalendarEvent, series.id).deleted_at is not None


def test_a_push_whose_answer_was_lost_absorbs_the_copy_a_pull_stored_meanwhile(app, apple, run_sync, run_push,
                                                                               db_session):
    connection, url = apple
    connection_id = connection.id
    event = local_event(db_session, connection, title="Choir")
    send_directly(app, connection, url, event)  # the first attempt got through; its worker died before writing
    run_sync(connection_id)  # the pull meets the provider's copy and stores it as a row of its own
    assert [e.title for e in live_events(db_session, connection_id)] == ["Choir", "Choir"]

    assert run_push(event.id) == "created"  # the retry finds the resource it made (If-None-Match: *)

    (row,) = live_events(db_session, connection_id)
    assert row.id == event.id and row.sync_status == SyncStatus.SYNCED and row.provider_event_id.endswith(".ics")
