"""Search over every calendar of one user: the words, the statement, and results ready for the page.

Matching: PostgreSQL full-text search on each event's `search_vector` in event_search (the `simple`
configuration over unaccented text, so names and any language match as typed); the word being typed also matches
the beginnings of the words of titles, places and guests, so results come while typing. When the words find
nothing, trigram word similarity on title and location (`almanac_search_text`) finds partial words and typos.
Ranking: how much of the query the title (then title, place and guests, then the description) holds, and within
that, nearness to now. A series is one result, dated at its occurrence nearest to now; an invitation on several
calendars is one result listing them.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import String, Uuid, and_, bindparam, case, func, literal, literal_column, not_, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from webapp.calendar.copies import merge_copies
from webapp.calendar.entries import CalendarInfo
from webapp.calendar.facts import event_facts
from webapp.calendar.queries import (
    _CALENDAR_COLUMNS,
    _calendar_from,
    _override,
    _overrides_by_master,
    parse_original_start,
    series_master,
    user_calendars,
)
from webapp.models import CalendarConnection, CalendarEvent, EventStatus
from webapp.models.base import Timestamp
from webapp.models.events import EventSearch
from webapp.recurrence import Occurrence, expand
from webapp.search.highlight import PREFIX_MIN

QUERY_CHARS = 200
# The longest word beginning the search vector keeps (migration 0013a).
PREFIX_MAX = 15
MAX_WORDS = 8
PAGE_SIZE = 50
# How far around now a series is expanded to find the occurrence to show, widening until one is found.
_NEAREST_SPANS = (timedelta(days=1), timedelta(days=35), timedelta(days=400), timedelta(days=3700))
# Relevance tiers: every word in the title; in title, place or guests; anywhere; only similar (trigrams).
IN_TITLE, IN_MAIN_FIELDS, ANYWHERE, SIMILAR = 3, 2, 1, 0
_SIMPLE = literal_column("'simple'::regconfig")


@dataclass(frozen=True)
class Terms:
    """A query as PostgreSQL's parser splits it: lower case, accents removed."""

    text: str  # as typed (trimmed, capped)
    words: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.words

    @property
    def similar_words(self) -> int:
        """How many words trigrams look for: all, or none when one is shorter than three letters (that would make
        every row a candidate)."""
        return len(self.words) if all(len(word) >= PREFIX_MIN for word in self.words) else 0

    def tsquery(self, weights: str = "") -> str:
        """Every word must match, within the weights given ("A" = the title). The last word, the one being
        typed, may also be the beginning of a word of the title, place or guests once it has three letters
        ("budget rev" finds "Budget review"): the vector holds those beginnings as "~" lexemes (migration 0013a),
        so each part of the query is an exact lexeme, which the index looks up within one calendar. A word left
        unfinished earlier in the query is still found by the trigrams."""
        last = len(self.words) - 1
        return " & ".join(_query_word(word, weights, typing=index == last) for index, word in enumerate(self.words))


def _quoted(lexeme: str, weights: str) -> str:
    quoted = "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
    return f"{quoted}:{weights}" if weights else quoted


def _query_word(word: str, weights: str, *, typing: bool) -> str:
    if typing and len(word) >= PREFIX_MIN:
        return f"({_quoted(word, weights)} | {_quoted('~' + word[:PREFIX_MAX], weights)})"
    return _quoted(word, weights)


def parse_query(session: Session, text: str) -> Terms:
    """Split the query with the same parser and folding the index used, so both sides agree on what a word is."""
    text = _cleaned(text)
    return Terms(text, _words(session.scalar(select(_lexemes(text))))) if text else Terms("", ())


def _cleaned(text: str) -> str:
    return " ".join(text.split())[:QUERY_CHARS]


