"""Search results as the page shows them: in the viewer's zone, with the searched words marked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import url_for
from markupsafe import Markup

from webapp.calendar.display import clock, describe, description_text, short_date
from webapp.calendar.entries import all_day_dates
from webapp.calendar.urls import format_at, view_url
from webapp.calendar.zones import zone_or_utc
from webapp.search.engine import SIMILAR, Search, SearchResult
from webapp.search.highlight import has_match, highlight, snippet

GUESTS_SHOWN = 3


@dataclass(frozen=True)
class ShownResult:
    result: SearchResult
    title: Markup
    location: Markup | None
    guests: list[Markup]  # the guests the query matched
    snippet: Markup | None  # of the description, around the first match
    when: str
    day: date  # the local day of the occurrence, for "show in the week"
    is_past: bool
    repeats: str | None  # how the series repeats, for a series

    @property
    def url(self) -> str:
        result = self.result
        at = format_at(result.original_start) if result.is_generated_instance else None
        return url_for("calendar.event", event_id=result.event_id, at=at, view="week")

    @property
    def week_url(self) -> str:
        return view_url("week", self.day)

    @property
    def open_url(self) -> str:
        """The event's week with its panel open (a search dropdown's choice)."""
        result = self.result
        at = format_at(result.original_start) if result.is_generated_instance else None
        return url_for("calendar.week", day=self.day.isoformat(), event=result.event_id, at=at)


def shown(found: Search, zone: ZoneInfo, now: datetime) -> list[ShownResult]:
    return [_shown(result, found.terms.words, zone, now) for result in found.results]


def _shown(result: SearchResult, words: tuple[str, ...], zone: ZoneInfo, now: datetime) -> ShownResult:
    guests = []
    for guest in result.attendees:
        label = " ".join(part for part in (guest.get("name"), _angled(guest.get("email"))) if part)
        if has_match(label, words) and len(guests) < GUESTS_SHOWN:
            guests.append(highlight(label, words))
    day = all_day_dates(result.start, result.end)[0] if result.is_all_day else result.start.astimezone(zone).date()
    return ShownResult(
        result=result,
        title=highlight(result.title, words, anywhere=result.tier == SIMILAR),
        location=highlight(result.location, words, anywhere=result.tier == SIMILAR) if result.location else None,
        guests=guests,
        snippet=snippet(description_text(result.description), words),
        when=when_text(result, zone),
        day=day,
        is_past=result.end <= now,
        repeats=_repeats(result),
    )


def _angled(email) -> str | None:
    return f"<{email}>" if isinstance(email, str) and email else None


def _repeats(result: SearchResult) -> str | None:
    if not result.recurrence_rule:
        return None
    start = result.start.date() if result.is_all_day else result.start.astimezone(zone_or_utc(result.timezone))
    return describe(result.recurrence_rule, start)


def when_text(result: SearchResult, zone: ZoneInfo) -> str:
    """ "Tue 16 Jun 2026, 09:00 – 10:00"; all-day "Tue 16 Jun 2026" or a range of dates."""
    if result.is_all_day:
        first, last = all_day_dates(result.start, result.end)
        if first == last:
            return f"{short_date(first)} {first.year}"
        return f"{short_date(first)} {first.year} – {short_date(last)} {last.year}"
    start, end = result.start.astimezone(zone), result.end.astimezone(zone)
    begins = f"{short_date(start.date())} {start.year}, {clock(start, zone)}"
    if start.date() == end.date():
        return f"{begins} – {clock(end, zone)}"
    return f"{begins} – {short_date(end.date())} {clock(end, zone)}"
