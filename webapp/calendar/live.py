"""What a calendar page needs to keep itself current (static/calendar.js): when it was drawn, as a change stamp
(webapp.changes stamps are times in milliseconds), and where to ask. Drawing the page queues nothing (it reads the
stamp only for its validator, webapp.calendar.revisits): the page itself says it is being looked at (POST
/live/viewed, which syncs calendars over a minute old)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, url_for


@dataclass(frozen=True)
class LiveState:
    stamp: int  # taken before the page's queries: any change committed after them has a later stamp
    poll_url: str
    viewed_url: str
    poll_ms: int


def live_state() -> LiveState:
    return LiveState(time.time_ns() // 1_000_000, url_for("live.stamp"), url_for("live.viewed"),
                     int(current_app.config["LIVE_POLL_SECONDS"] * 1000))
