"""A calendar deleted or unshared at the provider, and calendars this account may only read: said in plain words
on the connections page and the calendar, never retried, writes refused up front, and removed from Almanac once the
user has seen what would be lost. Against the Google and Microsoft emulators and Radicale."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import select, update

from sandbox.radicale_server import delete_calendar
from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import (
    APPLE_USER,
    audit_rows,
    authorize,
    csrf_token_from,
    event_form,
    google_timed,
    live_events,
    only_connection,
    soon,
    start_connect,
)
from webapp.models import CalendarConnection, CalendarEvent, SyncStatus
from webapp.providers.base import ProviderError
from webapp.sync import due
from webapp.sync.queue import retry_job_id

START = soon(days=2, hour=9)
WEEK = f"/calendar/week/{START.date().isoformat()}"


def form(token: str, **fields) -> dict:
    day = START.date().isoformat()
    return event_form(token, start_date=day, end_date=day, start_time=f"{START:%H:%M}",
                      end_time=f"{START + timedelta(hours=1):%H:%M}", **fields)


def token_of(client) -> str:
    return csrf_token_from(client.get(WEEK).get_data(as_text=True))


def connection_row(client, redis, connection_id) -> str:
    """The calendar's row on the connections page. The syncs queued along the way (on connecting, by a button) were
    run by the test itself: the queue is emptied first, or the row would say "Syncing…"."""
    Queue("sync", connection=redis).empty()
    html = client.get("/connections/").get_data(as_text=True)
    match = re.search(rf'<tr id="connection-{connection_id}".*?</tr>', html, re.S)
    return match.group(0) if match else ""


def create_here(client, db_session, connection_id, title: str) -> CalendarEvent:
    response = client.post("/calendar/events/new", data=form(token_of(client), title=title,
                                                             calendar_id=str(connection_id)))
    assert response.status_code == 303, response.get_data(as_text=True)
    return db_session.scalars(select(CalendarEvent).where(CalendarEvent.calendar_connection_id == connection_id,
                                                          CalendarEvent.title == title)).one()


@pytest.fixture
def google_two(client, db_session, user, login, provider_servers):
    """A Google account with a primary "Work" and a secondary "Family" calendar, both connected."""
    login(user)
    email = new_google_account(provider_servers)
    client.get(authorize(start_connect(client), email))
    yield (only_connection(db_session, user, "Work"), only_connection(db_session, user, "Family"),
           provider_servers.google_state)
    provider_servers.google_faults.calm()


def test_a_calendar_deleted_at_google_says_so_refuses_writes_and_lists_what_removing_it_loses(
        google_two, run_sync, run_push, client, db_session, redis):
    work, family, state = google_two
    work_id, family_id, family_calendar = work.id, family.id, family.calendar_id
    state.add_event(family_calendar, google_timed("Piano", START))
    run_sync(work_id)
    run_sync(family_id)
    (piano,) = live_events(db_session, family_id)
    client.post(f"/calendar/events/{piano.id}/edit", data=form(token_of(client), title="Piano (moved)"))
    state.fail_next(f"/calendar/v3/calendars/{family_calendar}/events", 503, method="PATCH")
    with pytest.raises(ProviderError):
        run_push(piano.id)

    state.delete_calendar(family_calendar)
    assert run_sync(family_id) == {"removed_at_provider": True}

    # Stopped for good: no retry waits, the sweep leaves it out, a second sync adds no second audit row.
    assert Queue("sync", connection=redis).fetch_job(retry_job_id(family_id)) is None
    db_session.execute(update(CalendarConnection).values(last_synced_at=datetime.now(UTC) - timedelta(hours=1)))
    db_session.commit()
    assert work_id in due.due_connections(db_session) and family_id not in due.due_connections(db_session)
    assert due.events_to_push(db_session) == []
    run_sync(family_id)
    (detected,) = audit_rows(db_session, "CALENDAR_REMOVED_AT_PROVIDER")
    assert (detected.resource_id, detected.metadata_["found_by"]) == (str(family_id), "sync")

    # Said plainly where the user looks.
    row = connection_row(client, redis, family_id)
    assert 'data-sync-state="removed"' in row and "Removed at Google" in row and "no longer has this calendar" in row
    assert "Remove from Almanac" in row and "Retrying" not in row and "HTTP 404" not in row and "Disconnect" not in row
    week = client.get(WEEK).get_data(as_text=True)
    assert re.search(rf'data-calendar-id="{family_id}".*?Removed at Google.*?Remove from Almanac', week, re.S)
    assert "Piano (moved)" in week  # still shown, read-only, until the user removes the calendar
    panel = client.get(f"/calendar/events/{piano.id}").get_data(as_text=True)
    assert "Family was removed at Google" in panel and ">Retry</button>" not in panel and "/edit" not in panel

    # Writes are refused up front, with the reason.
    token = token_of(client)
    created = client.post("/calendar/events/new", data=form(token, title="Lesson", calendar_id=str(family_id)))
    assert created.status_code == 422 and "Family was removed at Google" in created.get_data(as_text=True)
    edit = client.post(f"/calendar/events/{piano.id}/edit", data=form(token, title="Again"))
    assert edit.status_code == 403 and "Family was removed at Google" in edit.get_data(as_text=True)
    moved = client.post(f"/calendar/events/{piano.id}/move", headers={"HX-Request": "true", "X-CSRFToken": token},
                        data={"start": f"{START:%Y-%m-%dT%H:%M}",
                              "end": f"{START + timedelta(hours=2):%Y-%m-%dT%H:%M}"})
    toast = json.loads(moved.headers["HX-Trigger"])["toast"]
    assert moved.status_code == 403 and "Family was removed at Google" in toast["message"]
    assert db_session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Lesson")).all() == []
    requests_before = len(state.requests)
    assert run_push(piano.id) == "refused" and len(state.requests) == requests_before
    panel = client.get(f"/calendar/events/{piano.id}").get_data(as_text=True)
    assert "Not saved to Google: the calendar was removed at Google" in panel

    # Removing it: what would be lost first, then gone, audited.
    page = client.get(f"/connections/{family_id}/remove").get_data(as_text=True)
    assert re.search(r'data-change="changed">\s*<span class="change-kind">Changed:</span>\s*<strong>Piano \(moved\)',
                     page)
    response = client.post(f"/connections/{family_id}/remove", data={"csrf_token": csrf_token_from(page),
                                                                     "confirm": "1"})
    assert response.status_code == 303 and response.headers["Location"] == "/connections/"
    assert db_session.get(CalendarConnection, family_id).deleted_at is not None
    assert live_events(db_session, family_id) == []
    (removal,) = audit_rows(db_session, "CONNECTION_REMOVE")
    assert removal.metadata_["removed_at_provider"] and removal.metadata_["discarded_changes"] == 1
    assert connection_row(client, redis, family_id) == ""
    run_sync(work_id)
    assert 'data-sync-state="synced"' in connection_row(client, redis, work_id)


def test_an_event_created_before_the_removal_is_known_fails_with_the_reason_not_a_retry(
        google_two, run_sync, run_push, client, db_session, redis):
    work, family, state = google_two
    run_sync(family.id)
    state.delete_calendar(family.calendar_id)
    event = create_here(client, db_session, family.id, "Lesson")

    assert run_push(event.id) == "calendar_gone"  # returned, not raised: RQ does not retry it

    stored = db_session.get(CalendarEvent, event.id)
    assert stored.sync_status == SyncStatus.FAILED and stored.provider_metadata["push_error"] == "calendar_gone"
    panel = client.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    assert "Not saved to Google: the calendar was removed at Google" in panel
    assert "Removed at Google" in connection_row(client, redis, family.id)
    (detected,) = audit_rows(db_session, "CALENDAR_REMOVED_AT_PROVIDER")
    assert detected.metadata_["found_by"] == "push"
    page = client.get(f"/connections/{family.id}/remove").get_data(as_text=True)
    assert 'data-change="created"' in page and "Lesson" in page


def test_an_unshared_calendar_is_removed_and_check_again_finds_it_when_shared_anew(
        google_two, run_sync, client, db_session, redis):
    work, family, state = google_two
    family_id, family_calendar, email = family.id, family.calendar_id, work.account_email
    run_sync(family_id)  # leaves a sync token, which the unsharing invalidates (410, then 404 in full)
    state.unshare_calendar(family_calendar)

    assert run_sync(family_id) == {"removed_at_provider": True}
    listings = [request for request in state.requests if request.path.endswith("/events")][-2:]
    assert ["syncToken" in request.query for request in listings] == [True, False]
    assert "Removed at Google" in connection_row(client, redis, family_id)

    state.add_calendar(email, family_calendar, "Family")
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    client.post(f"/connections/{family_id}/sync", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert Queue("sync", connection=redis).fetch_job(f"sync-connection-{family_id}") is not None
    run_sync(family_id)

    assert db_session.get(CalendarConnection, family_id).provider_removed_at is None
    assert 'data-sync-state="synced"' in connection_row(client, redis, family_id)
    assert len(audit_rows(db_session, "CALENDAR_BACK_AT_PROVIDER")) == 1


def test_a_calendar_deleted_in_outlook_is_removed_there(client, db_session, user, login, provider_servers, run_sync,
                                                       run_push, redis):
    login(user)
    state = provider_servers.microsoft_state
    email = new_microsoft_account(provider_servers)
    state.add_calendar(email, f"team-{email}", "Team")
    client.get(authorize(start_connect(client, "microsoft"), email))
    team = only_connection(db_session, user, "Team")
    run_sync(team.id)
    event = create_here(client, db_session, team.id, "Retro")
    state.delete_calendar(f"team-{email}")

    assert run_push(event.id) == "calendar_gone"  # Graph: 404 ErrorItemNotFound on the calendar's events
    assert run_sync(team.id) == {"removed_at_provider": True}
    row = connection_row(client, redis, team.id)
    assert "Removed at Microsoft Outlook" in row and "Remove from Almanac" in row
    assert "Not saved to Outlook: the calendar was removed at Outlook" in client.get(
        f"/calendar/events/{event.id}").get_data(as_text=True)


def test_a_calendar_deleted_in_icloud_is_removed_there(apple, run_sync, run_push, client, db_session, redis):
    connection, url = apple
    run_sync(connection.id)
    event = create_here(client, db_session, connection.id, "Choir")
    delete_calendar(*APPLE_USER, url)

    assert run_push(event.id) == "calendar_gone"  # CalDAV: PUT 409 into a collection that answers 404
    assert run_sync(connection.id) == {"removed_at_provider": True}
    assert "Removed at Apple iCloud" in connection_row(client, redis, connection.id)
    assert [row.metadata_["found_by"] for row in audit_rows(db_session, "CALENDAR_REMOVED_AT_PROVIDER")] == ["push"]


def test_a_read_only_calendar_refuses_writes_up_front_and_a_provider_refusal_is_not_retried(
        client, db_session, user, login, provider_servers, run_sync, run_push):
    login(user)
    state = provider_servers.google_state
    email = new_google_account(provider_servers, calendars=(("Work", "#4285f4", True),))
    state.add_calendar(email, f"holidays-{email}", "Holidays", access_role="reader")
    client.get(authorize(start_connect(client), email))
    holidays = only_connection(db_session, user, "Holidays")
    assert not holidays.can_write
    state.add_event(f"holidays-{email}", google_timed("Bank holiday", START))
    run_sync(holidays.id)
    (holiday,) = live_events(db_session, holidays.id)

    token = token_of(client)
    panel = client.get(f"/calendar/events/{holiday.id}").get_data(as_text=True)
    assert "Holidays is shared with you read-only at Google" in panel
    delete = client.post(f"/calendar/events/{holiday.id}/delete", data={"csrf_token": token},
                         headers={"HX-Request": "true"})
    assert delete.status_code == 403 and "read-only at Google" in json.loads(delete.headers["HX-Trigger"])["toast"][
        "message"]
    created = client.post("/calendar/events/new", data=form(token, title="Party", calendar_id=str(holidays.id)))
    assert created.status_code == 422 and "Holidays is shared with you read-only" in created.get_data(as_text=True)
    assert db_session.get(CalendarEvent, holiday.id).deletion_requested_at is None

    # What Almanac knew was stale (the calendar became read-only since): Google's 403 is the reason, once.
    db_session.execute(update(CalendarConnection).where(CalendarConnection.id == holidays.id).values(can_write=True))
    db_session.commit()
    client.post(f"/calendar/events/{holiday.id}/edit", data=form(token_of(client), title="Bank holiday!"))
    assert run_push(holiday.id) == "read_only"
    panel = client.get(f"/calendar/events/{holiday.id}").get_data(as_text=True)
    assert "Not saved to Google: Google does not let this account change it (read-only)." in panel
    assert [row.error_message for row in audit_rows(db_session, "EVENT_PUSH_FAILURE")] == ["read_only"]
