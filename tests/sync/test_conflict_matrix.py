"""Every local change meets every provider change: {create, edit, delete} here × {edit, delete, nothing} at the
provider, with the first push failing and a later one succeeding. Each pair is driven through the pages and the
real jobs against the emulators, and checked by what the user sees and where the provider and our database end up.

A create whose first push failed can only meet a change at the provider when that push got through and only its
answer was lost: those pairs lose the answer instead of getting a 503.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from sandbox.faults import FaultInjector, FaultPlan, ReverseProxy
from sandbox.serve import serve_in_thread
from tests.helpers import (
    APPLE_USER,
    audit_rows,
    csrf_token_from,
    event_form,
    google_timed,
    graph_event,
    ics,
    put_caldav_event,
    soon,
)
from webapp.models import CalendarConnection, CalendarEvent, SyncStatus
from webapp.providers.base import ProviderError

START = soon(days=2, hour=9)  # inside Outlook's calendarView window too
WEEK = f"/calendar/week/{START.date().isoformat()}"
STAMP = f"{START:%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class Pair:
    local: str  # create | edit | delete
    remote: str  # edit | delete | unchanged
    after_sync: tuple[str, ...]  # on the event's panel once a sync has run (empty: the event is gone)
    push: str  # what the push that gets through does
    choice: str | None = None  # the button the user presses in the conflict
    push_after_choice: str | None = None
    final_title: str | None = None  # here and at the provider; None: deleted on both sides

    def __str__(self) -> str:
        return f"{self.local}-here-{self.remote}-there"


# The provider's title as the conflict shows it (provider text sits in <bdi>).
THEIRS_SHOWN = 'conflict-theirs"><bdi>Standup (theirs)</bdi><'

PAIRS = [
    Pair("create", "unchanged", ("Not saved to Google: Google had a temporary problem.",), "created",
         final_title="Standup"),
    Pair("create", "edit", ("Not saved to Google:",), "conflict", choice="Take theirs", push_after_choice="nothing",
         final_title="Standup (theirs)"),
    Pair("create", "delete", ("Not saved to Google:",), "conflict", choice="Keep mine", push_after_choice="created",
         final_title="Standup"),
    Pair("edit", "unchanged", ("Not saved to Google: Google had a temporary problem.",), "updated",
         final_title="Standup (mine)"),
    Pair("edit", "edit", ("changed in Google after you changed it here", THEIRS_SHOWN),
         "held", choice="Keep mine", push_after_choice="updated", final_title="Standup (mine)"),
    Pair("edit", "delete", ("deleted in Google after you changed it here",), "held", choice="Delete it here",
         push_after_choice="nothing"),
    Pair("delete", "unchanged", ("Not deleted from Google: Google had a temporary problem.", ">Retry</button>"),
         "deleted"),
    Pair("delete", "edit", ("changed in Google after you deleted it here", THEIRS_SHOWN,
                            "Your deletion waits until you choose."),
         "held", choice="Keep theirs", push_after_choice="nothing", final_title="Standup (theirs)"),
    Pair("delete", "delete", (), "nothing"),
]


def cards(html: str) -> dict[str, dict]:
    """Title -> {"id", "classes", "mark"} of each event card on a calendar page."""
    found = {}
    for classes, event_id, body in re.findall(r'<a class="event ([^"]*)"[^>]*?data-event-id="([^"]+)"(.*?)</a>',
                                              html, re.S):
        title = re.search(r'class="event-title"[^>]*>([^<]*)<', body).group(1)
        mark = re.search(r'class="sync-mark"[^>]*>([^<]*)<', body)
        found[title] = {"id": event_id, "classes": classes.split(), "mark": mark.group(1) if mark else None}
    return found


def csrf(client) -> str:
    return csrf_token_from(client.get(WEEK).get_data(as_text=True))


def panel(client, event_id) -> tuple[int, str]:
    response = client.get(f"/calendar/events/{event_id}")
    return response.status_code, response.get_data(as_text=True)


def choose(client, event_id, label: str) -> None:
    status, html = panel(client, event_id)
    assert status == 200 and f">{label}</button>" in html, html
    form = re.search(rf'<form[^>]*action="([^"]*/conflict)"(?:(?!</form>).)*value="(mine|theirs)"(?:(?!</form>).)*'
                     rf'>{re.escape(label)}</button>', html, re.S)
    response = client.post(form.group(1), data={"choice": form.group(2), "csrf_token": csrf_token_from(html)})
    assert response.status_code in (302, 303), response.get_data(as_text=True)


def live_rows(db_session, connection_id) -> list[CalendarEvent]:
    db_session.expire_all()
    return list(db_session.scalars(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection_id, CalendarEvent.deleted_at.is_(None))))


def standup_form(token: str, **fields) -> dict:
    """The event form for an hour from START (UTC)."""
    day = START.date().isoformat()
    return event_form(token, start_date=day, end_date=day, start_time=f"{START:%H:%M}",
                      end_time=f"{START + timedelta(hours=1):%H:%M}", **fields)


def change_here(client, db_session, connection_id, local: str) -> uuid.UUID:
    """Create "Standup", rename the synced "Standup" to "Standup (mine)", or delete it, through the pages."""
    token = csrf(client)
    if local == "create":
        response = client.post("/calendar/events/new", data=standup_form(
            token, title="Standup", calendar_id=str(connection_id)))
        assert response.status_code == 303, response.get_data(as_text=True)
        (row,) = live_rows(db_session, connection_id)
        return row.id
    (row,) = live_rows(db_session, connection_id)
    if local == "edit":
        response = client.post(f"/calendar/events/{row.id}/edit", data=standup_form(token, title="Standup (mine)"))
    else:
        response = client.post(f"/calendar/events/{row.id}/delete", data={"csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    return row.id


@pytest.mark.parametrize("pair", PAIRS, ids=str)
def test_every_local_change_meets_every_provider_change(pair, google, run_sync, run_push, client, db_session,
                                                        provider_servers):
    connection, calendar_id, state = google
    connection_id = connection.id
    if pair.local != "create":
        state.add_event(calendar_id, google_timed("Standup", START))
    run_sync(connection_id)
    event_id = change_here(client, db_session, connection_id, pair.local)
    provider_id = db_session.get(CalendarEvent, event_id).provider_event_id
    events_url = f"/calendar/v3/calendars/{calendar_id}/events"

    # The first push fails.
    if pair.local == "create" and pair.remote != "unchanged":
        provider_servers.google_faults.add("lost", "/calendar/v3/calendars/", method="POST")
    else:
        state.fail_next(events_url, 503, method={"create": "POST", "edit": "PATCH", "delete": "DELETE"}[pair.local])
    with pytest.raises(ProviderError):
        run_push(event_id)
    week = cards(client.get(WEEK).get_data(as_text=True))
    title = "Standup (mine)" if pair.local == "edit" else "Standup"
    if pair.local == "delete":
        assert "is-deleting" in week[title]["classes"] and week[title]["mark"] == "Not deleted"
    else:
        assert "is-deleting" not in week[title]["classes"] and week[title]["mark"] == "Not saved"

    # The provider's side changes; a sync brings it.
    if pair.remote == "edit":
        state.update_event(calendar_id, provider_id, {"summary": "Standup (theirs)"})
    elif pair.remote == "delete":
        state.delete_event(calendar_id, provider_id)
    run_sync(connection_id)
    status, html = panel(client, event_id)
    if pair.after_sync:
        assert status == 200
        for text in pair.after_sync:
            assert text in html, text
    else:
        assert status == 404 and cards(client.get(WEEK).get_data(as_text=True)) == {}

    # A push gets through; a conflict waits for the user's choice, then that is pushed.
    assert run_push(event_id) == pair.push
    if pair.choice:
        choose(client, event_id, pair.choice)
        assert run_push(event_id) == pair.push_after_choice
    assert run_push(event_id) == "nothing"

    # Where everything ends: the page, our rows, the provider.
    week = cards(client.get(WEEK).get_data(as_text=True))
    at_google = [event for event in state.stored_events(calendar_id) if event["status"] != "cancelled"]
    rows = live_rows(db_session, connection_id)
    if pair.final_title is None:
        assert week == {} and rows == [] and at_google == []
        gone = db_session.get(CalendarEvent, event_id)
        assert gone.sync_status == SyncStatus.DELETED and gone.deletion_requested_at is None
    else:
        assert list(week) == [pair.final_title] and week[pair.final_title]["mark"] is None
        assert "is-deleting" not in week[pair.final_title]["classes"]
        (row,) = rows
        assert (row.id, row.title, row.sync_status, row.deletion_requested_at) == (
            event_id, pair.final_title, SyncStatus.SYNCED, None)
        assert [(event["id"], event["summary"]) for event in at_google] == [(row.provider_event_id,
                                                                            pair.final_title)]
    assert bool(audit_rows(db_session, "EVENT_SYNC_CONFLICT")) == bool(pair.choice)


def test_delete_anyway_deletes_the_event_their_edit_kept(google, run_sync, run_push, client, db_session):
    connection, calendar_id, state = google
    remote = state.add_event(calendar_id, google_timed("Standup", START))
    run_sync(connection.id)
    event_id = change_here(client, db_session, connection.id, "delete")
    state.fail_next(f"/calendar/v3/calendars/{calendar_id}/events", 503, method="DELETE")
    with pytest.raises(ProviderError):
        run_push(event_id)
    state.update_event(calendar_id, remote["id"], {"summary": "Standup (theirs)"})
    run_sync(connection.id)

    choose(client, event_id, "Delete anyway")
    assert run_push(event_id) == "deleted"

    assert [event["status"] for event in state.stored_events(calendar_id)] == ["cancelled"]
    assert live_rows(db_session, connection.id) == [] and cards(client.get(WEEK).get_data(as_text=True)) == {}
    resolved = audit_rows(db_session, "EVENT_SYNC_CONFLICT_RESOLVED")
    assert [row.metadata_["choice"] for row in resolved] == ["keep_mine"]


def test_a_deleted_series_shows_every_instance_being_deleted_until_google_confirms(google, run_sync, run_push,
                                                                                   client, db_session):
    connection, calendar_id, state = google
    state.add_event(calendar_id, {**google_timed("Yoga", START), "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]})
    run_sync(connection.id)
    (series,) = live_rows(db_session, connection.id)
    token = csrf(client)
    client.post(f"/calendar/events/{series.id}/delete", data={"csrf_token": token, "scope": "all"})
    state.fail_next(f"/calendar/v3/calendars/{calendar_id}/events", 503, method="DELETE")
    with pytest.raises(ProviderError):
        run_push(series.id)

    html = client.get(WEEK).get_data(as_text=True)
    marks = re.findall(r'<a class="event [^"]*is-deleting[^"]*".*?class="sync-mark"[^>]*>([^<]*)<', html, re.S)
    assert marks == ["Not deleted"] * 3
    assert run_push(series.id) == "deleted"
    assert "data-event-id" not in client.get(WEEK).get_data(as_text=True)
    assert [event["status"] for event in state.stored_events(calendar_id)] == ["cancelled"]


def test_outlook_delete_here_edit_there_is_offered_and_keep_theirs_keeps_it(microsoft, run_sync, run_push, client,
                                                                          db_session):
    connection, calendar_id, state = microsoft
    remote_id = state.add_event(calendar_id, graph_event("Standup", START))
    run_sync(connection.id)
    event_id = change_here(client, db_session, connection.id, "delete")
    state.fail_next("/v1.0/me/events/", 503)
    with pytest.raises(ProviderError):
        run_push(event_id)
    status, html = panel(client, event_id)
    assert status == 200 and "Not deleted from Outlook:" in html

    state.update_event(remote_id, {"subject": "Standup (theirs)"})
    run_sync(connection.id)
    status, html = panel(client, event_id)
    assert status == 200 and "changed in Microsoft Outlook after you deleted it here" in html
    assert ">Delete anyway</button>" in html and ">Keep theirs</button>" in html
    assert run_push(event_id) == "held"
    choose(client, event_id, "Keep theirs")
    assert run_push(event_id) == "nothing"

    assert list(cards(client.get(WEEK).get_data(as_text=True))) == ["Standup (theirs)"]
    (row,) = live_rows(db_session, connection.id)
    assert (row.title, row.sync_status, row.deletion_requested_at) == ("Standup (theirs)", SyncStatus.SYNCED, None)
    assert [event["subject"] for event in state.list_events(calendar_id)] == ["Standup (theirs)"]


def test_outlook_edit_here_delete_there_then_delete_anyway_here(microsoft, run_sync, run_push, client, db_session):
    connection, calendar_id, state = microsoft
    remote_id = state.add_event(calendar_id, graph_event("Standup", START))
    run_sync(connection.id)
    event_id = change_here(client, db_session, connection.id, "delete")
    state.fail_next("/v1.0/me/events/", 503)
    with pytest.raises(ProviderError):
        run_push(event_id)
    state.delete_event(remote_id)
    run_sync(connection.id)  # deleted on both sides: confirmed, no conflict

    assert panel(client, event_id)[0] == 404 and live_rows(db_session, connection.id) == []
    assert run_push(event_id) == "nothing" and state.list_events(calendar_id) == []
    assert audit_rows(db_session, "EVENT_SYNC_CONFLICT") == []


@pytest.fixture
def caldav_faults(apple, db_session, provider_servers):
    """The test's CalDAV calendar reached through a fault-injecting proxy in front of Radicale."""
    connection, url = apple
    plan = FaultPlan()
    proxy = serve_in_thread(FaultInjector(ReverseProxy(provider_servers.radicale.url), plan))
    stored = db_session.get(CalendarConnection, connection.id)
    stored.calendar_id = proxy.url + urlsplit(url).path
    db_session.commit()
    yield connection, url, plan
    proxy.stop()


