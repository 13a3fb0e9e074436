"""What the calendar pages need to know about an event beyond its times, read in one statement for a page:

- whether it blocks the user's time: not when the provider marks it free (Google `transparency`, Graph `showAs`
  free or working elsewhere, CalDAV `TRANSP`), and not when the user does not attend it: declined, or invited and
  not answered yet (Google's `self` attendee, Graph's `responseStatus`, or for CalDAV the attendee with the
  account's or the user's address);
- its iCalendar UID, which the same invitation keeps on every calendar it reaches;
- whether the user organises it (Google `organizer.self`, Graph `isOrganizer`, CalDAV the organizer's address);
- which other series the user said not to flag as double-booked with its series ("don't flag this series").
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session

# Graph's showAs values that leave the time free for other meetings.
FREE_SHOW_AS = ("free", "workingElsewhere")

_FACTS = text("""
    SELECT e.id,
           e.provider_metadata ->> 'ical_uid' AS ical_uid,
           e.provider_metadata ->> 'transparency' AS transparency,
           e.provider_metadata ->> 'showAs' AS show_as,
           upper(e.provider_metadata ->> 'transp') AS transp,
           e.provider_metadata ->> 'self_response' AS self_response,
           e.provider_metadata -> 'is_organizer' AS is_organizer,
           jsonb_typeof(e.attendees) = 'array' AND jsonb_array_length(e.attendees) > 0 AS has_guests,
           own.response AS own_response,
           own.organizer AS own_organizer,
           ARRAY(SELECT CASE WHEN x.first_event_id = coalesce(e.parent_event_id, e.id) THEN x.second_event_id
                             ELSE x.first_event_id END
                 FROM overlap_exemptions x
                 WHERE x.user_id = :user_id
                   AND coalesce(e.parent_event_id, e.id) IN (x.first_event_id, x.second_event_id)) AS quiet_with
    FROM calendar_events e
    JOIN calendar_connections c ON c.id = e.calendar_connection_id
    JOIN users u ON u.id = c.user_id
    LEFT JOIN LATERAL (
        SELECT guest ->> 'responseStatus' AS response, guest -> 'organizer' = 'true'::jsonb AS organizer
        FROM jsonb_array_elements(CASE jsonb_typeof(e.attendees) WHEN 'array' THEN e.attendees ELSE '[]' END) AS guest
        WHERE lower(guest ->> 'email') IN (lower(c.account_email), lower(u.email))
        LIMIT 1
    ) AS own ON true
    WHERE e.id = ANY(:ids) AND c.user_id = :user_id
""").bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))


@dataclass(frozen=True)
class EventFacts:
    ical_uid: str | None
    blocks_time: bool
    is_organizer: bool
    quiet_with: frozenset = frozenset()  # series (or events) never flagged as double-booked with this one's
    response: str | None = None  # the user's answer as a guest ("accepted", "declined", "tentative", "needsAction")


def event_facts(session: Session, user_id: uuid.UUID, event_ids: set[uuid.UUID]) -> dict[uuid.UUID, EventFacts]:
    if not event_ids:
        return {}
    return {row.id: _facts(row) for row in session.execute(_FACTS, {"ids": list(event_ids), "user_id": user_id})}


def _facts(row) -> EventFacts:
    free = row.transparency == "transparent" or row.show_as in FREE_SHOW_AS or row.transp == "TRANSPARENT"
    response = row.self_response or row.own_response
    # The provider's own flag when it has one (Google, Graph); else the organiser's address among the guests
    # (CalDAV); an event without guests is the user's own.
    if isinstance(row.is_organizer, bool):
        organises = row.is_organizer
    else:
        organises = bool(row.own_organizer or not row.has_guests)
    # The user attends what they organise or said yes or maybe to; not what they declined or have not answered.
    attends = response != "declined" and (organises or response != "needsAction")
    return EventFacts(ical_uid=row.ical_uid or None, blocks_time=not free and attends, is_organizer=organises,
                      quiet_with=frozenset(row.quiet_with or ()), response=None if organises else response)
