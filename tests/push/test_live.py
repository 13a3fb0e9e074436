"""What keeps an open tab current without a reload: the per-user change stamp (moved after a commit, never by a
rollback), its poll (answered from Redis: 204 while unchanged), syncs when a calendar page is opened or comes back
(at most once a minute per calendar), and the minute's check of CalDAV calendars while a tab is open."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rq import Queue

from tests.factories import make_connection, make_user
from tests.helpers import csrf_token_from, sent_statements
from webapp import changes
from webapp.extensions import db
from webapp.models import CalendarProvider
from webapp.sync import viewing

AGO = {"fresh": timedelta(seconds=10), "stale": timedelta(minutes=3)}


def page_stamp(html: str) -> str:
    return re.search(r'data-live-stamp="(\d+)"', html).group(1)


def live_jobs(redis) -> list[str]:
    return Queue("live", connection=redis).job_ids


def synced(db_session, user, ago: str, **values):
    return make_connection(db_session, user, last_synced_at=datetime.now(UTC) - AGO[ago], **values)


def test_the_poll_answers_204_until_a_change_is_committed(app, signed_in, db_session, user, redis):
    calendar = synced(db_session, user, "fresh")
    html = signed_in.get("/calendar/week/2026-12-07").get_data(as_text=True)
    stamp = page_stamp(html)  # when the page was drawn: nothing changed after it yet

    unchanged = signed_in.get(f"/live/stamp?since={stamp}")
    assert unchanged.status_code == 204 and unchanged.headers["Cache-Control"] == "no-store"

    token = csrf_token_from(html)
    signed_in.post("/calendar/events/new", data={
        "csrf_token": token, "title": "Made in another tab", "calendar_id": str(calendar.id),
        "start_date": "2026-12-08", "start_time": "10:00", "end_date": "2026-12-08", "end_time": "11:00",
        "time_zone": "UTC", "view": "week"})
    moved = signed_in.get(f"/live/stamp?since={stamp}")
    assert moved.status_code == 200 and int(moved.get_data(as_text=True)) > int(stamp)
    assert moved.mimetype == "text/plain"


def test_a_poll_costs_no_query_while_the_session_check_is_cached(app, signed_in, db_session, user, redis):
    stamp = page_stamp(signed_in.get("/calendar/week/2026-12-07").get_data(as_text=True))
    signed_in.get(f"/live/stamp?since={stamp}")  # the first poll checks the session in PostgreSQL
    with app.app_context():
        engine = db.engine
    with sent_statements(engine) as sent:
        for _ in range(5):
            assert signed_in.get(f"/live/stamp?since={stamp}").status_code == 204
    assert sent == []


def test_signed_out_tabs_are_told_to_stop(app, client, signed_in, redis):
    assert client.application.test_client().get("/live/stamp?since=1").status_code == 401
    token = csrf_token_from(signed_in.get("/calendar/week/2026-12-07").get_data(as_text=True))
    signed_in.post("/logout", data={"csrf_token": token})
    redis.flushdb()  # the cached session check expires within a minute; here at once
    assert signed_in.get("/live/stamp?since=1").status_code == 401


def test_the_stamp_moves_after_the_commit_and_not_for_a_rollback(app, db_session, user, redis):
    with app.app_context():
        before = changes.current(redis, user.id)
        make_connection(db_session, user, commit=False)
        changes.note_change(db_session, user.id)
        assert changes.current(redis, user.id) == before  # not before the commit
        db_session.commit()
        after = changes.current(redis, user.id)
        assert after > before
        make_connection(db_session, user, commit=False)
        changes.note_change(db_session, user.id)
        db_session.rollback()
        user.password_hash = "changed"  # a later commit of nothing a page shows does not bump what was rolled back
        db_session.commit()
        assert changes.current(redis, user.id) == after


def test_looking_at_the_calendar_syncs_its_shown_calendars_over_a_minute_old_once_a_minute(
        signed_in, db_session, user, redis):
    """The page says it is looked at when it opens and when it comes back to the front (static/calendar.js)."""
    stale = synced(db_session, user, "stale")
    synced(db_session, user, "fresh")
    synced(db_session, user, "stale", is_visible=False)
    synced(db_session, user, "stale", sync_failures=2, next_attempt_at=datetime.now(UTC) + timedelta(minutes=1))
    html = signed_in.get("/calendar/week/2026-12-07").get_data(as_text=True)
    assert live_jobs(redis) == []  # drawing the page queues nothing and does not touch Redis
    token = csrf_token_from(html)

    assert signed_in.post("/live/viewed", headers={"X-CSRFToken": token}).status_code == 204
    assert live_jobs(redis) == [f"sync-connection-{stale.id}"]
    Queue("live", connection=redis).empty()
    assert signed_in.post("/live/viewed", headers={"X-CSRFToken": token}).status_code == 204
    assert live_jobs(redis) == []  # once a minute per calendar
    assert signed_in.post("/live/viewed").status_code == 400  # CSRF, as every other form


def test_caldav_calendars_are_checked_every_minute_while_a_tab_is_open(app, db_session, user, redis):
    apple = synced(db_session, user, "stale", provider=CalendarProvider.APPLE)
    synced(db_session, user, "stale", provider=CalendarProvider.GOOGLE)
    synced(db_session, user, "fresh", provider=CalendarProvider.APPLE)
    elsewhere = make_user(db_session)
    synced(db_session, elsewhere, "stale", provider=CalendarProvider.APPLE)
    with app.app_context():
        assert viewing.check_open_caldav(db_session, redis) == []  # nobody has a tab open
        viewing.note_open_tab(redis, user.id)
        assert viewing.check_open_caldav(db_session, redis) == [apple.id]
        assert live_jobs(redis) == [f"sync-connection-{apple.id}"]
        later = datetime.now(UTC) + timedelta(seconds=viewing.OPEN_FOR_SECONDS + 1)
        assert viewing.check_open_caldav(db_session, redis, now=later) == []  # the tab went quiet
