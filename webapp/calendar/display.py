"""Turning events into text for the page: times in the viewer's zone, and provider text made safe.

Provider content is untrusted. Everything here returns plain strings (escaped by Jinja) except `linkify`,
which escapes every piece itself and only ever builds links to http(s) URLs.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from webapp.calendar.descriptions import description_html, description_text, is_html  # noqa: F401 (re-exported)
from webapp.calendar.entries import all_day_dates
from webapp.calendar.links import LINK_REL, linkify, web_url  # noqa: F401 (re-exported)
from webapp.calendar.zones import city_label, zone_or_utc
from webapp.recurrence import first_rule_parts, int_part, parse_value
from webapp.zones import is_iana_zone

_MOMENT = timedelta(microseconds=1)

RESPONSES = {
    "accepted": "Going",
    "declined": "Not going",
    "tentative": "Maybe",
    "needsAction": "Not answered yet",
}


def series_summary(series) -> str:
    """How a series repeats, in words, on its own clock (all-day series on their dates)."""
    start = series.start_time.date() if series.is_all_day else series.start_time.astimezone(
        zone_or_utc(series.timezone))
    return describe(series.recurrence_rule, start)


UNTITLED = "(No title)"


def is_untitled(title: str | None) -> bool:
    """Providers send untitled events as ""; our sync stores them as the placeholder. Both mean no title."""
    return not title or not title.strip() or title.strip() == UNTITLED


def shown_title(title: str | None) -> str:
    return UNTITLED if is_untitled(title) else title


def editable_title(title: str | None) -> str:
    """What an edit starts from and writes back: never the placeholder, which is not the event's title."""
    return "" if is_untitled(title) else title


# Dates are formatted once per process: a page names the same few dozen days many times (grid, mini-month, labels).
@lru_cache(maxsize=4096)
def _day_words(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def event_label(entry, zone: ZoneInfo) -> str:
    """The accessible name of an event card: "Standup, Monday 30 November, 09:00 to 09:15, Work calendar"."""
    if entry.is_all_day:
        first, last = all_day_dates(entry.start, entry.end)
        days = _day_words(first) if first == last else f"{_day_words(first)} to {_day_words(last)}"
        when = f"{days}, all day"
    else:
        start, end = entry.start.astimezone(zone), entry.end.astimezone(zone)
        first, last = clock(start, zone), clock(end, zone)
        if start.date() == (end - _MOMENT).date():  # ending at midnight is still the same day
            when = f"{_day_words(start.date())}, {first} to {last}"
        else:
            when = f"{_day_words(start.date())} {first} to {_day_words(end.date())} {last}"
    name = entry.calendar.name
    calendar = name if name.lower().endswith("calendar") else f"{name} calendar"
    if entry.is_being_deleted:
        state = {"FAILED": ", not deleted"}.get(entry.sync_status, ", being deleted")
    else:
        state = {"PENDING": ", saving", "FAILED": ", not saved"}.get(entry.sync_status, "")
    if not entry.calendar.is_writable:
        state += ", read-only"
    return f"{shown_title(entry.title)}, {when}, {calendar}{state}"


def uses_twelve_hour() -> bool:
    """The signed-in user's clock (Settings, else their browser's locale); 24-hour until either is known."""
    from flask import g, has_request_context
    from flask_login import current_user

    if not has_request_context():
        return False
    # Asked for every time on the page: the loaded user straight from `g` (the proxy costs more than the answer).
    user = g.get("_login_user") or current_user
    return user.is_authenticated and user.clock_24h is False


def format_clock(hour: int, minute: int, twelve_hour: bool) -> str:
    """ "13:05" on a 24-hour clock, "1:05 pm" on a 12-hour one."""
    if not twelve_hour:
        return f"{hour:02d}:{minute:02d}"
    return f"{(hour - 1) % 12 + 1}:{minute:02d} {'am' if hour < 12 else 'pm'}"


def hour_label(hour: int, twelve_hour: bool) -> str:
    """The time grid's hour marks: "13:00", or "1 pm"."""
    return f"{(hour - 1) % 12 + 1} {'am' if hour < 12 else 'pm'}" if twelve_hour else f"{hour:02d}:00"


def clock(instant: datetime, zone: ZoneInfo, twelve_hour: bool | None = None) -> str:
    local = instant.astimezone(zone)
    return format_clock(local.hour, local.minute, uses_twelve_hour() if twelve_hour is None else twelve_hour)


def iso_instant(instant: datetime, zone: ZoneInfo) -> str:
    """For <time datetime>: ISO 8601 with the viewer's offset."""
    return instant.astimezone(zone).isoformat(timespec="seconds")


@lru_cache(maxsize=4096)
def short_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


@lru_cache(maxsize=4096)
def long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B} {day.year}"


