"""Search at the seed's 300,000 events and at 3,000,000, against the target "p95 ≤ 20 ms for a two-word query".

A search only ever reads one user's calendars, so its cost follows the user's own events more than the table's:
"3m" has ten times the users of the seed, "3m-heavy" ten times the events per user.

Builds users with three calendars each whose events have realistic text: titles from a few hundred words with a
skewed (Zipf-like) choice, locations, guests with accented names, and descriptions of 40-120 words. Then times
`search_events` (the whole search a page waits for: the words, the statement, series, highlighting) for random
users and two-word queries, and saves the plan of one search under bench/results/.

Run: `python -m bench.search` (300k and 3m), or name the sizes: `python -m bench.search 300k 3m-heavy`.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import event, select, text

from bench.harness import bench_app, percentile
from webapp.extensions import db
from webapp.models import User
from webapp.search.engine import (
    parse_query,
    search_events,
    search_parameters,
    search_statement,
    searched_calendars,
)

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 20
SAMPLES, WARM_UP = 300, 30
# (users, calendars per user, events per calendar): the seed's estimate; ten times the users at the seed's density;
# and ten times the events per user (ten years of history), where a search has ten times as much to look through.
SIZES = {"300k": (1000, 3, 100), "3m": (10_000, 3, 100), "3m-heavy": (1000, 3, 1000)}
DEFAULT_SIZES = ("300k", "3m")
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)

def _words(text: str) -> list[str]:
    return text.split()


TOPICS = _words("""budget roadmap design hiring launch release marketing sales finance product security compliance
platform mobile backend frontend infrastructure onboarding training customer partner vendor legal audit
quarterly annual weekly monthly strategy research analytics data pricing support operations facilities
recruiting interview performance retro sprint planning architecture migration database network cloud billing
invoices contracts procurement board investor press events conference workshop offsite wellness benefits
payroll tax insurance travel visa relocation office kitchen parking garden school dentist doctor gym yoga
piano football swimming birthday anniversary wedding dinner lunch breakfast coffee drinks brunch picnic concert
theatre cinema museum library bookclub volunteering church mosque synagogue temple""")
KINDS = _words("""review sync standup meeting call catch-up check-in kickoff demo workshop session briefing deep-dive
planning brainstorm interview presentation debrief huddle discussion update walkthrough appointment class
practice party""")
PEOPLE = _words("""Ann Ben Chloé Dmitri Élodie François Grace Hiroshi Ingrid José Kofi Lena Mateo Noémie Oskar Priya
Quentin Rosa Søren Tomás Uma Văn Wiktor Xiadani Yusuf Zoë Anaïs Björn Ciarán Dagný Eoin Fatima Gökhan Hélène
Ines Jürgen Kasia Łukasz Marta Nuño""")
PLACES = """Room Zürich|Room Paris|Room Kraków|Room São Paulo|Main hall|Café Müller|Zoom|Teams|Google Meet|
Reception|Studio B|Library|Boardroom|Kitchen|Rooftop|Garden|Gym|Clinic""".replace("\n", "").split("|")
FILLER = _words("""the a to of and for with on in we will discuss review agenda notes please bring your laptop slides
numbers updates next steps action items follow up decisions questions open issues risks timeline owners
dependencies blockers context background goals metrics results feedback proposal draft final version link
document spreadsheet dashboard ticket board channel thread summary recap minutes call dial-in passcode
meeting room building floor parking visitor badge lunch provided coffee snacks""")


def _array(words: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + word.replace("'", "''") + "'" for word in words) + "]"


# pow(random(), 2) skews every choice towards the front of its list, as real vocabularies are skewed.
DATASET = [
    ("users", """
        INSERT INTO users (email, password_hash, time_zone)
        SELECT 'bench' || n || '@example.com', 'not-a-hash', 'Europe/Berlin' FROM generate_series(1, :users) AS n"""),
    ("calendar_connections", """
        INSERT INTO calendar_connections (user_id, provider, calendar_id, calendar_name, calendar_color, is_primary)
        SELECT u.id, (ARRAY['GOOGLE', 'MICROSOFT', 'APPLE'])[c]::calendar_provider, u.email || '/calendar-' || c,
               (ARRAY['Work', 'Home', 'Family'])[c], '#4285f4', c = 1
        FROM users u CROSS JOIN generate_series(1, :calendars) AS c"""),
    ("calendar_events", f"""
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, description, location,
            start_time, end_time, is_all_day, timezone, status, sync_status, attendees)
        SELECT cc.id, 'event-' || n,
               initcap(topics[1 + floor(pow(random(), 2) * array_length(topics, 1))::int]) || ' '
                   || kinds[1 + floor(pow(random(), 2) * array_length(kinds, 1))::int]
                   || CASE WHEN n % 5 = 0 THEN ' with ' || people[1 + floor(random() * array_length(people, 1))::int]
                           ELSE '' END,
               (SELECT string_agg(filler[1 + floor(pow(random(), 2) * array_length(filler, 1))::int]
                                  || CASE WHEN w % 9 = 0 THEN ' ' || topics[1 + floor(random() * 40)::int] ELSE '' END,
                                  ' ')
                FROM generate_series(1, 40 + (n * 7 + w0) % 80) AS w),
               places[1 + floor(pow(random(), 2) * array_length(places, 1))::int],
               start_at, start_at + (30 + (n % 4) * 30) * interval '1 minute', false, 'Europe/Berlin',
               'CONFIRMED', 'SYNCED',
               (SELECT jsonb_agg(jsonb_build_object(
                           'name', people[p], 'email', lower(people[p]) || '@example.org',
                           'responseStatus', 'accepted', 'organizer', k = 1))
                FROM generate_series(1, n % 5) AS k
                CROSS JOIN LATERAL (SELECT 1 + floor(random() * array_length(people, 1) + k * 0)::int AS p) AS pick)
        FROM calendar_connections cc
        CROSS JOIN generate_series(1, :events) AS n
        CROSS JOIN LATERAL (SELECT abs(hashtext(cc.id::text)) % 7 AS w0) AS seed
        CROSS JOIN LATERAL (
            SELECT make_timestamptz(2026, 6, 15, 7, 0, 0, 'UTC')
                   + ((random() - 0.6) * 365 * (:events / 100.0)) * interval '1 day'
                   + (n % 10) * interval '1 hour' AS start_at
        ) AS times
        CROSS JOIN (SELECT {_array(TOPICS)} AS topics, {_array(KINDS)} AS kinds, {_array(PEOPLE)} AS people,
                           {_array(PLACES)} AS places, {_array(FILLER)} AS filler) AS words
        WHERE abs(hashtext(cc.id::text)) % :parts = :part"""),
    ("series masters", """
        INSERT INTO calendar_events (calendar_connection_id, provider_event_id, title, start_time, end_time,
            timezone, status, sync_status, is_recurring, recurrence_rule, recurrence_frequency, recurrence_interval)
        SELECT cc.id, 'series-' || s, (ARRAY['Team standup', 'Budget review', 'Piano lesson'])[s],
               make_timestamptz(2024, 1, 8, 9, 30, 0, 'Europe/Berlin') + s * interval '3 hours',
               make_timestamptz(2024, 1, 8, 10, 0, 0, 'Europe/Berlin') + s * interval '3 hours',
               'Europe/Berlin', 'CONFIRMED', 'SYNCED', true,
               (ARRAY['RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', 'RRULE:FREQ=MONTHLY;BYMONTHDAY=8',
                      'RRULE:FREQ=WEEKLY;BYDAY=TH'])[s],
               (ARRAY['WEEKLY', 'MONTHLY', 'WEEKLY'])[s]::recurrence_frequency, 1
        FROM calendar_connections cc CROSS JOIN generate_series(1, 3) AS s
        WHERE cc.is_primary"""),
]


def build_dataset(session, users: int, calendars: int, events: int) -> None:
    """Loaded as a bulk import would be: the event indexes dropped, rows in parts of ~300k, indexes rebuilt."""
    indexes = session.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'calendar_events' "
        "AND indexname NOT IN ('calendar_events_pkey', 'calendar_events_calendar_connection_id_provider_event_id_key')"
    )).all()
    # Per-column statistics targets set by the migrations go with the index; put them back after.
    targets = session.execute(text(
        "SELECT c.relname, a.attnum, a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relname = ANY(:names) AND a.attstattarget >= 0"), {"names": [name for name, _ in indexes]}).all()
    for name, _definition in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    session.execute(text("SELECT setseed(0.13)"))
    parts = max(1, users * calendars * events // 300_000)
    for name, statement in DATASET:
        started, count = time.perf_counter(), 0
        for part in range(parts if ":part" in statement else 1):
            parameters = {"users": users, "calendars": calendars, "events": events, "parts": parts, "part": part}
            count += session.execute(text(statement), parameters).rowcount
            session.commit()
        print(f"  {name:<22} {count:>10,} rows in {time.perf_counter() - started:6.1f} s", flush=True)
    started = time.perf_counter()
    session.execute(text("SET maintenance_work_mem = '512MB'"))
    for _name, definition in indexes:
        session.execute(text(definition))
        session.commit()
    for name, column, target in targets:
        session.execute(text(f'ALTER INDEX "{name}" ALTER COLUMN {column} SET STATISTICS {target}'))
    session.commit()
    print(f"  {len(indexes)} indexes rebuilt in {time.perf_counter() - started:6.1f} s", flush=True)
    started = time.perf_counter()
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
        size = connection.exec_driver_sql(
            "SELECT pg_size_pretty(pg_total_relation_size('calendar_events')), "
            "pg_size_pretty(pg_relation_size('event_search_idx')), "
            "pg_size_pretty(pg_relation_size('calendar_events_search_text_trgm_idx'))").one()
    print(f"  vacuum analyze in {time.perf_counter() - started:.1f} s; calendar_events {size[0]} in all, "
          f"word index {size[1]}, trigram index {size[2]}", flush=True)


def two_word_queries(chooser: random.Random) -> list[str]:
    """What people type: a topic and a kind ("budget review"), or a topic and a person ("lunch zoë")."""
    queries = []
    for _ in range(SAMPLES + WARM_UP):
        topic = chooser.choice(TOPICS[:60])
        second = chooser.choice(KINDS) if chooser.random() < 0.7 else chooser.choice(PEOPLE).lower()
        queries.append(f"{topic} {second}")
    return queries


def measure(session, user_ids: list, queries: list[str], chooser: random.Random, read, *, timed=None) -> tuple:
    """p50, p95 and mean milliseconds, and the mean number of results; `timed` reports its own time."""
    timings, found = [], []
    for index, query in enumerate(queries):
        user_id = chooser.choice(user_ids)
        started = time.perf_counter()
        if timed:
            elapsed, count = timed(user_id, query)
        else:
            count = read(user_id, query)
            elapsed = (time.perf_counter() - started) * 1000
        if index >= WARM_UP:
            timings.append(elapsed)
            found.append(count)
    return (percentile(timings, 0.5), percentile(timings, 0.95), statistics.fmean(timings),
            statistics.fmean(found))


def sent_statement(session, user_id, query: str) -> tuple[str, object]:
    """The search statement as the app sends it (words written in, the rest bound by the driver)."""
    terms = parse_query(session, query)
    connection = session.connection()
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        calendars = searched_calendars(session, user_id)
        session.execute(search_statement(len(calendars)), search_parameters(user_id, calendars, terms, NOW)).all()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    return sent[-1]


def explain(session, user_id, query: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement the app really sends."""
    statement, parameters = sent_statement(session, user_id, query)
    plan = session.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
    return "\n".join(plan.scalars().all())


