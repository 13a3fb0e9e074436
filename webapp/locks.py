"""Mutual exclusion that never holds a row lock or a transaction: PostgreSQL session-level advisory locks.

Each lock lives on a connection of its own in autocommit mode, so holding it keeps no transaction open while
the holder waits on a provider; a process that dies (SIGKILL included) loses its connection and with it the
lock, at once, with no timeout to guess. Keys are strings hashed to PostgreSQL's 64-bit lock space.
"""
from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from webapp.extensions import db

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


def sync_lock_key(connection_id: uuid.UUID | str) -> str:
    return f"sync:connection:{connection_id}"


@contextlib.contextmanager
def advisory_lock(key: str, *, wait: float = 0) -> Iterator[bool]:
    """Hold the lock named `key` for the block; yields False when another holder kept it for `wait` seconds."""
    connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    held = False
    try:
        deadline = time.monotonic() + wait
        while True:
            held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"),
                                          {"key": key}))
            if held or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        yield held
    finally:
        try:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": key})
        except Exception:
            # Never hand a connection that may still hold the lock back to the pool.
            log.warning("advisory unlock failed key=%s; dropping the connection", key)
            connection.invalidate()
        connection.close()


def connection_lock(connection_id: uuid.UUID | str, *, wait: float = 0):
    """The one lock per calendar connection: syncs and pushes of one calendar never overlap."""
    return advisory_lock(sync_lock_key(connection_id), wait=wait)


def held_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these locks some live process holds right now (PostgreSQL's own view: no stale leftovers)."""
    rows = session.execute(text(
        "SELECT k.key FROM unnest(CAST(:keys AS text[])) AS k(key) WHERE EXISTS ("
        " SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(k.key, 0))"
    ), {"keys": list(keys)})
    return {row.key for row in rows}


def running_syncs(session: Session, connection_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The connections a sync or push is working on right now."""
    by_key = {sync_lock_key(connection_id): connection_id for connection_id in connection_ids}
    return {by_key[key] for key in held_keys(session, by_key)}
