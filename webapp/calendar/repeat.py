"""The event form's simple repeat choices, written as an RRULE line and read back from a stored rule."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# RRULE parts the form can show; a rule with anything else is kept as it is unless the user replaces it.
_FORM_PARTS = {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"}


@dataclass(frozen=True)
class Repeat:
    frequency: str  # one of FREQUENCIES
    interval: int = 1
    weekdays: tuple[str, ...] = ()  # WEEKLY only, in week order; empty means the start's weekday
    until: date | None = None  # last day an instance may start on
    count: int | None = None


def rule_line(repeat: Repeat, start_local: datetime, is_all_day: bool) -> str:
    """The RRULE line for `repeat`; `start_local` is the first instance on the series' own clock."""
    parts = [f"FREQ={repeat.frequency}"]
    if repeat.interval > 1:
        parts.append(f"INTERVAL={repeat.interval}")
    if repeat.frequency == "WEEKLY":
        parts.append("BYDAY=" + ",".join(repeat.weekdays or (WEEKDAYS[start_local.weekday()],)))
    if repeat.count:
        parts.append(f"COUNT={repeat.count}")
    elif repeat.until:
        if is_all_day:
            parts.append(f"UNTIL={repeat.until:%Y%m%d}")
        else:
            # RFC 5545: with a zoned DTSTART, UNTIL is in UTC; the last day counts up to its end, locally.
            last_moment = datetime.combine(repeat.until, time(23, 59, 59), start_local.tzinfo).astimezone(UTC)
            parts.append(f"UNTIL={last_moment:%Y%m%dT%H%M%SZ}")
    return "RRULE:" + ";".join(parts)


def _rrule_lines(recurrence_rule: str | None) -> list[str]:
    return [line.strip() for line in (recurrence_rule or "").splitlines() if line.strip().upper().startswith("RRULE:")]


def other_rule_lines(recurrence_rule: str | None) -> list[str]:
    """EXDATE/RDATE lines, which stay when the RRULE is replaced (they name instances the user removed)."""
    return [line.strip() for line in (recurrence_rule or "").splitlines()
            if line.strip() and not line.strip().upper().startswith("RRULE:")]


def repeat_from_rule(recurrence_rule: str | None, zone: ZoneInfo) -> Repeat | None:
    """The form's reading of a stored rule, or None when it does not repeat or says more than the form can."""
    lines = _rrule_lines(recurrence_rule)
    if len(lines) != 1:
        return None
    parts = {}
    for part in lines[0].split(":", 1)[1].split(";"):
        key, _, value = part.partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    if set(parts) - _FORM_PARTS or parts.get("FREQ") not in FREQUENCIES:
        return None
    days = tuple(day for day in parts.get("BYDAY", "").split(",") if day)
    if days and (parts["FREQ"] != "WEEKLY" or not set(days) <= set(WEEKDAYS)):
        return None
    try:
        interval = int(parts.get("INTERVAL") or 1)
        count = int(parts["COUNT"]) if parts.get("COUNT") else None
        until = _until_day(parts["UNTIL"], zone) if parts.get("UNTIL") else None
    except ValueError:
        return None
    return Repeat(parts["FREQ"], interval, tuple(sorted(days, key=WEEKDAYS.index)), until, count)


def _until_day(value: str, zone: ZoneInfo) -> date:
    if len(value) == 8:
        return datetime.strptime(value, "%Y%m%d").date()
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(zone).date()
    return datetime.strptime(value, "%Y%m%dT%H%M%S").date()
