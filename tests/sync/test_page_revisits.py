"""A revisited calendar page is answered 304 without reading events, and only while nothing it shows has changed:
after a change through any path (a sync, an edit, a move, a deletion, a conflict resolved, a setting, a colour) the
old validator is never answered 304 again."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import csrf_token_from, event_form, google_timed, live_events, sent_statements, soon
from webapp import changes
from webapp.extensions import db
from webapp.models import CalendarEvent


@pytest.fixture
def week_url():
    return f"/calendar/week/{datetime.now(UTC).date().isoformat()}"


def post(client, url, data):
    """As htmx posts (the answer is a toast, not a message waiting for the next page)."""
    return client.post(url, data=data, headers={"HX-Request": "true"})


def revisit(client, url, etag, **headers):
    return client.get(url, headers={"If-None-Match": etag, **headers})


def fresh_etag(client, url, old_etag, **headers) -> str:
    """The old validator is answered with the page itself, under a new validator that is then answered 304."""
    again = revisit(client, url, old_etag, **headers)
    assert again.status_code == 200 and again.headers["ETag"] != old_etag
    new_etag = again.headers["ETag"]
    assert revisit(client, url, new_etag, **headers).status_code == 304
    return new_etag


def test_a_revisit_is_304_without_reading_events_and_every_change_gives_a_new_validator(
        app, google, run_sync, run_push, db_session, client, login, user, week_url):
    connection, calendar_id, state = google
    connection_id = connection.id
    remote = state.add_event(calendar_id, google_timed("Planning", soon(days=1)))
    run_sync(connection_id)
    assert "Connected" in client.get(week_url).get_data(as_text=True)  # a page with a message is not revalidated

    first = client.get(week_url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "Planning" in first.get_data(as_text=True)
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"
    with app.app_context():
        engine = db.engine
    with sent_statements(engine) as sent:
        assert revisit(client, week_url, etag).status_code == 304
    assert sent and not any("calendar_events" in statement for statement, _ in sent), sent
    partial = client.get(week_url, headers={"HX-Request": "true"})
    assert partial.headers["ETag"] != etag  # the page and its partial are different answers

    state.add_event(calendar_id, google_timed("Added at Google", soon(days=2)))
    run_sync(connection_id)  # a sync that stored something
    etag = fresh_etag(client, week_url, etag)
    run_sync(connection_id)  # one that found nothing changes nothing
    assert revisit(client, week_url, etag).status_code == 304

    row = next(row for row in live_events(db_session, connection_id) if row.title == "Planning")
    csrf = csrf_token_from(client.get(week_url).get_data(as_text=True))
    start = row.start_time.astimezone(UTC)
    post(client, f"/calendar/events/{row.id}/edit", event_form(
        csrf, title="Planning (edited)", start_date=start.date().isoformat(), start_time=f"{start:%H:%M}",
        end_date=start.date().isoformat(), end_time=f"{start + timedelta(hours=1):%H:%M}"))
    etag = fresh_etag(client, week_url, etag)

    moved = start + timedelta(hours=2)
    post(client, f"/calendar/events/{row.id}/move", {
        "csrf_token": csrf, "start": f"{moved:%Y-%m-%dT%H:%M}", "end": f"{moved + timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "view": "week"})
    etag = fresh_etag(client, week_url, etag)
    assert run_push(row.id) == "updated"
    etag = fresh_etag(client, week_url, etag)  # "Saving…" became saved

    state.update_event(calendar_id, remote["id"], {"summary": "Planning (theirs)"})
    post(client, f"/calendar/events/{row.id}/edit", event_form(  # not pushed yet when their change arrives
        csrf, title="Planning (mine)", start_date=moved.date().isoformat(), start_time=f"{moved:%H:%M}",
        end_date=moved.date().isoformat(), end_time=f"{moved + timedelta(hours=1):%H:%M}"))
    etag = fresh_etag(client, week_url, etag)
    run_sync(connection_id)  # the conflict
    assert "conflict" in db_session.get(CalendarEvent, row.id).provider_metadata
    post(client, f"/connections/events/{row.id}/conflict", {"choice": "theirs", "csrf_token": csrf})
    etag = fresh_etag(client, week_url, etag)

    post(client, f"/connections/{connection_id}/color", {"color": "#8e24aa", "csrf_token": csrf})
    etag = fresh_etag(client, week_url, etag)

    saved = post(client, "/settings/profile", {"csrf_token": csrf, "first_name": "Ada", "last_name": "Lovelace",
                                               "time_zone": "Europe/Paris", "week_start": "1", "clock": "12",
                                               "work_day_start": "08:00", "work_day_end": "18:00"})
    assert saved.status_code in (200, 303), saved.get_data(as_text=True)[-500:]
    etag = fresh_etag(client, week_url, etag)

    post(client, f"/calendar/events/{row.id}/delete", {"csrf_token": csrf, "view": "week"})
    page = client.get(week_url)
    assert page.status_code == 200 and page.headers["ETag"] != etag
    assert "Deleting…" in page.get_data(as_text=True)
    etag = page.headers["ETag"]

    csrf = csrf_token_from(page.get_data(as_text=True))
    client.post("/logout", data={"csrf_token": csrf})
    assert revisit(client, week_url, etag).status_code == 302  # signed out: to the sign-in page, not a 304


def test_a_page_is_drawn_every_time_while_no_stamp_is_known(app, client, login, user, redis, week_url):
    login(user)
    client.get(week_url)  # the sign-in's message, shown once
    assert "ETag" not in client.get(week_url).headers  # nothing changed yet: no stamp, no validator
    redis.set(changes.key(user.id), 1)
    etag = client.get(week_url).headers["ETag"]
    assert revisit(client, week_url, etag).status_code == 304
    redis.flushdb()  # Redis emptied: what changed since cannot be known
    unknown = revisit(client, week_url, etag)
    assert unknown.status_code == 200 and "ETag" not in unknown.headers