def server_milliseconds(session, user_id, query: str) -> tuple[float, int]:
    """PostgreSQL's own planning + execution time for one search (no driver or Python), and the rows found."""
    statement, parameters = sent_statement(session, user_id, query)
    plan = session.connection().exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
    result = plan.scalar_one()[0]
    return result["Planning Time"] + result["Execution Time"], result["Plan"]["Actual Rows"]


def run(label: str) -> tuple:
    users, calendars, events = SIZES[label]
    total = users * calendars * events
    print(f"\nsearch at {label}: {users:,} users x {calendars} calendars x {events:,} events = {total:,} events "
          f"(+3 series per user)", flush=True)
    with bench_app():
        session = db.session
        build_dataset(session, users, calendars, events)
        chooser = random.Random(13)
        user_ids = session.scalars(select(User.id).where(User.email.like("bench%"))).all()
        queries = two_word_queries(chooser)
        # The machine may be shared: say how busy it was, as timings depend on it.
        print("  load average before timing: " + " ".join(f"{load:.1f}" for load in os.getloadavg()), flush=True)

        def sql_only(user_id, query):
            terms = parse_query(session, query)
            calendars = searched_calendars(session, user_id)
            return len(session.execute(search_statement(len(calendars)),
                                       search_parameters(user_id, calendars, terms, NOW)).all())

        def whole(user_id, query):
            return search_events(session, user_id, query, NOW).count_shown

        server = partial(server_milliseconds, session)
        rows = [("two words: in PostgreSQL (plan+run)", *measure(session, user_ids, queries, chooser, None,
                                                                 timed=server)),
                ("two words: SQL (words + statement)", *measure(session, user_ids, queries, chooser, sql_only)),
                ("two words: whole search", *measure(session, user_ids, queries, chooser, whole))]
        typed = [query[:-2] for query in queries]  # mid-word, as the box searches while typing
        rows.append(("two words, last one half typed", *measure(session, user_ids, typed, chooser, whole)))
        fuzzy = [query.replace("e", "", 1) for query in queries]  # a typo: only the trigrams can find it
        rows.append(("two words with a typo", *measure(session, user_ids, fuzzy, chooser, whole)))
        plan = explain(session, user_ids[len(user_ids) // 2], "budget review")
    RESULTS.mkdir(exist_ok=True)
    plan_path = RESULTS / f"search_plan_{label}.txt"
    plan_path.write_text(f"-- search 'budget review' for one user at {label} ({total:,} events)\n{plan}\n")
    print(f"\n  plan saved to {plan_path}")
    return label, total, rows


def print_table(results) -> None:
    print()
    print(f"{'size':<6} {'search':<36} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'hits':>6}   target p95")
    print("-" * 92)
    for label, _total, rows in results:
        for name, p50, p95, mean, hits in rows:
            verdict = "ok" if p95 <= TARGET_MS else "OVER"
            print(f"{label:<6} {name:<36} {p50:>8.2f} {p95:>8.2f} {mean:>8.2f} {hits:>6.1f}   "
                  f"<= {TARGET_MS} ms {verdict}")
    print()


def main(labels: list[str] | None = None) -> None:
    results = []
    for label in labels or DEFAULT_SIZES:
        results.append(run(label))
        print_table(results[-1:])
    if len(results) > 1:
        print_table(results)


if __name__ == "__main__":
    main([argument.lower() for argument in sys.argv[1:]] or None)