def zone_note(start: datetime, end: datetime | None, is_all_day: bool, event_zone: str, viewer_zone: ZoneInfo) -> str:
    """ "09:00 New York" (or "09:00 – 10:00 New York" with an end) when the event keeps another zone's clock
    than the viewer's; "" when the clocks agree, for all-day events and for zones we do not know."""
    if is_all_day or not is_iana_zone(event_zone):
        return ""
    zone = ZoneInfo(event_zone)
    if start.astimezone(zone).utcoffset() == start.astimezone(viewer_zone).utcoffset():
        return ""
    times = clock(start, zone) if end is None else f"{clock(start, zone)} – {clock(end, zone)}"
    return f"{times} {city_label(event_zone)}"


def reminder_text(reminder: dict) -> str:
    minutes = reminder.get("minutes")
    if not isinstance(minutes, int) or minutes < 0:
        return "Reminder"
    if minutes == 0:
        when = "At the start"
    elif minutes % 1440 == 0:
        when = _plural(minutes // 1440, "day") + " before"
    elif minutes % 60 == 0:
        when = _plural(minutes // 60, "hour") + " before"
    else:
        when = _plural(minutes, "minute") + " before"
    method = reminder.get("method")
    return f"{when} ({method})" if method in ("email", "popup", "sms") else when


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def response_text(status: str | None) -> str:
    return RESPONSES.get(status or "needsAction", "Not answered yet")


def provider_name(provider: str) -> str:
    return {"GOOGLE": "Google", "MICROSOFT": "Outlook", "APPLE": "iCloud", "CALDAV": "the CalDAV server",
            "ICS": "the feed"}.get(provider, provider.title())


_PUSH_ERRORS = {
    "network_error": "{provider} could not be reached.",
    "auth_rejected": "{provider} did not accept our access; reconnect the calendar.",
    "invalid_grant": "{provider} did not accept our access; reconnect the calendar.",
    "rate_limited": "{provider} asked us to slow down.",
    "not_found": "{provider} no longer has this event.",
    "provider_unavailable": "{provider} had a temporary problem.",
    "calendar_gone": "the calendar was removed at {provider} (deleted there, or no longer shared with you).",
    "read_only": "{provider} does not let this account change it (read-only).",
}


def push_error_text(kind: str | None, provider: str) -> str:
    """Why the last push failed, from the short reason the push job stores (never a provider's response)."""
    return _PUSH_ERRORS.get(kind or "", "{provider} refused the change.").format(provider=provider_name(provider))


def read_only_reason(calendar) -> str:
    """Why Almanac refuses changes to a calendar (a CalendarInfo that is not writable), in plain words."""
    provider = provider_name(calendar.provider)
    if calendar.provider == "ICS":
        return (f"{calendar.name} is a subscribed feed: its events come from the feed's address and are read-only "
                "here. Change them where the feed is published.")
    if calendar.is_removed_at_provider:
        return (f"{calendar.name} was removed at {provider} (deleted there, or no longer shared with you), so "
                "Almanac cannot save changes to it. You can remove it from Almanac on the Connections page.")
    if not calendar.is_connected:
        return f"{calendar.name} is disconnected: reconnect it on the Connections page to change its events."
    return f"{calendar.name} is shared with you read-only at {provider}: its events cannot be changed here."


# ---------------------------------------------------------------------------- repeat rules in words

_WEEKDAYS = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
             "SA": "Saturday", "SU": "Sunday"}
_WORKWEEK = ["MO", "TU", "WE", "TH", "FR"]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
_UNITS = {"DAILY": ("Daily", "day"), "WEEKLY": ("Weekly", "week"), "MONTHLY": ("Every month", "month"),
          "YEARLY": ("Every year", "year")}


def describe(recurrence_rule: str | None, start_local: datetime | date) -> str:
    """English summary: "Every 2 weeks on Monday until 31 Mar 2026", "Daily, 10 times", "Every year on 4 Jul"."""
    parts = first_rule_parts(recurrence_rule)
    if parts is None:
        return "Custom dates" if recurrence_rule and "RDATE" in recurrence_rule.upper() else "Does not repeat"
    frequency = parts.get("FREQ")
    if frequency not in _UNITS:
        return "Custom recurrence"
    text = _cadence(frequency, int_part(parts.get("INTERVAL"), 1), parts, start_local)
    count = int_part(parts.get("COUNT"), None)
    if count:
        text += ", once" if count == 1 else f", {count} times"
    elif parse_value(parts.get("UNTIL", ""), UTC):
        zone = start_local.tzinfo if isinstance(start_local, datetime) and start_local.tzinfo else UTC
        until = parse_value(parts["UNTIL"], zone)
        until_day = until.astimezone(zone).date() if isinstance(until, datetime) else until
        text += f" until {_day_month(until_day)} {until_day.year}"
    return text


def _cadence(frequency: str, interval: int, parts: dict[str, str], start_local: datetime | date) -> str:
    days = [day for day in parts.get("BYDAY", "").split(",") if day]
    if frequency == "WEEKLY" and interval == 1 and days == _WORKWEEK:
        return "Every weekday"
    single, unit = _UNITS[frequency]
    text = single if interval == 1 else f"Every {interval} {unit}s"
    if frequency == "WEEKLY":
        names = [_WEEKDAYS[day[-2:]] for day in days if day[-2:] in _WEEKDAYS]
        text += " on " + _join(names or [list(_WEEKDAYS.values())[start_local.weekday()]])
    elif frequency == "MONTHLY":
        text += " on " + _monthly_day(parts, start_local)
    elif frequency == "YEARLY":
        text += " on " + _yearly_day(parts, start_local)
    return text


def _monthly_day(parts: dict[str, str], start_local: datetime | date) -> str:
    nth_weekday = _nth_weekday(parts)
    if nth_weekday:
        return nth_weekday
    month_days = [int_part(day, None) for day in parts.get("BYMONTHDAY", "").split(",") if day]
    if month_days == [-1]:
        return "the last day"
    month_days = [day for day in month_days if day] or [start_local.day]
    return ("day " if len(month_days) == 1 else "days ") + _join([str(day) for day in month_days])


def _yearly_day(parts: dict[str, str], start_local: datetime | date) -> str:
    month = int_part(parts.get("BYMONTH", "").split(",")[0], start_local.month)
    nth_weekday = _nth_weekday(parts)
    if nth_weekday:
        return f"{nth_weekday} of {_MONTH_NAMES[month - 1]}"
    day = int_part(parts.get("BYMONTHDAY", "").split(",")[0], start_local.day)
    return f"{day} {_MONTHS[month - 1]}"


def _nth_weekday(parts: dict[str, str]) -> str | None:
    """"2TU" (or "TU" with BYSETPOS=2) -> "the second Tuesday"."""
    days = [day for day in parts.get("BYDAY", "").split(",") if day]
    if len(days) != 1 or days[0][-2:] not in _WEEKDAYS:
        return None
    ordinal = int_part(days[0][:-2] or parts.get("BYSETPOS"), None)
    if ordinal not in _ORDINALS:
        return None
    return f"the {_ORDINALS[ordinal]} {_WEEKDAYS[days[0][-2:]]}"


def _day_month(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
