"""URLs of the calendar pages, shared by the views and the templates."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from flask import g, url_for

from webapp.calendar.entries import Entry
from webapp.calendar.periods import EARLIEST_YEAR, LATEST_YEAR, VIEW_KINDS


def view_kind(value: str | None) -> str:
    """The page to go back to after a change; anything unknown means the week."""
    return value if value in VIEW_KINDS else "week"


def view_url(kind: str, day: date) -> str:
    if kind == "month":
        return url_for("calendar.month", month=f"{day:%Y-%m}")
    if kind == "agenda":
        return url_for("calendar.agenda", start=day.isoformat())
    return url_for(f"calendar.{kind}", day=day.isoformat())


_DAY_PLACEHOLDER = "2000-01-01"


def day_urls(kind: str) -> Callable[[date], str]:
    """view_url(kind, day) for many days at the cost of one url_for (grids draw dozens of day links)."""
    if kind == "month":
        prefix = url_for("calendar.month", month="2000-01")[:-len("2000-01")]
        return lambda day: f"{prefix}{day:%Y-%m}"
    pattern = view_url(kind, date.fromisoformat(_DAY_PLACEHOLDER))
    head, tail = pattern.split(_DAY_PLACEHOLDER, 1)
    return lambda day: f"{head}{day.isoformat()}{tail}"


def format_at(instant: datetime) -> str:
    """How a URL names one instance of a series: its original start in UTC."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_at(text: str | None) -> datetime | None:
    """The ?at= of an instance URL; raises ValueError when it is not an instant with a zone."""
    if not text:
        return None
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None or not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise ValueError("at needs a zone and a year we show")
    return instant.astimezone(UTC)


_ZERO_ID = uuid.UUID(int=0)


def event_url(entry: Entry, kind: str) -> str:
    """url_for("calendar.event", event_id=…, at=…, view=kind), from one url_for per request (a page links every
    event it shows); `at` (digits, T, colons, Z) and the view kind need no quoting."""
    if "event_url_prefix" not in g:
        g.event_url_prefix = url_for("calendar.event", event_id=_ZERO_ID).removesuffix(str(_ZERO_ID))
    at = f"at={format_at(entry.original_start)}&" if entry.is_generated_instance else ""
    return f"{g.event_url_prefix}{entry.event_id}?{at}view={view_kind(kind)}"


def new_event_url(kind: str, start: str | None = None) -> str:
    """`start` is a local "YYYY-MM-DDTHH:MM" (a timed slot) or "YYYY-MM-DD" (an all-day one). A dragged range
    adds `end` (calendar.js appends it)."""
    return url_for("calendar.new_event", view=kind, start=start)
