"""Acting on events at each provider's emulator: "this and following" splits a series the provider's own way
(Google and CalDAV: the series gets an UNTIL and a new series starts; Graph: the series master's range ends and a
new series starts), answers to invitations reach Google (attendee responseStatus), Graph (accept, decline,
tentativelyAccept) and CalDAV (PARTSTAT), and Undo puts a move or a deletion back."""
from __future__ import annotations

import re
from datetime import UTC, timedelta

from rq import Queue
from sqlalchemy import select

from sandbox.radicale_server import put_event
from tests.factories import set_user
from tests.helpers import APPLE_USER, csrf_token_from, event_form, google_timed, graph_event, ics, live_events, soon
from webapp.calendar.urls import format_at
from webapp.models import CalendarEvent, SyncStatus, User


def form_for(client, day, title, *, start="10:00", end="11:00", **fields) -> dict:
    csrf = csrf_token_from(client.get("/settings/profile").get_data(as_text=True))
    return event_form(csrf, title=title, start_date=day.isoformat(), end_date=day.isoformat(), start_time=start,
                      end_time=end, time_zone="UTC", **fields)


def series_rows(db_session, connection_id) -> list[CalendarEvent]:
    return [row for row in live_events(db_session, connection_id) if row.is_recurring]


def test_this_and_following_at_google(client, db_session, user, google, run_sync, run_push):
    connection, calendar_id, state = google
    set_user(db_session, user, time_zone="UTC")
    first = soon(days=2, hour=9)
    master = state.add_event(calendar_id, {**google_timed("Yoga", first),
                                           "recurrence": ["RRULE:FREQ=DAILY;COUNT=6"]})
    run_sync(connection.id)
    (series,) = series_rows(db_session, connection.id)
    third = first + timedelta(days=2)

    response = client.post(f"/calendar/events/{series.id}/edit", data=form_for(
        client, third.date(), "Yoga (new room)", start="09:00", end="10:00", scope="following", at=format_at(third),
        repeat="DAILY", interval="1", ends="count", count="4"))

    assert response.status_code == 303, response.get_data(as_text=True)
    follower = db_session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Yoga (new room)")).one()
    assert run_push(series.id) == "updated" and run_push(follower.id) == "created"
    stored = {event["summary"]: event for event in state.stored_events(calendar_id)}
    until = (third - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    assert stored["Yoga"]["id"] == master["id"] and stored["Yoga"]["recurrence"] == [
        f"RRULE:FREQ=DAILY;UNTIL={until}"]
    assert stored["Yoga (new room)"]["recurrence"] == ["RRULE:FREQ=DAILY;COUNT=4"]
    run_sync(connection.id)
    week = client.get(f"/calendar/week/{first.date()}").get_data(as_text=True) + client.get(
        f"/calendar/week/{first.date() + timedelta(days=7)}").get_data(as_text=True)
    assert len(re.findall(r'event-title" aria-hidden="true">Yoga<', week)) == 2
    assert len(re.findall(r'event-title" aria-hidden="true">Yoga \(new room\)<', week)) == 4


def test_this_and_following_at_caldav(client, db_session, user, apple, run_sync, run_push, provider_servers):
    connection, url = apple
    set_user(db_session, user, time_zone="UTC")
    first = soon(days=2, hour=9)
    stamp = first.strftime("%Y%m%dT%H%M%SZ")
    put_event(provider_servers.radicale.url, *APPLE_USER, url.split("://", 1)[1].split("/", 1)[1].join("/" * 2)
              if False else re.sub(r"^https?://[^/]+", "", url), "choir.ics", ics(
                  "BEGIN:VEVENT", "UID:choir-1", f"DTSTAMP:{stamp}", f"DTSTART:{stamp}",
                  f"DTEND:{(first + timedelta(hours=1)).strftime('%Y%m%dT%H%M%SZ')}", "SUMMARY:Choir",
                  "RRULE:FREQ=WEEKLY;COUNT=5", "END:VEVENT"))
    run_sync(connection.id)
    (series,) = series_rows(db_session, connection.id)
    third = first + timedelta(weeks=2)

    response = client.post(f"/calendar/events/{series.id}/delete", data={
        "csrf_token": csrf_token_from(client.get("/settings/profile").get_data(as_text=True)),
        "scope": "following", "at": format_at(third), "view": "week"})

    assert response.status_code == 303
    assert run_push(series.id) == "updated"
    run_sync(connection.id)
    (series,) = series_rows(db_session, connection.id)
    assert "UNTIL=" in series.recurrence_rule and "COUNT" not in series.recurrence_rule
    month = "".join(client.get(f"/calendar/agenda?start={first.date() + timedelta(days=30 * n)}").get_data(
        as_text=True) for n in range(2))
    assert len(re.findall(r'event-title" aria-hidden="true">Choir<', month)) == 2


def test_this_and_following_at_graph(client, db_session, user, microsoft, run_sync, run_push):
    connection, calendar_id, state = microsoft
    set_user(db_session, user, time_zone="UTC")
    first = soon(days=2, hour=9)
    state.add_event(calendar_id, graph_event("Swim", first, recurrence={
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "noEnd", "startDate": first.date().isoformat(), "recurrenceTimeZone": "UTC"}}))
    run_sync(connection.id)
    occurrences = [row for row in live_events(db_session, connection.id) if row.title == "Swim"]
    third = next(row for row in occurrences if row.start_time == first + timedelta(days=2))

    response = client.post(f"/calendar/events/{third.id}/edit", data=form_for(
        client, third.start_time.date(), "Swim (outdoors)", start="09:00", end="10:00", scope="following"))

    assert response.status_code == 303, response.get_data(as_text=True)
    assert run_push(third.id) == "split"
    masters = {event["subject"]: event for event in state.list_events(calendar_id)}
    assert masters["Swim"]["recurrence"]["range"]["type"] == "endDate"
    day_before = (third.start_time.date() - timedelta(days=1)).isoformat()
    assert masters["Swim"]["recurrence"]["range"]["endDate"] == day_before
    assert masters["Swim (outdoors)"]["recurrence"]["range"]["startDate"] == third.start_time.date().isoformat()
    run_sync(connection.id)
    titles = {(row.title, row.start_time) for row in live_events(db_session, connection.id)}
    assert ("Swim", first + timedelta(days=1)) in titles and ("Swim", third.start_time) not in titles
    assert ("Swim (outdoors)", third.start_time) in titles
    assert ("Swim (outdoors)", third.start_time + timedelta(days=1)) in titles


