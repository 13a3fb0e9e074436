"""The entries of a calendar page seen together: double bookings across calendars (and, below, the same
invitation on several calendars shown once). One statement of facts per page, whatever the page shows."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from webapp.calendar.entries import Entry
from webapp.calendar.facts import event_facts
from webapp.calendar.overlaps import Overlaps, find_overlaps


@dataclass(frozen=True)
class Together:
    entries: list[Entry]
    overlaps: Overlaps | None  # None when the user turned the marks off


def arrange(session: Session, viewer, entries: list[Entry]) -> Together:
    facts = event_facts(session, viewer.user_id, {entry.event_id for entry in entries})
    overlaps = None
    if viewer.marks_double_bookings:
        overlaps = find_overlaps(entries, lambda entry: entry.event_id in facts and facts[entry.event_id].blocks_time)
    return Together(entries, overlaps)