def test_icloud_delete_here_edit_there_is_offered_and_delete_anyway_deletes(caldav_faults, provider_servers, run_sync,
                                                                         run_push, client, db_session):
    connection, url, faults = caldav_faults
    end = f"{START + timedelta(hours=1):%Y%m%dT%H%M%SZ}"
    body = ics("BEGIN:VEVENT", "UID:standup-1", "DTSTAMP:20240301T000000Z", f"DTSTART:{STAMP}", f"DTEND:{end}",
               "SUMMARY:Standup", "END:VEVENT")
    put_caldav_event(provider_servers, url, "standup.ics", body)
    run_sync(connection.id)
    event_id = change_here(client, db_session, connection.id, "delete")
    faults.add("status", "/", method="DELETE", status=503)
    with pytest.raises(ProviderError):
        run_push(event_id)

    put_caldav_event(provider_servers, url, "standup.ics", body.replace("SUMMARY:Standup", "SUMMARY:Standup (theirs)"))
    run_sync(connection.id)
    status, html = panel(client, event_id)
    assert status == 200 and "changed in Apple iCloud after you deleted it here" in html
    assert "is-deleting" in html and THEIRS_SHOWN in html
    choose(client, event_id, "Delete anyway")
    assert run_push(event_id) == "deleted"

    run_sync(connection.id)
    assert live_rows(db_session, connection.id) == [] and cards(client.get(WEEK).get_data(as_text=True)) == {}
    assert requests.get(url + "standup.ics", auth=APPLE_USER, timeout=10).status_code == 404