def respond(client, event_id, answer, at=None):
    csrf = csrf_token_from(client.get("/settings/profile").get_data(as_text=True))
    return client.post(f"/calendar/events/{event_id}/respond",
                       data={"csrf_token": csrf, "response": answer, "view": "week", "at": at or ""})


def test_answers_reach_google(client, db_session, user, google, run_sync, run_push):
    connection, calendar_id, state = google
    start = soon(days=3, hour=14)
    created = state.add_event(calendar_id, google_timed("Offsite", start, attendees=[
        {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"},
        {"email": calendar_id, "responseStatus": "needsAction"}]))
    run_sync(connection.id)
    (event,) = [row for row in live_events(db_session, connection.id) if row.title == "Offsite"]
    panel = client.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    assert 'value="accepted"' in panel and "Going?" in panel

    assert respond(client, event.id, "accepted").status_code == 303
    assert db_session.get(CalendarEvent, event.id).sync_status == SyncStatus.PENDING
    assert run_push(event.id) == "responded"

    stored = next(e for e in state.stored_events(calendar_id) if e["id"] == created["id"])
    mine = next(a for a in stored["attendees"] if a["email"] == calendar_id)
    assert mine["responseStatus"] == "accepted"
    assert "rsvp" not in db_session.get(CalendarEvent, event.id).provider_metadata
    run_sync(connection.id)
    assert db_session.get(CalendarEvent, event.id).provider_metadata["self_response"] == "accepted"


def test_answers_reach_graph(client, db_session, user, microsoft, run_sync, run_push):
    connection, calendar_id, state = microsoft
    start = soon(days=3, hour=15)
    event_id = state.add_event(calendar_id, graph_event("Board meeting", start, isOrganizer=False, attendees=[
        {"emailAddress": {"address": "chair@example.com"}, "status": {"response": "organizer"}},
        {"emailAddress": {"address": connection.account_email}, "status": {"response": "none"}}],
        responseStatus={"response": "notResponded", "time": "0001-01-01T00:00:00Z"}))
    run_sync(connection.id)
    (event,) = [row for row in live_events(db_session, connection.id) if row.title == "Board meeting"]

    assert respond(client, event.id, "declined").status_code == 303
    week = client.get(f"/calendar/week/{start.date()}").get_data(as_text=True)
    assert re.search(rf'class="event[^"]*is-declined[^"]*"\s+data-event-id="{event.id}"', week)
    assert run_push(event.id) == "responded"

    stored = next(e for e in state.list_events(calendar_id) if e["id"] == event_id)
    assert stored["responseStatus"]["response"] == "declined"
    assert db_session.get(CalendarEvent, event.id).sync_status == SyncStatus.SYNCED


def test_answers_reach_caldav(client, db_session, user, apple, run_sync, run_push, provider_servers):
    connection, url = apple
    start = soon(days=3, hour=16)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    path = re.sub(r"^https?://[^/]+", "", url)
    put_event(provider_servers.radicale.url, *APPLE_USER, path, "review.ics", ics(
        "BEGIN:VEVENT", "UID:review-1", f"DTSTAMP:{stamp}", f"DTSTART:{stamp}",
        f"DTEND:{(start + timedelta(hours=1)).strftime('%Y%m%dT%H%M%SZ')}", "SUMMARY:Design review",
        "ORGANIZER;CN=Lead:mailto:lead@example.com",
        "ATTENDEE;CN=Lead;PARTSTAT=ACCEPTED:mailto:lead@example.com",
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{APPLE_USER[0]}", "END:VEVENT"))
    run_sync(connection.id)
    (event,) = [row for row in live_events(db_session, connection.id) if row.title == "Design review"]

    assert respond(client, event.id, "tentative").status_code == 303
    assert run_push(event.id) == "responded"
    run_sync(connection.id)

    again = db_session.get(CalendarEvent, event.id)
    mine = next(a for a in again.attendees if a["email"].lower() == APPLE_USER[0])
    assert mine["responseStatus"] == "tentative" and again.sync_status == SyncStatus.SYNCED


def test_undo_puts_a_move_and_a_deletion_back(client, db_session, user, google, run_sync, run_push, redis):
    connection, calendar_id, state = google
    set_user(db_session, user, time_zone="UTC")
    start = soon(days=2, hour=9)
    state.add_event(calendar_id, google_timed("Dentist", start))
    run_sync(connection.id)
    (event,) = live_events(db_session, connection.id)
    csrf = csrf_token_from(client.get("/settings/profile").get_data(as_text=True))
    htmx = {"HX-Request": "true"}
    local = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")  # noqa: E731

    moved = client.post(f"/calendar/events/{event.id}/move", headers=htmx, data={
        "csrf_token": csrf, "start": local(start + timedelta(hours=2)), "end": local(start + timedelta(hours=3)),
        "view": "week"})
    token = __import__("json").loads(moved.headers["HX-Trigger"])["toast"]["undo"]
    assert db_session.get(CalendarEvent, event.id).start_time == start + timedelta(hours=2)
    undone = client.post("/calendar/undo", headers=htmx, data={"csrf_token": csrf, "token": token, "view": "week"})
    assert "Move undone." in undone.headers["HX-Trigger"]
    assert db_session.get(CalendarEvent, event.id).start_time == start

    deleted = client.post(f"/calendar/events/{event.id}/delete", headers=htmx,
                          data={"csrf_token": csrf, "view": "week"})
    token = __import__("json").loads(deleted.headers["HX-Trigger"])["toast"]["undo"]
    assert f"push-event-{event.id}" in Queue("sync", connection=redis).scheduled_job_registry.get_job_ids()
    client.post("/calendar/undo", headers=htmx, data={"csrf_token": csrf, "token": token, "view": "week"})
    row = db_session.get(CalendarEvent, event.id)
    assert row.deletion_requested_at is None and row.deleted_at is None
    assert run_push(event.id) in ("updated", "nothing")  # the waiting push finds no deletion to send
    assert [e["summary"] for e in state.stored_events(calendar_id) if e.get("status") != "cancelled"] == ["Dentist"]
    other = db_session.scalars(select(User).where(User.id != user.id)).first()
    assert other is None or other.id != user.id
