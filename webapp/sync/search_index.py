"""The search index (event_search, migration 0025) beside the events: kept at once by triggers, except where a sync
stores a large page, whose vectors are computed right after the sync instead of one by one inside its insert.

A sync stores such a page inside `deferred(session)`: the triggers then only list its events in
event_search_pending. `index_pending` computes the listed vectors in committed batches, inline after a small
sync or in a follow-up job (jobs.sync.index_search) after a large one; the sweep catches up on any a lost job
left behind.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

# Vectors computed per transaction: a few seconds of work at most, and few rows locked at a time.
INDEX_BATCH = 2000

_DEFER = text("SELECT set_config('almanac.defer_search', :value, true)")
# The batch's events are locked (FOR SHARE) while their vectors are computed: an edit of one waits the moment it
# takes, then writes its own newer vector after ours, never before. Events a writer holds are skipped (SKIP LOCKED:
# never a wait on a sync's transaction, which may be about to list the same event again) and stay listed for the
# next call; so are entries another indexer holds.
_INDEX = """
    WITH current AS (
        SELECT e.id, e.calendar_connection_id, e.title, e.location, e.attendees, e.description
        FROM event_search_pending p JOIN calendar_events e ON e.id = p.event_id
        {where}
        LIMIT :batch
        FOR UPDATE OF p SKIP LOCKED FOR SHARE OF e SKIP LOCKED
    ), listed AS (
        DELETE FROM event_search_pending WHERE event_id IN (SELECT id FROM current) RETURNING event_id
    ), written AS (
        INSERT INTO event_search (event_id, calendar_connection_id, search_vector)
        SELECT id, calendar_connection_id, almanac_event_search_vector(title, location, attendees, description)
        FROM current
        ON CONFLICT (event_id) DO UPDATE
        SET calendar_connection_id = excluded.calendar_connection_id, search_vector = excluded.search_vector
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM listed), (SELECT count(*) FROM written)
"""
_INDEX_ONE = text(_INDEX.format(where="WHERE p.calendar_connection_id = :connection_id"))
_INDEX_ANY = text(_INDEX.format(where=""))
# Entries whose event was deleted outright (the list has no foreign key): only the sweep's call looks for them.
_FORGET_GONE = text("""
    DELETE FROM event_search_pending p WHERE NOT EXISTS (SELECT 1 FROM calendar_events e WHERE e.id = p.event_id)
""")
_PENDING = text("""
    SELECT count(*) FROM (
        SELECT 1 FROM event_search_pending WHERE calendar_connection_id = :connection_id LIMIT :cap) AS listed
""")


@contextmanager
def deferred(session: Session) -> Iterator[None]:
    """Events written inside the block are listed for `index_pending` instead of indexed at once. The setting is
    the transaction's (it ends with it at the latest)."""
    session.execute(_DEFER, {"value": "on"})
    yield
    session.execute(_DEFER, {"value": "off"})


def pending_count(session: Session, connection_id: uuid.UUID, cap: int) -> int:
    """How many of the calendar's events wait for their vector, counting no further than `cap`."""
    return session.scalar(_PENDING, {"connection_id": connection_id, "cap": cap})


def index_pending(session: Session, connection_id: uuid.UUID | None = None, *, batch: int = INDEX_BATCH,
                  limit: int | None = None) -> int:
    """Compute the waiting vectors of one calendar (or of every calendar), committing each batch; returns how many
    events were indexed. `limit` bounds the work of one call (roughly: whole batches). An event a writer holds
    at that moment stays listed for the next call."""
    indexed = 0
    if connection_id is None:
        session.execute(_FORGET_GONE)
    while limit is None or indexed < limit:
        statement = _INDEX_ANY if connection_id is None else _INDEX_ONE
        listed, written = session.execute(statement, {"connection_id": connection_id, "batch": batch}).one()
        session.commit()
        indexed += written
        if listed < batch:
            break
    return indexed
