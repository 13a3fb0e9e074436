"""Work that must wait until a transaction is committed: queueing a job that reads what it wrote, telling open
tabs that something changed. `after_commit(session, callback)` runs the callback once the session's transaction
commits (in the same app context), and forgets it when the transaction rolls back. A callback that fails is
logged; the commit stands."""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

_CALLBACKS = "almanac_after_commit"
_STATE = "almanac_transaction_state"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault(_CALLBACKS, []).append(callback)


def transaction_state(session: Session) -> dict:
    """A dict that lives as long as the session's current transaction (for gathering what its callbacks do)."""
    return session.info.setdefault(_STATE, {})


def install() -> None:
    """Once per process (every Session, views and jobs alike); safe to call again."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint was released: the transaction goes on
        return
    session.info.pop(_STATE, None)
    for callback in session.info.pop(_CALLBACKS, []):
        try:
            callback()
        except Exception:
            log.exception("work after a commit failed callback=%s", getattr(callback, "__qualname__", callback))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction leaves nothing to do; a committed one has already run its callbacks.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_CALLBACKS, None)
        session.info.pop(_STATE, None)
