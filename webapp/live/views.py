"""The change-stamp poll of open calendar tabs, and "this tab is in front again".

The poll is the one request an idle tab makes, every LIVE_POLL_SECONDS while it is visible (none while hidden), so
it is answered from Redis: the session cookie is checked against PostgreSQL once a minute at most (the answer is
kept in Redis for SESSION_CHECK_SECONDS), then it is one round trip for the stamp and the tab's presence. Nothing
waits: the request holds a gunicorn thread for about a millisecond, so idle tabs cannot use up the threads.
"""
from __future__ import annotations

import hashlib

from flask import current_app, g, make_response, request
from flask_login import current_user, login_required

from webapp import changes
from webapp.auth.sessions import load_session, login_cookie_name
from webapp.extensions import db, redis_client
from webapp.live import bp
from webapp.sync import viewing

SESSION_KEY = "live:session:{}"
# How long a signed-out (or revoked) session may still read its stamp: a number that says only "something
# changed", never what.
SESSION_CHECK_SECONDS = 60


def _user_of_cookie() -> str | None:
    token = request.cookies.get(login_cookie_name())
    if not token:
        return None
    redis = redis_client()
    key = SESSION_KEY.format(hashlib.sha256(token.encode()).hexdigest())
    cached = redis.get(key)
    if cached is not None:
        return cached.decode()
    found = load_session(db.session, token, idle_days=current_app.config["SESSION_IDLE_DAYS"])
    user_id = str(found[0].user_id) if found is not None else None
    db.session.rollback()  # a poll is not activity: last_seen_at stays as the pages left it
    if user_id is not None:  # only sessions that exist are remembered: made-up cookies cannot fill Redis
        redis.set(key, user_id, ex=SESSION_CHECK_SECONDS)
    return user_id


@bp.get("/stamp")
def stamp():
    """204 while nothing changed after `since` (a stamp, or the time the page was drawn: stamps are milliseconds
    since the epoch); else 200 with the stamp. 401 once the session has ended."""
    g.quiet_request = True  # logged at DEBUG: one line per tab every few seconds would drown the log
    user_id = _user_of_cookie()
    if user_id is None:
        response = make_response("", 401)
    else:
        redis = redis_client()
        with redis.pipeline(transaction=False) as pipeline:
            pipeline.get(changes.key(user_id))
            viewing.note_open_tab(redis, user_id, pipeline)
            value = pipeline.execute()[0]
        current = int(value) if value is not None else 0
        since = request.args.get("since", "")
        changed = not since.isdigit() or current > int(since)
        response = make_response(str(current), 200) if changed else make_response("", 204)
        response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/viewed")
@login_required
def viewed():
    """A calendar tab came back to the front: sync its calendars if they are over a minute old."""
    viewing.sync_on_view(db.session, redis_client(), current_user.id)
    return "", 204
