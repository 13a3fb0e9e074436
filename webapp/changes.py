"""Per-user change stamps: one number in Redis per user that moves forward whenever something the user's calendar
pages show has changed (a sync that stored changes, a write made here, a calendar added, hidden or removed).

The stamp is milliseconds since the epoch of the last change, kept strictly increasing, so it also reads as a
Last-Modified time: open calendar tabs ask whether it is later than the moment their page was drawn (webapp.live),
and an HTTP cache can use it as a validator (equal stamps: nothing shown has changed since). The processes that
bump it and draw pages must share a clock (one host, or NTP).

Domain code says what changed with `note_change(session, user_id)`; the stamp moves only once that transaction is
committed (a reader that sees the new stamp finds the new rows), and not at all when it rolls back. A stamp that
cannot be written (Redis away) is logged: tabs then notice the change on their next page load instead, as the
user's row (users.updated_at) moves in the same transaction (`_touch_users`) and page validators include it.
Rows changed through the ORM note themselves (`install`): an event, an exemption, a user's settings, or what the
calendar list shows of a calendar; bulk statements and COPY (the sync's upserts) say so with note_change.
Bookkeeping (a calendar's sync token or last sync time) moves nothing, so a sync that found nothing leaves every
page's validator as it was.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from flask import has_app_context
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session

from webapp.models import CalendarConnection, CalendarEvent, OverlapExemption, User
from webapp.transactions import after_commit, transaction_state

log = logging.getLogger(__name__)

KEY = "changes:user:{}"
# Long enough that a tab left open over a holiday still compares against the same stamp.
TTL_SECONDS = 40 * 86400
_PENDING = "almanac_changed_users"
# max(previous + 1, now): strictly increasing even when two processes bump in the same millisecond.
_BUMP = """
local stamp = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], stamp, 'EX', ARGV[2])
return stamp
"""


# What calendar pages show of a calendar (webapp.calendar.queries reads these): a change to any other column of
# calendar_connections (tokens, sync state) changes nothing on a page.
SHOWN_CALENDAR_COLUMNS = ("calendar_name", "calendar_color", "provider", "is_visible", "is_connected", "can_write",
                          "provider_removed_at", "account_email", "is_primary", "deleted_at")
# The settings calendar pages are drawn with (not the password, sign-in state or where new events go).
SHOWN_USER_COLUMNS = ("first_name", "last_name", "time_zone", "week_start", "work_day_start", "work_day_end",
                      "mark_double_bookings", "clock_24h")


def key(user_id: uuid.UUID | str) -> str:
    return KEY.format(user_id)


def note_change(session: Session, user_id: uuid.UUID | str | None) -> None:
    """Something this user's calendar pages show changes in this transaction: bump their stamp once it commits."""
    if user_id is None:
        return
    state = transaction_state(session)
    if _PENDING not in state:
        pending = state[_PENDING] = set()
        after_commit(session, lambda: _bump_after_commit(pending))
    state[_PENDING].add(str(user_id))


def bump(redis: Redis, user_ids: Iterable[uuid.UUID | str], now_ms: int | None = None) -> dict[str, int]:
    """Move the users' stamps forward now; returns the new stamps."""
    now_ms = now_ms or time.time_ns() // 1_000_000
    ids = [str(user_id) for user_id in user_ids]
    script = redis.register_script(_BUMP)
    with redis.pipeline(transaction=False) as pipeline:
        for user_id in ids:
            script(keys=[key(user_id)], args=[now_ms, TTL_SECONDS], client=pipeline)
        return dict(zip(ids, (int(stamp) for stamp in pipeline.execute()), strict=True))


def current(redis: Redis, user_id: uuid.UUID | str) -> int:
    """The user's stamp; 0 when none is known (nothing changed yet, or Redis was emptied since): a validator built
    on it must then treat the page as changed."""
    stamp = redis.get(key(user_id))
    return int(stamp) if stamp is not None else 0


def _bump_after_commit(user_ids: set[str]) -> None:
    if not user_ids:
        return
    if not has_app_context():
        log.warning("change stamps not bumped outside an app context users=%s", len(user_ids))
        return
    from webapp.extensions import redis_client

    try:
        bump(redis_client(), user_ids)
    except RedisError as error:
        log.warning("could not bump change stamps users=%s error=%s", len(user_ids), type(error).__name__)


def install() -> None:
    """Once per process: every Session notes the owners of the shown rows it flushes, and touches their user rows
    as it commits; safe to call again."""
    if not event.contains(Session, "after_flush", _note_flushed_rows):
        event.listen(Session, "after_flush", _note_flushed_rows)
        event.listen(Session, "before_commit", _touch_users)


def _touch_users(session: Session) -> None:
    """The users' rows move in the transaction that changed what they see (their trigger sets updated_at), so a
    page validator built on them too (webapp.calendar.revisits) never outlives a change whose stamp Redis could not
    take. Last thing before the commit, after the final flush: a transaction takes the user's row lock after every
    event row it writes, whatever it is (a sync, an edit), so two of them never wait on each other in a circle."""
    session.flush()
    pending = transaction_state(session).get(_PENDING)
    if pending:
        users = User.__table__
        session.connection().execute(update(users).where(users.c.id.in_(sorted(uuid.UUID(user_id)
                                                                                for user_id in pending)))
                                     .values(updated_at=func.now()))


def _note_flushed_rows(session: Session, _flush_context) -> None:
    owners: set = set()
    calendar_ids: set = set()
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, CalendarEvent):
            if row in session.dirty and not session.is_modified(row):
                continue
            calendar_ids.add(row.calendar_connection_id)
        elif isinstance(row, OverlapExemption):
            owners.add(row.user_id)
        elif isinstance(row, User) and row in session.dirty and _changed(row, SHOWN_USER_COLUMNS):
            owners.add(row.id)
        elif isinstance(row, CalendarConnection) and (row not in session.dirty or
                                                      _changed(row, SHOWN_CALENDAR_COLUMNS)):
            owners.add(row.user_id)
    if calendar_ids:
        owners.update(session.connection().scalars(
            select(CalendarConnection.user_id).where(CalendarConnection.id.in_(calendar_ids))))
    for user_id in owners:
        note_change(session, user_id)


def _changed(row, columns: tuple[str, ...]) -> bool:
    attributes = inspect(row).attrs
    return any(attributes[name].history.has_changes() for name in columns)
