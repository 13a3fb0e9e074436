"""The entries of a calendar page seen together: the same invitation on several calendars shown once, and double
bookings across calendars. One statement of facts per page, whatever the page shows."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from webapp.calendar.copies import merge_copies
from webapp.calendar.entries import CalendarInfo, Entry
from webapp.calendar.exemptions import series_key
from webapp.calendar.facts import event_facts
from webapp.calendar.overlaps import Overlaps, find_overlaps
from webapp.calendar.queries import entries_between


@dataclass(frozen=True)
class Together:
    entries: list[Entry]  # each invitation once
    overlaps: Overlaps | None  # None when the user turned the marks off
    copies: dict[Entry, tuple[Entry, ...]] = field(default_factory=dict)  # shown entry -> every copy, it first
    responses: dict = field(default_factory=dict)  # event id -> the user's answer, for invitations they are a guest of

    def copies_of(self, entry: Entry) -> tuple[Entry, ...]:
        return self.copies.get(entry, ())

    def response_of(self, entry: Entry) -> str | None:
        """ "declined" and "tentative" change how a card looks; other answers do not."""
        return self.responses.get(entry.event_id)


def arrange(session: Session, viewer, entries: list[Entry], calendars: list[CalendarInfo]) -> Together:
    """`calendars` in the user's list order, which decides between otherwise equal copies."""
    facts = event_facts(session, viewer.user_id, {entry.event_id for entry in entries})
    rank = {calendar.id: position for position, calendar in enumerate(calendars)}
    entries, copies = merge_copies(
        entries,
        uid_of=lambda entry: facts[entry.event_id].ical_uid if entry.event_id in facts else None,
        organises=lambda entry: entry.event_id in facts and facts[entry.event_id].is_organizer,
        calendar_rank=lambda calendar: rank.get(calendar.id, len(rank)))
    overlaps = None
    if viewer.marks_double_bookings:
        def quiet(entry: Entry) -> frozenset:
            return facts[entry.event_id].quiet_with if entry.event_id in facts else frozenset()

        overlaps = find_overlaps(
            entries, blocks_time=lambda entry: entry.event_id in facts and facts[entry.event_id].blocks_time,
            calendars_of=lambda entry: frozenset(copy.calendar.id for copy in copies.get(entry, (entry,))),
            is_exempt=lambda first, second: series_key(second) in quiet(first))
    responses = {event_id: fact.response for event_id, fact in facts.items()
                 if fact.response in ("declined", "tentative")}
    return Together(entries, overlaps, copies, responses)


def double_bookings(session: Session, viewer, details, calendars: list[CalendarInfo]) -> tuple[Entry, ...]:
    """What the occurrence a panel shows is double-booked with, as its card is marked (none for a copy of an
    invitation shown on another calendar's card)."""
    if not viewer.marks_double_bookings or details.event.is_all_day:
        return ()
    together = arrange(session, viewer, entries_between(session, viewer.user_id, details.start, details.end),
                       calendars)
    shown = next((entry for entry in together.entries
                  if entry.event_id == details.event.id and entry.start == details.start), None)
    return together.overlaps.of(shown) if shown is not None and together.overlaps else ()
