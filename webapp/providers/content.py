"""Provider content is untrusted: every event is cleaned here, where it enters Almanac, before anything stores it.

Text loses NUL and the other C0 control characters (tab and newline stay) and lone surrogates, which PostgreSQL
rejects; each field is cut to its column's limit; attendee lists keep the first MAX_ATTENDEES and the total. An
event's zone is a tz database name (webapp.zones) or UTC, whatever the provider wrote.
"""
from __future__ import annotations

import re
from typing import Any

from webapp.zones import is_iana_zone

_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")

PROVIDER_ID_LIMIT = 255  # calendar_events.provider_event_id; an id cannot be cut, so a longer one is skipped
TITLE_LIMIT = 500
LOCATION_LIMIT = 500
# TEXT has no limit of its own; a description longer than this is a mistake or an attack, not a note.
DESCRIPTION_LIMIT = 64 * 1024
LINK_LIMIT = 2048
METADATA_TEXT_LIMIT = 2048
MAX_ATTENDEES = 200
MAX_REMINDERS = 20
MAX_METADATA_ITEMS = 50
ATTENDEE_FIELD_LIMIT = 320


def clean_text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = _UNSTORABLE.sub("", str(value))
    return text[:limit] if limit else text


def clean_value(value: Any, limit: int = METADATA_TEXT_LIMIT) -> Any:
    """JSON-ish provider facts (metadata, attendees, reminders): strings cleaned and cut, collections bounded."""
    if isinstance(value, str):
        return clean_text(value, limit)
    if isinstance(value, dict):
        return {clean_text(key, 100): clean_value(item, limit)
                for key, item in list(value.items())[:MAX_METADATA_ITEMS]}
    if isinstance(value, list | tuple):
        return [clean_value(item, limit) for item in list(value)[:MAX_METADATA_ITEMS]]
    return value


def clean_event(event) -> str | None:
    """Make a RemoteEvent safe to store, in place; returns why it cannot be stored (never quoting the content),
    or None when it can."""
    provider_id = clean_text(event.provider_event_id)
    if not provider_id:
        return "the event has no id"
    if len(provider_id) > PROVIDER_ID_LIMIT:
        event.provider_event_id = provider_id[:80] + "…"
        return f"the event id is longer than {PROVIDER_ID_LIMIT} characters"
    event.provider_event_id = provider_id
    event.parent_provider_event_id = clean_text(event.parent_provider_event_id, PROVIDER_ID_LIMIT)
    event.title = clean_text(event.title, TITLE_LIMIT) or ""
    event.description = clean_text(event.description, DESCRIPTION_LIMIT) or None
    event.location = clean_text(event.location, LOCATION_LIMIT) or None
    event.timezone = event.timezone if is_iana_zone(event.timezone) else "UTC"
    event.recurrence_rule = clean_text(event.recurrence_rule, DESCRIPTION_LIMIT) or None
    event.html_link = clean_text(event.html_link, LINK_LIMIT) or None
    event.etag = clean_text(event.etag, METADATA_TEXT_LIMIT)
    event.ical_uid = clean_text(event.ical_uid, METADATA_TEXT_LIMIT)
    metadata = clean_value(event.metadata or {})
    if event.attendees is not None:
        if len(event.attendees) > MAX_ATTENDEES:
            metadata["attendee_total"] = len(event.attendees)
        event.attendees = [clean_value(attendee, ATTENDEE_FIELD_LIMIT)
                           for attendee in event.attendees[:MAX_ATTENDEES] if isinstance(attendee, dict)]
    if event.reminders is not None:
        event.reminders = [clean_value(reminder) for reminder in event.reminders[:MAX_REMINDERS]
                           if isinstance(reminder, dict)]
    event.metadata = metadata
    return None
