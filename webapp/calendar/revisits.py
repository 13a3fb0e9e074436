"""A calendar page seen again costs almost nothing: its validator (a weak ETag) is built from everything the page
depends on, and a request that names it is answered 304 before a single event is read.

What goes in: the user's change stamp (webapp.changes: moved by every sync that stored something and every write
made here, settings included) and their row's updated_at (moved in the same transactions, so a stamp Redis could not
take is still seen), the login session and its CSRF token (which the page's forms carry), the day it is
in the viewer's zone (today's column, the now line), the URL, the kind of answer (page or partial), and this build
of the app. Without a stamp (Redis away or emptied) or with a message waiting to be shown, the page has no
validator and is drawn every time. The ETag is weak: the page carries the moment it was drawn for the live poll, so
two drawings are equivalent rather than byte for byte the same.
"""
from __future__ import annotations

import functools
import hashlib
import time
from datetime import date

from flask import current_app, g, request, session
from flask_login import current_user
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from webapp import changes
from webapp.config import PROJECT_ROOT
from webapp.extensions import connect_redis

# Browsers keep the page (private) but ask every time (no-cache); logging out clears what they kept
# (Clear-Site-Data), so Back after logging out on a shared computer shows no calendar.
CACHE_CONTROL = "private, no-cache"
_VARY = ("Cookie", "HX-Request", "HX-Target")
# The validator is an optimisation: a Redis that stalls costs a page at most this long, and is left alone for a
# while after (the page is then drawn without a validator, as it would be anyway).
STAMP_TIMEOUT_SECONDS = 0.1
STALL_PAUSE_SECONDS = 30.0


def calendar_etag(today: date, *answer_kind: str) -> str | None:
    """The page's validator, or None when it must be drawn anyway."""
    if request.method != "GET" or session.get("_flashes"):
        return None
    stamp = _stamp()
    if not stamp:
        return None
    login_session = getattr(g, "login_session", None)
    parts = (_build(), stamp, current_user.updated_at.isoformat(), login_session and login_session.id,
             session.get("csrf_token"), today.isoformat(), request.full_path, *answer_kind)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _stamp() -> int:
    extension = current_app.extensions.setdefault("almanac_stamp_reader", {"paused_until": 0.0})
    if time.monotonic() < extension["paused_until"]:
        return 0
    reader: Redis = extension.get("client") or extension.setdefault(
        "client", connect_redis(current_app.config["REDIS_URL"], timeout=STAMP_TIMEOUT_SECONDS))
    try:
        return changes.current(reader, current_user.id)
    except RedisError:
        extension["paused_until"] = time.monotonic() + STALL_PAUSE_SECONDS
        return 0


def not_modified(etag: str | None) -> Response | None:
    """304 when the browser holds the page this validator names."""
    if etag is None or not request.if_none_match.contains_weak(etag):
        return None
    response = Response(status=304)
    mark(response, etag)
    return response


def mark(response: Response, etag: str | None) -> Response:
    if etag is not None:
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = CACHE_CONTROL
        for header in _VARY:
            response.vary.add(header)
    return response


@functools.cache
def _build() -> str:
    """This build of the app: a deployment that changes a template, a script or the code changes every validator."""
    digest = hashlib.sha256()
    for folder in ("webapp", "templates", "static"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix != ".pyc":
                stat = path.stat()
                digest.update(f"{path.relative_to(PROJECT_ROOT)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
