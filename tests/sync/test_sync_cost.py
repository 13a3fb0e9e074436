"""What a sync costs, counted rather than timed: the requests a provider sees, the statements our database runs
and the rows they write. A quiet calendar must stay cheap however large it is."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from tests.factories import make_connection
from tests.helpers import google_timed, in_test_session, live_events, sent_statements, soon
from webapp.extensions import db
from webapp.models import AuditLog, CalendarConnection, CalendarEvent, SyncStatus
from webapp.sync.queue import enqueue_sync, schedule_retry

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|COPY)\b", re.IGNORECASE)


def test_an_incremental_sync_with_no_changes_asks_once_writes_only_the_time_and_reads_no_events(
        google, run_sync, db_session, app):
    connection, calendar_id, state = google
    connection_id = connection.id
    for day in range(1, 31):
        state.add_event(calendar_id, google_timed(f"Standup {day}", soon(days=day)))
    state.set_page_size(7)
    assert run_sync(connection_id)["created"] == 30
    audit_rows = len(db_session.scalars(select(AuditLog)).all())
    first_synced_at = db_session.get(CalendarConnection, connection_id).last_synced_at
    before = len(state.requests)

    with app.app_context(), sent_statements(db.engine) as sent:
        counts = run_sync(connection_id)
    statements = [statement for statement, _parameters in sent]

    assert (counts["created"], counts["updated"], counts["deleted"], counts["full_resync"]) == (0, 0, 0, False)
    assert [request.path for request in state.requests[before:]] == [f"/calendar/v3/calendars/{calendar_id}/events"]
    writes = [statement for statement in statements if WRITE.match(statement)]
    assert len(writes) == 1 and writes[0].lstrip().startswith("UPDATE calendar_connections"), writes
    # The only read of the events table is the pending-push check, which finds local changes by their status.
    event_reads = [statement for statement in statements if "FROM calendar_events" in statement]
    assert len(event_reads) == 1 and "sync_status IN" in event_reads[0], event_reads
    assert len(db_session.scalars(select(AuditLog)).all()) == audit_rows
    db_session.expire_all()
    assert db_session.get(CalendarConnection, connection_id).last_synced_at > first_synced_at
    assert len(live_events(db_session, connection_id)) == 30


def test_a_removal_reads_only_the_removed_event_and_the_guard_still_counts_a_mass_removal(
        google, run_sync, db_session, app):
    connection, calendar_id, state = google
    connection_id = connection.id
    ids = [state.add_event(calendar_id, google_timed(f"Review {day}", soon(days=day)))["id"] for day in range(1, 41)]
    run_sync(connection_id)
    state.delete_event(calendar_id, ids[0])

    with app.app_context(), sent_statements(db.engine) as sent:
        assert run_sync(connection_id)["deleted"] == 1

    assert not [statement for statement, _parameters in sent if "count(" in statement.lower()]
    assert len(live_events(db_session, connection_id)) == 39
    for event_id in ids[1:30]:
        state.delete_event(calendar_id, event_id)
    assert "guard" in run_sync(connection_id)  # 29 of 39: more than half, so it stops and deletes nothing
    assert len(live_events(db_session, connection_id)) == 39


def test_copy_storing_keeps_a_local_edit_as_a_conflict_and_stores_the_rest(google, run_sync, db_session):
    connection, calendar_id, state = google
    connection_id = connection.id
    mine = state.add_event(calendar_id, google_timed("Planning", soon(days=2)))
    for day in range(3, 13):
        state.add_event(calendar_id, google_timed(f"Call {day}", soon(days=day)))
    run_sync(connection_id)
    edited = db_session.scalars(select(CalendarEvent).where(CalendarEvent.provider_event_id == mine["id"])).one()
    edited.title, edited.sync_status = "Planning (moved by me)", SyncStatus.FAILED
    db_session.commit()
    state.update_event(calendar_id, mine["id"], {"summary": "Planning (moved by them)"})
    others = [event for event in state.stored_events(calendar_id) if event["id"] != mine["id"]]
    state.update_event(calendar_id, others[0]["id"], {"summary": "Call, renamed"})

    counts = run_sync(connection_id)

    assert (counts["updated"], counts["conflicts"]) == (1, 1)
    db_session.expire_all()
    edited = db_session.get(CalendarEvent, edited.id)
    assert edited.title == "Planning (moved by me)" and edited.sync_status == SyncStatus.PENDING
    assert edited.provider_metadata["conflict"]["remote"]["title"] == "Planning (moved by them)"
    assert "Call, renamed" in [event.title for event in live_events(db_session, connection_id)]


@contextmanager
def redis_round_trips(monkeypatch):
    """Commands sent on their own, and pipelines sent (each one round trip)."""
    from redis.client import Pipeline, Redis

    sent = {"commands": 0, "pipelines": 0}
    command, execute = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **options):
        if not isinstance(self, Pipeline):
            sent["commands"] += 1
        return command(self, *args, **options)

    def counted_execute(self, *args, **options):
        sent["pipelines"] += 1
        return execute(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", counted_command)
    monkeypatch.setattr(Pipeline, "execute", counted_execute)
    yield sent


def batched_connections(queue: Queue) -> list[str]:
    """The connection ids of the queued jobs of several calendars, each as often as it is queued."""
    return [connection_id for job_id in queue.job_ids if job_id.startswith("sync-calendars-")
            for connection_id in Job.fetch(job_id, connection=queue.connection).args[0]]


def test_the_sweep_queues_each_due_connection_once_in_jobs_of_several_and_replaces_a_waiting_retry(
        app, db_session, user, redis, monkeypatch):
    import jobs.sync

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    now = datetime.now(UTC)
    due_ids = [str(make_connection(db_session, user.id, last_synced_at=now - timedelta(hours=1)).id)
               for _ in range(60)]
    recent = str(make_connection(db_session, user.id, last_synced_at=now).id)
    queue = Queue("sync", connection=redis)
    with app.app_context():
        schedule_retry(due_ids[0], now + timedelta(minutes=20))  # waits longer than the cycle: replaced
        enqueue_sync(due_ids[1])  # already queued on its own: left to that job
    # An earlier pull that finished (its result kept for a while) does not stand in the way of the next one.
    queue.enqueue("builtins.len", "done", job_id=f"sync-connection-{due_ids[2]}", result_ttl=600)
    queue.connection.lrem(queue.key, 0, f"sync-connection-{due_ids[2]}")
    finished = Job.fetch(f"sync-connection-{due_ids[2]}", connection=redis)
    finished.set_status(JobStatus.FINISHED)
    queue.finished_job_registry.add(finished, 600)

    with redis_round_trips(monkeypatch) as sent:
        counts = in_test_session(jobs.sync.sweep)

    assert counts == {"connections": 60, "pushes": 0}
    assert sent["commands"] + sent["pipelines"] <= 6  # a few round trips, not a few per connection
    assert sorted(batched_connections(queue)) == sorted(due_ids[:1] + due_ids[2:])
    assert len([job_id for job_id in queue.job_ids if job_id.startswith("sync-calendars-")]) == 3  # 59 by 25
    assert f"sync-connection-{due_ids[1]}" in queue.job_ids
    assert queue.scheduled_job_registry.get_job_ids() == []
    assert recent not in batched_connections(queue)

    in_test_session(jobs.sync.sweep)  # the next tick finds them all queued

    assert sorted(batched_connections(queue)) == sorted(due_ids[:1] + due_ids[2:])
    assert queue.count == 4
