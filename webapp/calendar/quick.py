"""Quick create: one line such as "Lunch with Ann tomorrow 13:00 for 1h" or "Standup every weekday 9:15" read as
a title, a time and a repeat. Dates and times are found by dateparser (in the user's language); how long and how
often ("for 1h", "every weekday") by the small English grammar below. What is understood is shown as a preview
before anything is saved, so a wrong guess ("Review May budget") costs nothing: the slot's time is kept unless a
phrase with a number or a day word says otherwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from webapp.calendar.repeat import WEEKDAYS, Repeat

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_REPEAT = re.compile(
    r"\b(?:every\s+(?P<every>weekday|workday|day|week|month|year|" + "|".join(_DAY_NAMES) + r")s?"
    r"|(?P<adverb>daily|weekly|monthly|yearly))\b", re.IGNORECASE)
_DURATION = re.compile(r"\bfor\s+(?P<amount>\d+(?:[.,]\d+)?)\s*(?P<unit>h|hrs?|hours?|m|mins?|minutes?)\b",
                       re.IGNORECASE)
# What makes a found date phrase believable: a number, or a word that only names days.
_DAY_WORDS = re.compile(r"\d|\b(?:today|tonight|tomorrow|noon|midnight|next|" + "|".join(_DAY_NAMES) + r")\b",
                        re.IGNORECASE)
_HAS_TIME = re.compile(r"\d{1,2}\s*[:.h]\s*\d{2}|\d\s*(?:am|pm)\b|\b(?:noon|midnight|tonight)\b|\bat\s+\d",
                       re.IGNORECASE)
_HAS_DATE = re.compile(r"\b(?:today|tonight|tomorrow|next|" + "|".join(_DAY_NAMES) + r"|jan|feb|mar|apr|may|jun|jul"
                       r"|aug|sep|oct|nov|dec)|\d{1,2}[/.-]\d{1,2}|\b\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3}",
                       re.IGNORECASE)
_LEFTOVER = re.compile(r"\s+(?:at|on|from|,)\s*$|^\s*(?:at|on|,)\s+", re.IGNORECASE)
_FREQUENCY = {"day": "DAILY", "daily": "DAILY", "week": "WEEKLY", "weekly": "WEEKLY", "month": "MONTHLY",
              "monthly": "MONTHLY", "year": "YEARLY", "yearly": "YEARLY"}


@dataclass(frozen=True)
class QuickEvent:
    title: str
    start: datetime  # naive, on the viewer's clock
    end: datetime
    repeat: Repeat | None
    understood: tuple[str, ...]  # the phrases read as when, how long and how often


def _repeat_of(match: re.Match) -> Repeat:
    word = (match.group("every") or match.group("adverb")).lower()
    if word in ("weekday", "workday"):
        return Repeat("WEEKLY", weekdays=WEEKDAYS[:5])
    if word in _DAY_NAMES:
        return Repeat("WEEKLY", weekdays=(WEEKDAYS[_DAY_NAMES.index(word)],))
    return Repeat(_FREQUENCY[word])


def _minutes_of(match: re.Match) -> int:
    amount = float(match.group("amount").replace(",", "."))
    return max(5, round(amount * (60 if match.group("unit").lower().startswith("h") else 1)))


def _found_when(text: str, base: datetime, languages: tuple[str, ...]) -> tuple[str, datetime] | None:
    from dateparser.search import search_dates  # loads its language data on first use, not at start-up

    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}
    for phrase, moment in search_dates(text, languages=list(languages), settings=settings) or ():
        if _DAY_WORDS.search(phrase):
            return phrase, moment
    return None


def parse_quick(text: str, slot_start: datetime, slot_end: datetime, now: datetime,
                languages: tuple[str, ...] = ("en",)) -> QuickEvent:
    """Read `text` against the slot it was typed in (naive local times) and the viewer's `now` (naive local)."""
    rest = " ".join(text.split())
    understood = []
    repeat = None
    if match := _REPEAT.search(rest):
        repeat, rest = _repeat_of(match), rest[:match.start()] + " " + rest[match.end():]
        understood.append(match.group(0))
    minutes = None
    if match := _DURATION.search(rest):
        minutes, rest = _minutes_of(match), rest[:match.start()] + " " + rest[match.end():]
        understood.append(match.group(0))
    start = slot_start
    if found := _found_when(rest, now, languages):
        phrase, moment = found
        has_time, has_date = bool(_HAS_TIME.search(phrase)), bool(_HAS_DATE.search(phrase))
        day: date = moment.date() if has_date else slot_start.date()
        clock: time = moment.time() if has_time else slot_start.time()
        start = datetime.combine(day, clock)
        rest = rest.replace(phrase, " ", 1)
        understood.insert(0, phrase)
    if repeat is not None and repeat.weekdays:
        while WEEKDAYS[start.weekday()] not in repeat.weekdays:  # a series starts on one of its days
            start += timedelta(days=1)
    length = timedelta(minutes=minutes) if minutes else (slot_end - slot_start) or timedelta(hours=1)
    title = " ".join(rest.split())
    while (cleaned := _LEFTOVER.sub("", title)) != title:
        title = cleaned
    return QuickEvent(title.strip(" ,"), start, start + length, repeat, tuple(understood))
