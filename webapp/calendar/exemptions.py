""""Don't flag this series": pairs of series (or single events) the user knows overlap. A pair is named by each
side's series master (a plain event by itself), so every week of two recurring meetings is covered at once."""
from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from webapp import changes
from webapp.calendar.entries import Entry
from webapp.models import OverlapExemption


def series_key(entry: Entry) -> uuid.UUID:
    return entry.series_id or entry.event_id


def exempt(session: Session, user_id: uuid.UUID, first: uuid.UUID, second: uuid.UUID) -> None:
    """Never flag these two again (safe to repeat). Both are ids the caller checked are the user's."""
    low, high = sorted((first, second))
    session.execute(insert(OverlapExemption).values(user_id=user_id, first_event_id=low, second_event_id=high)
                    .on_conflict_do_nothing())
    changes.note_change(session, user_id)  # a statement, not a flushed row: say so (the marks go from every page)
    session.flush()