def _lexemes(text: str):
    """The query's lexemes in the order typed, as an array (one column of a statement)."""
    return func.array(
        select(literal_column("lexeme"))
        .select_from(func.unnest(func.to_tsvector(_SIMPLE, func.almanac_unaccent(text))).table_valued(
            "lexeme", "positions", "weights"))
        .order_by(literal_column("positions[1]"))
        .scalar_subquery()
    )


def _words(lexemes: list[str]) -> tuple[str, ...]:
    return tuple(_without_parts(lexemes)[:MAX_WORDS])


def _without_parts(words: list[str]) -> list[str]:
    """The parser gives "catch-up" as "catch-up", "catch" and "up" (and a URL as itself, its host and path): the
    parts add nothing to the whole but make the words look rarer together than they are."""
    def part_of(word: str, other: str) -> bool:
        at = other.find(word)
        while at != -1:
            before, after = other[at - 1:at], other[at + len(word):at + len(word) + 1]
            if not (before.isalnum() and word[0].isalnum()) and not (after.isalnum() and word[-1].isalnum()):
                return True
            at = other.find(word, at + 1)
        return False

    return [word for word in words if not any(other != word and part_of(word, other) for other in words)]


@cache
def search_statement(calendars: int, similar_words: int = 0):
    """The user's matching events (not removed, not cancelled), best first; built once per shape and run with
    `search_parameters`. By default the words are looked up in the full-text index. With `similar_words` (how
    many words there are) each must instead resemble a word of the title or place (trigrams), which finds
    partial words and typos and is only asked when the words found nothing.

    The index is read once per calendar of the user (`calendars` of them, named in the parameters), the calendar
    narrowing each read. Joined to the user's calendars instead, the planner at times reads every user's matches
    first, when words that go together (standup, team) look rare together.

    An override is left out when its series matches too: the series stands for all its occurrences.
    """
    event, calendar, master = CalendarEvent, CalendarConnection, aliased(CalendarEvent)
    found, master_found = aliased(EventSearch), aliased(EventSearch)
    any_words = _tsquery("any_words")

    def similar(row):
        text = func.almanac_search_text(row.title, row.location)
        return and_(*(text.bool_op("%>")(_inline(f"word_{n}")) for n in range(similar_words)))

    if similar_words:
        candidates = union_all(*(
            select(event.id).where(event.calendar_connection_id == _inline(f"calendar_{n}", Uuid()), similar(event))
            for n in range(calendars)
        )).subquery()
        master_matches = similar(master)
        tier = literal(SIMILAR).label("tier")
    else:
        candidates = union_all(*(
            select(EventSearch.event_id.label("id")).where(
                EventSearch.calendar_connection_id == _inline(f"calendar_{n}", Uuid()),
                EventSearch.search_vector.bool_op("@@")(any_words))
            for n in range(calendars)
        )).subquery()
        master_matches = master_found.search_vector.bool_op("@@")(any_words)
        tier = case(
            (found.search_vector.bool_op("@@")(_tsquery("title_words")), IN_TITLE),
            (found.search_vector.bool_op("@@")(_tsquery("main_words")), IN_MAIN_FIELDS),
            else_=ANYWHERE,
        ).label("tier")
    now = bindparam("now", type_=Timestamp())
    series_runs_now = and_(event.is_recurring, event.start_time <= now,
                           or_(event.recurrence_end_date.is_(None), event.recurrence_end_date >= now))
    distance = case(
        (series_runs_now, 0),
        (and_(event.is_recurring, event.recurrence_end_date < now),
         func.extract("epoch", now - event.recurrence_end_date)),
        else_=func.abs(func.extract("epoch", event.start_time - now)),
    ).label("distance")
    statement = (
        select(
            event.id, event.title, event.location, event.description, event.start_time, event.end_time,
            event.is_all_day, event.timezone, event.is_recurring, event.recurrence_rule, event.attendees,
            event.sync_status, event.parent_event_id,
            event.provider_metadata["original_start_time"].astext.label("original_start_time"),
            event.provider_metadata["ical_uid"].astext.label("ical_uid"),
            *_CALENDAR_COLUMNS, tier, distance,
        )
        .join(calendar, event.calendar_connection_id == calendar.id)
        .outerjoin(master, event.parent_event_id == master.id)
        .where(
            calendar.user_id == bindparam("user_id"),
            calendar.deleted_at.is_(None),
            event.deleted_at.is_(None),
            event.status != EventStatus.CANCELLED,
            event.id.in_(select(candidates.c.id)),
            or_(master.id.is_(None), not_(func.coalesce(master_matches, False))),
        )
        .order_by(tier.desc(), distance, event.start_time.desc(), event.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    if similar_words:
        return statement
    return (statement.join(found, found.event_id == event.id)
            .outerjoin(master_found, master_found.event_id == master.id))


def search_parameters(user_id: uuid.UUID, calendar_ids: list[uuid.UUID], terms: Terms, now: datetime,
                      limit: int = PAGE_SIZE + 1, offset: int = 0) -> dict:
    return {"user_id": user_id, "now": now, "limit": limit, "offset": offset, "any_words": terms.tsquery(),
            "title_words": terms.tsquery("A"), "main_words": terms.tsquery("ABC"),
            **{f"word_{n}": word for n, word in enumerate(terms.words)},
            **{f"calendar_{n}": calendar_id for n, calendar_id in enumerate(calendar_ids)}}


def searched_calendars(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    return session.scalar(select(_calendar_ids(user_id)))


def _calendar_ids(user_id: uuid.UUID):
    """Every calendar of the user that is not removed, as an array: search looks at hidden and disconnected ones
    too."""
    return func.array(select(CalendarConnection.id).where(
        CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None)
    ).order_by(CalendarConnection.id).scalar_subquery())


def _inline(name: str, type_=None):
    """The words (and calendars) are written into the statement (escaped by the dialect), not bound: a prepared
    statement's generic plan, made without them, scans the wrong index and is fifty times slower."""
    return bindparam(name, type_=type_ or String(), literal_execute=True)


def _tsquery(name: str):
    return func.to_tsquery(_SIMPLE, _inline(name))


@dataclass(frozen=True, eq=False)  # compared by identity: merging copies keys on results
class SearchResult:
    event_id: uuid.UUID  # the row the link opens (the series master for an occurrence it generates)
    series_id: uuid.UUID | None
    original_start: datetime | None  # names the occurrence of a series
    title: str
    location: str | None
    description: str | None
    attendees: list[dict]
    start: datetime  # of the occurrence shown
    end: datetime
    is_all_day: bool
    timezone: str
    recurrence_rule: str | None  # for a series, how it repeats
    calendar: CalendarInfo
    tier: int
    sync_status: str
    ical_uid: str | None = None
    # The same invitation on the user's other calendars: every calendar it is on, this result's first.
    calendars: tuple[CalendarInfo, ...] = ()

    @property
    def is_generated_instance(self) -> bool:
        return self.series_id is not None and self.event_id == self.series_id


@dataclass(frozen=True)
class Search:
    terms: Terms
    results: list[SearchResult]
    page: int
    has_more: bool

    @property
    def count_shown(self) -> int:
        return len(self.results)

    @property
    def first_number(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1


def search_events(session: Session, user_id: uuid.UUID, text: str, now: datetime, page: int = 1) -> Search:
    text = _cleaned(text)
    if not text:
        return Search(Terms("", ()), [], page, False)
    # The words and the calendars in one round trip: on a busy machine each one can wait for a processor.
    lexemes, calendar_ids = session.execute(select(_lexemes(text), _calendar_ids(user_id))).one()
    terms = Terms(text, _words(lexemes))
    if terms.is_empty or not calendar_ids:
        return Search(terms, [], page, False)
    parameters = search_parameters(user_id, calendar_ids, terms, now, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    rows = session.execute(search_statement(len(calendar_ids)), parameters).all()
    if not rows and terms.similar_words and (page == 1 or not _any_word_match(session, parameters, terms)):
        rows = session.execute(search_statement(len(calendar_ids), terms.similar_words), parameters).all()
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    overrides = _overrides_by_master(session, [row.id for row in rows if row.is_recurring])
    results = _once_per_invitation(session, user_id, [_result(row, overrides.get(row.id, []), now) for row in rows])
    # The statement ranks a running series as happening now; its real nearest occurrence refines the order.
    results.sort(key=lambda result: (-result.tier, _distance(result, now)))
    return Search(terms, results, page, has_more)


def _once_per_invitation(session: Session, user_id: uuid.UUID, results: list[SearchResult]) -> list[SearchResult]:
    """An invitation found on several calendars is one result (the copy the week view shows) listing them all."""
    keys = [(result.ical_uid, result.start) for result in results if result.ical_uid]
    if len(keys) == len(set(keys)):
        return results  # nothing to merge: no statement spent on it
    facts = event_facts(session, user_id, {result.event_id for result in results if result.ical_uid})
    rank = {calendar.id: position for position, calendar in enumerate(user_calendars(session, user_id))}
    kept, copies = merge_copies(
        results, uid_of=lambda result: result.ical_uid,
        organises=lambda result: result.event_id in facts and facts[result.event_id].is_organizer,
        calendar_rank=lambda calendar: rank.get(calendar.id, len(rank)))
    return [replace(result, calendars=tuple(copy.calendar for copy in copies[result])) if result in copies
            else result for result in kept]


def _any_word_match(session: Session, parameters: dict, terms: Terms) -> bool:
    calendars = sum(1 for name in parameters if name.startswith("calendar_"))
    return bool(session.execute(search_statement(calendars), parameters | {"limit": 1, "offset": 0}).first())


def _distance(result: SearchResult, now: datetime) -> timedelta:
    if result.start <= now < result.end:
        return timedelta(0)
    return min(abs(result.start - now), abs(result.end - now))


def _result(row, overrides: list, now: datetime) -> SearchResult:
    calendar = _calendar_from(row)
    values = dict(
        title=row.title, location=row.location, description=row.description, attendees=_guests(row.attendees),
        is_all_day=row.is_all_day, timezone=row.timezone, calendar=calendar, tier=row.tier,
        sync_status=row.sync_status.value, ical_uid=row.ical_uid,
    )
    if row.is_recurring:
        nearest = nearest_occurrence(row, overrides, now)
        # A moved occurrence opens its own row; one the rule generates opens the series at that instance.
        return SearchResult(event_id=nearest.override_id or row.id, series_id=row.id,
                            original_start=nearest.original_start, start=nearest.start, end=nearest.end,
                            recurrence_rule=row.recurrence_rule, **values)
    if row.parent_event_id is not None:
        original = parse_original_start(row.original_start_time, row.id, row.start_time)
        return SearchResult(event_id=row.id, series_id=row.parent_event_id, original_start=original,
                            start=row.start_time, end=row.end_time, recurrence_rule=None, **values)
    return SearchResult(event_id=row.id, series_id=None, original_start=None, start=row.start_time,
                        end=row.end_time, recurrence_rule=None, **values)


def _guests(attendees) -> list[dict]:
    return [guest for guest in attendees if isinstance(guest, dict)] if isinstance(attendees, list) else []


def nearest_occurrence(row, override_rows: list, now: datetime) -> Occurrence:
    """The series' occurrence nearest to `now`; an override counts where it now is, and a cancelled one not at
    all. A series with none within ten years shows its first."""
    master = series_master(row)
    overrides = [_override(child) for child in override_rows]
    for span in _NEAREST_SPANS:
        around = expand(master, overrides, now - span, now + span)
        if around:
            return min(around, key=lambda occurrence: (abs(occurrence.start - now), occurrence.start))
    return Occurrence(row.id, None, row.start_time, row.end_time, row.start_time.astimezone(UTC))
