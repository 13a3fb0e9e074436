"""What a calendar page needs to keep itself current (static/calendar.js): the user's change stamp as the page was
drawn, and where to poll. Drawing the page also counts as looking: calendars last synced over a minute ago are
synced (webapp.sync.viewing)."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from flask import current_app, url_for
from redis.exceptions import RedisError

from webapp import changes
from webapp.extensions import db, redis_client
from webapp.sync import viewing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveState:
    stamp: int | None  # None: Redis is away; the page then does not poll
    poll_url: str
    viewed_url: str
    poll_ms: int


def live_state(user_id: uuid.UUID, *, someone_looked: bool = True) -> LiveState:
    """`someone_looked`: False when the open tab redraws itself after a change (that is not someone looking)."""
    redis = redis_client()
    try:
        stamp = changes.current(redis, user_id)
        if someone_looked:
            viewing.sync_on_view(db.session, redis, user_id)
    except RedisError as error:
        log.warning("live updates unavailable for this page error=%s", type(error).__name__)
        stamp = None
    return LiveState(stamp, url_for("live.stamp"), url_for("live.viewed"),
                     int(current_app.config["LIVE_POLL_SECONDS"] * 1000))
