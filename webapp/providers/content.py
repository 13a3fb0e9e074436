"""Provider content is untrusted: every event is cleaned here, where it enters Almanac, before anything stores it.

Text loses what a person never typed and a reader cannot see: C0 and C1 controls (NUL, which PostgreSQL rejects;
ESC, which starts terminal escapes), lone surrogates, and the invisible characters that reorder or hide words
(see _INVISIBLE). Descriptions keep their line breaks (each one a newline) and tabs; in one-line text (titles,
places, guests' and calendars' names) each becomes a space. Each field is cut to its column's limit; attendee
lists keep the first MAX_ATTENDEES and the total. An event's zone is a tz database name (webapp.zones) or UTC.
"""
from __future__ import annotations

import re
from typing import Any

from webapp.zones import is_iana_zone

# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder what follows them: after U+202E
# "report.exe" reads "exe.troper". Zero-width space, word joiner, invisible operators, the deprecated format
# controls, the byte-order mark and interlinear annotations hide text. ZWNJ and ZWJ (scripts and emoji need them),
# the direction marks LRM, RLM and ALM (they reorder nothing past themselves) and soft hyphens stay.
_INVISIBLE = "\u200b\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
_REMOVED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff{_INVISIBLE}]")
_LINE_BREAKS = re.compile("\r\n?|[\n\x85\u2028\u2029]")

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
CALENDAR_NAME_LIMIT = 500


def clean_text(value: Any, limit: int | None = None, *, one_line: bool = False) -> str | None:
    """The one cleaning of provider text (see the module's docstring)."""
    if value is None:
        return None
    text = _LINE_BREAKS.sub(" " if one_line else "\n", str(value))
    text = _REMOVED.sub("", text.replace("\t", " ") if one_line else text)
    return text[:limit] if limit else text


def clean_value(value: Any, limit: int = METADATA_TEXT_LIMIT, *, one_line: bool = False) -> Any:
    """JSON-ish provider facts (metadata, attendees, reminders): strings cleaned and cut, collections bounded."""
    if isinstance(value, str):
        return clean_text(value, limit, one_line=one_line)
    if isinstance(value, dict):
        return {clean_text(key, 100): clean_value(item, limit, one_line=one_line)
                for key, item in list(value.items())[:MAX_METADATA_ITEMS]}
    if isinstance(value, list | tuple):
        return [clean_value(item, limit, one_line=one_line) for item in list(value)[:MAX_METADATA_ITEMS]]
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
    event.title = clean_text(event.title, TITLE_LIMIT, one_line=True) or ""
    event.description = clean_text(event.description, DESCRIPTION_LIMIT) or None
    event.location = clean_text(event.location, LOCATION_LIMIT, one_line=True) or None
    event.timezone = event.timezone if is_iana_zone(event.timezone) else "UTC"
    event.recurrence_rule = clean_text(event.recurrence_rule, DESCRIPTION_LIMIT) or None
    event.html_link = clean_text(event.html_link, LINK_LIMIT) or None
    event.etag = clean_text(event.etag, METADATA_TEXT_LIMIT)
    event.ical_uid = clean_text(event.ical_uid, METADATA_TEXT_LIMIT)
    metadata = clean_value(event.metadata or {})
    if event.attendees is not None:
        if len(event.attendees) > MAX_ATTENDEES:
            metadata["attendee_total"] = len(event.attendees)
        event.attendees = [clean_value(attendee, ATTENDEE_FIELD_LIMIT, one_line=True)
                           for attendee in event.attendees[:MAX_ATTENDEES] if isinstance(attendee, dict)]
    if event.reminders is not None:
        event.reminders = [clean_value(reminder, one_line=True) for reminder in event.reminders[:MAX_REMINDERS]
                           if isinstance(reminder, dict)]
    event.metadata = metadata
    return None
