"""Small Jinja filters shared by every page."""
from __future__ import annotations

from datetime import UTC, datetime


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 45:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def exact_time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M:%S UTC") if moment else ""
