"""Property-based fuzzing of every URL pattern and form: no input may cause a 5xx or leave a half-written row.

Hypothesis drives every rule of the URL map (every method) through the Flask test client, as a visitor who is
signed out, a signed-in member and an admin. Path arguments are real ids and dates, near misses and junk;
query strings and form bodies start from a valid submission (where the endpoint takes one) and get fields
replaced by hostile values (NUL and other control characters, huge and odd Unicode strings, impossible dates,
foreign ids), dropped or added. Every endpoint also gets year 1 and year 9999 in every date it could read, as
explicit examples that run whatever Hypothesis draws. Each example runs inside a savepoint that is rolled back
afterwards (and Redis is emptied), so every example meets the same small world.

"Half-written" means: the response was an error (4xx/5xx), yet a table other than the audit log changed. A
refused request may record that it was refused (audit_logs), and nothing else.

    python -m bench.fuzz --examples 10000 --url-examples 1000 --jobs 2   # the full run (bench/results/fuzz.txt)
    python -m bench.fuzz --examples 200 --only auth.                     # endpoints named auth.*

`--examples` is per form (an endpoint that takes a submission: every POST with fields, and the admin filter
forms); `--url-examples` (default: the same) is per remaining URL pattern and method.

The test suite runs the same engine briefly (tests/web/test_fuzz.py) and lets Hypothesis shrink any failure.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import re
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from flask import Flask
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import scoped_session, sessionmaker

import webapp
from bench.recurrence import ISSUE_RULES
from webapp import audit
from webapp.admin.audit_query import Cursor
from webapp.auth.accounts import hash_password
from webapp.auth.invitations import create_invitation
from webapp.auth.recovery import create_reset_link
from webapp.auth.sessions import login_cookie_name, start_session
from webapp.auth.signup import request_signup, signup_mail
from webapp.calendar.periods import VIEW_KINDS
from webapp.extensions import db
from webapp.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarProvider,
    EventStatus,
    LoginSession,
    SyncStatus,
    User,
)

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
# Tables whose change on a refused request counts as half-written (the audit log records refusals by design).
NOT_CHECKED = {"audit_logs"}
# No provider may be reached from here: every provider URL points at a closed loopback port.
UNREACHABLE = "http://127.0.0.1:9"
UNREACHABLE_PROVIDERS = {
    "google": {"client_id": "fuzz-client", "client_secret": "fuzz-secret", "auth_url": f"{UNREACHABLE}/auth",
               "token_url": f"{UNREACHABLE}/token", "revoke_url": f"{UNREACHABLE}/revoke",
               "api_url": f"{UNREACHABLE}/calendar/v3", "userinfo_url": f"{UNREACHABLE}/userinfo"},
    "microsoft": {"client_id": "fuzz-client", "client_secret": "fuzz-secret", "authority": f"{UNREACHABLE}/common",
                  "graph_url": f"{UNREACHABLE}/v1.0"},
    "apple": {"base_url": f"{UNREACHABLE}/"},
    "sandbox": False,
}

CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x1b[2J", "\x7f", "\x85", "\x9f", "\r\n", "\t"]
NASTY = [
    "", " ", "\x00", "%00", "0", "-1", "1e309", "NaN", "inf", "null", "None", "true", "[]", "{}",
    "0000-00-00", "0000-01", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01", "2026-02-30", "2026-13-01",
    "1899-12-31", "2501-01-01", "2026-03-02T25:61", "24:00", "23:59:60", "-0001-01-01",
    "../../etc/passwd", "..%2f..%2f", "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}", "${jndi:x}",
    "\u202eevil", "\ufeff", "\u0000\u0000", "😀" * 10, "ℌ𝔢𝔩𝔩𝔬", "a" * 300, "a" * 10_000, "ア" * 600,
    "//evil.example", "https://evil.example/", "javascript:alert(1)", "\\\\evil.example", "/\\evil",
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "not-a-uuid",
    "#zzzzzz", "#1A73E8", "Mars/Olympus", "Etc/GMT+99", "UTC", "DAILY", "HOURLY", "this", "all",
]
QUERY_NAMES = ["start", "at", "view", "scope", "next", "state", "code", "error", "before", "after", "q", "token",
               "page", "visible", "month", "day"]
# The ends of `date` (year 1 and year 9999) and just past them: a day added or taken there overflows.
EXTREME_DATES = ["0001-01-01", "0001-01", "9999-12-31", "9999-12", "0000-01-01", "10000-01-01", "9999-12-31T23:59"]
# Every parameter, path argument or form field that names a day, month or moment.
DATE_NAMES = ("day", "month", "start", "end", "date", "anchor", "date_from", "date_to", "start_date", "end_date",
              "until")


def form_field_names() -> list[str]:
    """Every field name of every form in the app (imports all modules so every form class exists)."""
    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        importlib.import_module(module.name)
    names: set[str] = set()
    stack = [FlaskForm]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("webapp."):
            names.update(name for name in dir(cls) if not name.startswith("_")
                         and getattr(getattr(cls, name), "field_class", None) is not None)
    return sorted(names)


@dataclass
class World:
    """The same small world for every example: two people with calendars, an admin, links and sessions."""

    cookies: dict[str, dict[str, str]]
    hints: dict[str, list]
    baselines: dict[str, dict] = field(default_factory=dict)
    query_baselines: dict[str, dict] = field(default_factory=dict)


def build_world(app: Flask, session, redis: Redis) -> World:
    password_hash = hash_password(PASSWORD)
    suffix = secrets.token_hex(3)

    def person(name: str, **values) -> User:
        user = User(email=f"{name}-{suffix}@example.com", password_hash=password_hash, first_name=name.title(),
                    time_zone="Europe/Berlin", **values)
        session.add(user)
        session.flush()
        return user

    member, admin, other = person("member"), person("admin", is_admin=True), person("other")

    def calendar(owner: User, provider=CalendarProvider.GOOGLE, **values) -> CalendarConnection:
        values = {"calendar_name": "Work", "calendar_color": "#4285f4", "is_connected": True, "is_visible": True,
                  "can_write": True, **values}
        connection = CalendarConnection(user_id=owner.id, provider=provider, calendar_id=f"cal-{uuid.uuid4().hex}",
                                        **values)
        session.add(connection)
        session.flush()
        return connection

    work, apple, read_only, foreign = (calendar(member), calendar(member, CalendarProvider.APPLE),
                                       calendar(member, is_connected=False), calendar(other))
    day = date(2026, 3, 2)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)

    def event(connection: CalendarConnection, **values) -> CalendarEvent:
        values = {"title": "Standup", "start_time": start, "end_time": start + timedelta(minutes=30),
                  "timezone": "Europe/Berlin", "status": EventStatus.CONFIRMED, "sync_status": SyncStatus.SYNCED,
                  **values}
        row = CalendarEvent(calendar_connection_id=connection.id, provider_event_id=uuid.uuid4().hex, **values)
        session.add(row)
        session.flush()
        return row

    single, series = event(work), event(work, is_recurring=True, recurrence_rule="RRULE:FREQ=WEEKLY;BYDAY=MO")
    # The rules that once stalled every page they showed on (issue 19): every view the fuzz opens holds them.
    for rule in ISSUE_RULES:
        event(work, title="Hostile series", is_recurring=True, recurrence_rule="RRULE:" + rule,
              start_time=start - timedelta(days=60), end_time=start - timedelta(days=60) + timedelta(minutes=30))
    failed = event(work, sync_status=SyncStatus.FAILED, title="Did not reach Google")
    all_day = event(apple, is_all_day=True, start_time=datetime(2026, 3, 3, tzinfo=UTC),
                    end_time=datetime(2026, 3, 4, tzinfo=UTC))
    stranger, on_read_only = event(foreign), event(read_only)

    tokens = {user.id: start_session(session, user, absolute_days=30, user_agent="fuzz", ip_address="127.0.0.1")
              for user in (member, admin)}
    start_session(session, member, absolute_days=30, user_agent="phone", ip_address="127.0.0.2")
    # Valid for the whole run (a full run takes hours; the real links last 30 minutes).
    reset_token = create_reset_link(session, other, minutes=7 * 24 * 60).split("token=", 1)[1]
    pending = request_signup(session, email=f"newcomer-{suffix}@example.com", password=PASSWORD,
                             first_name="New", last_name=None)
    signup_token = re.search(r"token=(\S+)", signup_mail(session, pending.id).body).group(1)
    invitation_token = create_invitation(session, f"invited-{suffix}@example.com", invited_by=admin.id,
                                         now=datetime.now(UTC))[1].split("token=", 1)[1]
    entry = audit.record(session, "FUZZ_WORLD", user_id=member.id, resource=("user", member.id), origin={})
    session.flush()
    cursor = Cursor(entry.created_at, entry.id).encode()
    session_ids = list(session.scalars(select(LoginSession.id).where(LoginSession.user_id == member.id)))
    session.commit()  # a savepoint release: page views below run in sessions of their own

    logins = {"anonymous": None, "member": tokens[member.id], "admin": tokens[admin.id]}

    events = [single.id, series.id, failed.id, all_day.id, stranger.id, on_read_only.id]
    connections = [work.id, apple.id, read_only.id, foreign.id]
    hints: dict[str, list] = {
        "day": [day.isoformat(), "1900-01-01", "2500-12-31", "2026-02-28"],
        "month": ["2026-03", "1900-01", "2500-12"],
        "start": [day.isoformat(), "2026-03-02T10:30", "1900-01-01"],
        "end": ["2026-03-02T11:30"], "date": [day.isoformat()], "anchor": [day.isoformat()],
        "provider": ["google", "microsoft", "apple", "GOOGLE"],
        "event_id": events, "connection_id": connections, "session_id": session_ids,
        "user_id": [member.id, admin.id, other.id], "entry_id": [entry.id],
        "queue_name": ["sync", "default"], "job_id": [f"sync-connection-{work.id}", "push-event-x"],
        "filename": ["app.css", "app.js", "favicon.svg", "vendor/htmx-2.0.11.min.js", "../webapp/config.py"],
        "at": ["2026-03-09T09:00:00Z", "2026-03-09T09:00:00+00:00", "2026-03-10T09:00:00Z"],
        "view": list(VIEW_KINDS), "scope": ["", "this", "all"],
        "next": ["/calendar/week/2026-03-02", "/", "/calendar/month/2026-03"],
        "token": [reset_token, signup_token, invitation_token],
        "email": [member.email, other.email, admin.email, f"nobody-{suffix}@example.com"],
        "password": [PASSWORD, NEW_PASSWORD, "short"], "confirm": [PASSWORD, NEW_PASSWORD],
        "calendar_id": connections, "time_zone": ["Europe/Berlin", "UTC", "America/New_York", "right/Europe/Berlin",
                                                 "posix/Asia/Tokyo", "Factory", "localtime", "Europe"],
        "week_start": ["1", "7"], "start_date": [day.isoformat()], "end_date": [day.isoformat(), "2026-03-03"],
        "until": ["2026-06-01"], "start_time": ["09:00", "23:30"], "end_time": ["10:00", "23:59:59"],
        "repeat": ["", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "KEEP"], "interval": ["1", "2", "99"],
        "count": ["1", "10", "999"], "weekdays": ["MO", "SU", ["MO", "WE"]], "ends": ["never", "until", "count"],
        "is_all_day": ["y"], "visible": ["0", "1"], "color": ["#1a73e8", "#000000"],
        "apple_id": ["someone@icloud.com"], "app_password": ["abcd-efgh-ijkl-mnop"],
        "status": ["SUCCESS", "FAILURE"], "date_from": ["2026-01-01"], "date_to": ["2026-12-31"],
        "include_archived": ["y"], "action": ["USER_LOGIN"], "resource_type": ["user"], "error_text": ["rate"],
        "before": [cursor], "after": [cursor, member.email], "q": ["member", "@"],
        "state": [secrets.token_urlsafe(32)], "code": ["fuzz-code"], "error": ["access_denied"],
        "first_name": ["Ada"], "last_name": ["Lovelace"], "title": ["Lunch"], "location": ["Room 1"],
        "description": ["Notes\nmore notes"],
    }
    event_form = {"title": "Lunch", "start_date": day.isoformat(), "start_time": "12:00", "end_date": day.isoformat(),
                  "end_time": "13:00", "time_zone": "Europe/Berlin", "view": "week", "location": "", "description": ""}
    baselines = {
        "auth.login": {"email": member.email, "password": PASSWORD},
        "auth.register": {"email": f"fresh-{suffix}@example.com", "password": NEW_PASSWORD,
                                  "confirm": NEW_PASSWORD, "first_name": "Fresh"},
        "auth.forgot_password": {"email": member.email},
        "auth.reset_password": {"token": reset_token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "auth.confirm_signup": {"token": signup_token},
        "auth.accept_invitation": {"token": invitation_token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "admin.invite": {"email": f"invitee-{suffix}@example.com"},
        "settings.profile": {"first_name": "Ada", "last_name": "Lovelace", "time_zone": "Europe/Berlin",
                                     "week_start": "1"},
        "settings.adopt_time_zone": {"time_zone": "Europe/Berlin"},
        "calendar.new_event": {**event_form, "calendar_id": str(work.id)},
        "calendar.edit_event": {**event_form, "scope": "all"},
        "calendar.delete_event": {"scope": "this", "view": "week"},
        "calendar.set_visibility": {"visible": "0", "next": "/calendar/week/2026-03-02"},
        "connections.apple": {"apple_id": "someone@icloud.com", "app_password": "abcd-efgh-ijkl-mnop"},
        "connections.recolor": {"color": "#1a73e8"},
    }
    assert set(baselines) == set(FORM_BASELINES), "FORM_BASELINES names the endpoints with a baseline"
    query_baselines = {
        "auth.confirm_signup": {"token": signup_token}, "auth.reset_password": {"token": reset_token},
        "auth.accept_invitation": {"token": invitation_token},
        "calendar.event": {"at": "2026-03-09T09:00:00Z", "view": "month"},
        "calendar.new_event": {"start": "2026-03-02T10:30", "view": "day"},
        "calendar.edit_event": {"scope": "this", "at": "2026-03-09T09:00:00Z"},
        "admin.audit_log": {"status": "FAILURE", "date_from": "2026-01-01", "before": cursor},
        "admin.audit_export": {"action": "USER_LOGIN", "date_to": "2026-12-31"},
        "admin.users": {"q": "member", "after": member.email},
    }
    for name in DATE_NAMES:
        hints[name] = [*hints[name], *EXTREME_DATES]
    return World(logins, hints, baselines, query_baselines)


def persona_cookies(app: Flask, logins: dict[str, str | None]) -> dict[str, dict[str, str]]:
    """Cookies per persona: the login cookie, and the Flask cookie session that carries the CSRF secret (made by
    a real page view; run outside any app context, so each request gets its own `g`)."""
    cookies: dict[str, dict[str, str]] = {}
    login_cookie, session_cookie = login_cookie_name_for(app), app.config["SESSION_COOKIE_NAME"]
    for persona, token in logins.items():
        client = app.test_client()
        if token:
            client.set_cookie(login_cookie, token)
        page = client.get("/settings/profile" if token else "/login")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, f"{persona}: {page.status_code}"
        cookies[persona] = {session_cookie: client.get_cookie(session_cookie).value,
                            "csrf": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)}
        if token:
            cookies[persona][login_cookie] = token
    return cookies


def login_cookie_name_for(app: Flask) -> str:
    with app.test_request_context():
        return login_cookie_name()


@dataclass(frozen=True)
class Endpoint:
    name: str
    rule: str
    method: str
    arguments: tuple[str, ...]
    converters: dict

    @property
    def label(self) -> str:
        return f"{self.method} {self.rule}"


def endpoints(app: Flask) -> list[Endpoint]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(Endpoint(rule.endpoint, rule.rule, method, tuple(sorted(rule.arguments)),
                                  {name: type(conv).__name__ for name, conv in rule._converters.items()}))
    return found


@dataclass(frozen=True)
class FuzzRequest:
    persona: str
    path: str
    query: dict
    form: dict | None
    headers: dict

    def describe(self) -> str:
        return f"{self.persona} {self.path} query={self.query!r} form={self.form!r} headers={self.headers!r}"


def shape_of(value: str) -> st.SearchStrategy[str]:
    """Near misses of a valid value: every run of digits replaced by a number of the same width (Hypothesis
    favours the edges, so "2026-03" also becomes "0000-03", "9999-99", "2026-00" …)."""
    def digits(part: str) -> st.SearchStrategy[str]:
        width = len(part)
        edges = st.sampled_from(["0" * width, "9" * width, str(int(part) + 1).zfill(width)])
        return st.one_of(st.just(part), edges, st.integers(0, 10**width - 1).map(lambda n: f"{n:0{width}d}"))

    parts = re.split(r"(\d+)", value)
    return st.tuples(*(digits(part) if part.isdigit() else st.just(part) for part in parts)).map("".join)


HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(NASTY),
    st.builds(lambda word, bad, tail: word + bad + tail, st.sampled_from(["Ada", "2026-03-02", "09:00", "y"]),
              st.sampled_from(CONTROL), st.text(max_size=5)),
    st.integers(-(10**20), 10**20).map(str),
    st.integers(1, 20_000).map(lambda n: "9" * n),
)


def value_strategies(hints: dict[str, list]) -> dict[str, st.SearchStrategy]:
    """Per parameter name: its known good values, near misses of them, hostile text, and repeated values."""
    strategies = {}
    for name, known in hints.items():
        values = [str(value) if isinstance(value, uuid.UUID) else value for value in known]
        good = st.sampled_from(values)
        shapes = [shape_of(value) for value in values if isinstance(value, str) and re.search(r"\d", value)]
        near = st.one_of(*shapes) if shapes else HOSTILE_TEXT
        strategies[name] = st.one_of(good, good, near, HOSTILE_TEXT, st.lists(HOSTILE_TEXT, min_size=2, max_size=3))
    return strategies


def request_strategy(endpoint: Endpoint, world: World, field_names: list[str],
                     values: dict[str, st.SearchStrategy]) -> st.SearchStrategy[FuzzRequest]:
    """`values`: value_strategies(world.hints), built once per world (a tenth of a second each time)."""
    names = sorted(set(field_names) | set(QUERY_NAMES))
    key = st.one_of(st.sampled_from(names), st.sampled_from(names), st.text(min_size=1, max_size=8))
    uuids = st.one_of(st.sampled_from([str(v) for v in world.hints.get("event_id", [])]), st.uuids().map(str),
                      HOSTILE_TEXT)
    csrf = {persona: st.one_of(st.just(cookies["csrf"]), st.just(cookies["csrf"]), st.just(cookies["csrf"]),
                               HOSTILE_TEXT) for persona, cookies in world.cookies.items()}
    user_agent = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=40)

    def value_for(name: str) -> st.SearchStrategy:
        return values.get(name, HOSTILE_TEXT)

    @st.composite
    def build(draw) -> FuzzRequest:
        persona = draw(st.sampled_from(["anonymous", "member", "member", "admin"]))
        path = endpoint.rule
        for argument in endpoint.arguments:
            converter = endpoint.converters[argument]
            value = draw(values.get(argument, uuids) if converter == "UUIDConverter" else value_for(argument))
            value = value if isinstance(value, str) else "/".join(value)
            safe = "/" if converter == "PathConverter" else ""
            path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", lambda _m, v=value, s=safe: quote(v, safe=s), path)
        query = dict(world.query_baselines.get(endpoint.name, {}))
        for name in draw(st.lists(st.sampled_from(sorted(query)), max_size=2, unique=True)) if query else []:
            del query[name]
        for name in draw(st.lists(key, max_size=3, unique=True)):
            query[name] = draw(value_for(name))
        form = None
        if endpoint.method == "POST":
            form = dict(world.baselines.get(endpoint.name, {}))
            for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=2, unique=True)) if form else []:
                del form[name]
            for name in draw(st.lists(key, max_size=3, unique=True)):
                form[name] = draw(value_for(name))
            form["csrf_token"] = draw(csrf[persona])
        headers = {}
        if draw(st.booleans()):
            headers["HX-Request"] = "true"
        if draw(st.integers(0, 4)) == 0:
            headers["User-Agent"] = draw(user_agent)
        return FuzzRequest(persona, path, query, form, headers)

    return build()


def extreme_date_requests(endpoint: Endpoint, world: World) -> list[FuzzRequest]:
    """Each of EXTREME_DATES in every date the endpoint could read (path, query string and form at once), sent by
    the persona the endpoint serves: explicit examples, so every run tries them whatever Hypothesis draws."""
    persona = "admin" if endpoint.name.startswith("admin.") else "member"
    requests = []
    for value in EXTREME_DATES:
        path = endpoint.rule
        for argument in endpoint.arguments:
            chosen = value if argument in DATE_NAMES else str(world.hints.get(argument, ["x"])[0])
            path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", lambda _m, v=chosen: quote(v, safe=""), path)
        dates = dict.fromkeys(DATE_NAMES, value)
        query = {**world.query_baselines.get(endpoint.name, {}), **dates}
        form = None
        if endpoint.method == "POST":
            form = {**world.baselines.get(endpoint.name, {}), **dates, "csrf_token": world.cookies[persona]["csrf"]}
        requests.append(FuzzRequest(persona, path, query, form, {}))
    return requests


@dataclass
class Tally:
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    half_written: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    status: int
    changed: set[str]
    error: str | None = None

    @property
    def is_half_written(self) -> bool:
        return self.status >= 400 and bool(self.changed - NOT_CHECKED)


# Bookkeeping that any signed-in request may do, refused or not: not input leaking into the database.
UNCHECKED_COLUMNS = {("sessions", "last_seen_at")}


class Fuzzer:
    """Builds the world once (committed), then runs each example in a transaction of its own that is rolled back,
    so every example starts from the same rows. `close()` empties the tables again."""

    def __init__(self, app: Flask, redis: Redis):
        self.app, self.redis = app, redis
        self.errors: list[str] = []
        self._capture_unhandled_errors()
        with app.app_context():
            self.world = build_world(app, db.session, redis)
            db.session.commit()
            self.connection = db.engine.connect()
        self.world.cookies = persona_cookies(app, self.world.cookies)
        self.fingerprint_sql = " UNION ALL ".join(
            f"SELECT '{table.name}', md5(coalesce(string_agg(row({columns})::text, '|' ORDER BY row({columns})::text),"
            f" '')) FROM {table.name}"
            for table in db.metadata.sorted_tables
            for columns in [", ".join(column.name for column in table.columns
                                      if (table.name, column.name) not in UNCHECKED_COLUMNS)])
        with self.connection.begin():
            self.baseline = self.fingerprints()
        self.real_session = db.session
        self.field_names = form_field_names()
        self.values = value_strategies(self.world.hints)

    def close(self) -> None:
        db.session = self.real_session
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        with self.connection.begin():
            self.connection.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
        self.connection.close()

    def _capture_unhandled_errors(self) -> None:
        errors = self.errors

        class Collect(logging.Handler):
            def emit(self, record):
                if record.exc_info:
                    errors.append(logging.Formatter().formatException(record.exc_info)[-1500:])

        logger = logging.getLogger("webapp.errors")
        logger.setLevel(logging.ERROR)
        logger.addHandler(Collect(level=logging.ERROR))

    def fingerprints(self) -> dict[str, str]:
        return dict(self.connection.exec_driver_sql(self.fingerprint_sql).all())

    def send(self, request: FuzzRequest, method: str) -> Outcome:
        """One request inside a transaction that is rolled back afterwards; commits inside it are savepoints."""
        transaction = self.connection.begin()
        db.session = scoped_session(sessionmaker(bind=self.connection, join_transaction_mode="create_savepoint",
                                                 expire_on_commit=False))
        self.redis.flushdb()
        client = self.app.test_client()
        for name, value in self.world.cookies[request.persona].items():
            if name != "csrf":
                client.set_cookie(name, value)
        errors_before = len(self.errors)
        try:
            response = client.open(request.path, method=method, query_string=request.query, data=request.form,
                                   headers=request.headers)
            response.get_data()
            status = response.status_code
            response.close()
            error = self.errors[-1] if len(self.errors) > errors_before else None
        except Exception as exc:  # noqa: BLE001 - anything escaping the app is a failure to report, not to hide
            status, error = 599, f"{type(exc).__name__}: {exc}"
        finally:
            db.session.remove()
            db.session = self.real_session
        try:
            changed = {name for name, digest in self.fingerprints().items() if self.baseline.get(name) != digest}
        finally:
            transaction.rollback()
        return Outcome(status, changed, error)

    def run(self, endpoint: Endpoint, examples: int, *, check: bool) -> Tally:
        """`check`: assert on every example, so Hypothesis shrinks a failure, and generate the same examples on
        every run (tests); else count, with fresh random examples each time (benchmark)."""
        tally = Tally()
        strategy = request_strategy(endpoint, self.world, self.field_names, self.values)
        phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink] if check else [Phase.explicit,
                                                                                              Phase.generate]

        @settings(max_examples=examples, database=None, deadline=None, phases=phases, derandomize=check,
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(request=strategy)
        def probe(request: FuzzRequest) -> None:
            started = time.perf_counter()
            outcome = self.send(request, endpoint.method)
            tally.seconds += time.perf_counter() - started
            tally.requests += 1
            tally.client_errors += 400 <= outcome.status < 500
            tally.server_errors += outcome.status >= 500
            tally.half_written += outcome.is_half_written
            if (outcome.status >= 500 or outcome.is_half_written) and len(tally.failures) < 3:
                tally.failures.append(f"{outcome.status} changed={sorted(outcome.changed)} {request.describe()}"
                                      f"\n{outcome.error or ''}")
            if check:
                assert outcome.status < 500, f"{outcome.status} for {request.describe()}\n{outcome.error}"
                assert not outcome.is_half_written, (
                    f"{outcome.status} yet wrote {sorted(outcome.changed - NOT_CHECKED)}: {request.describe()}")

        for request in extreme_date_requests(endpoint, self.world):
            probe = example(request=request)(probe)
        probe()
        return tally


def fuzz_app(database_url: str, redis_url: str, **settings) -> Flask:
    import base64

    from webapp import create_app
    from webapp.config import Config, normalise_database_url

    config = Config(
        SECRET_KEY=secrets.token_urlsafe(32), SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
        REDIS_URL=redis_url, TOKEN_ENCRYPTION_KEYS="fuzz:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        LOG_LEVEL="CRITICAL", ENVIRONMENT="development", PROVIDERS=UNREACHABLE_PROVIDERS, **settings,
    )
    return create_app({"CONFIG": config})


def print_table(rows: list[tuple[Endpoint, Tally]], examples: int, url_examples: int) -> None:
    print(f"\nFuzz: {examples} examples per form (*), {url_examples} per other URL pattern; as a signed-out "
          "visitor, a member and an admin. 5xx and half-written rows must be 0.\n")
    print(f"| {'endpoint':<62} | {'requests':>8} | {'4xx':>7} | {'5xx':>4} | {'half-written':>12} | {'ms/req':>6} |")
    print(f"|{'-' * 64}|{'-' * 10}|{'-' * 9}|{'-' * 6}|{'-' * 14}|{'-' * 8}|")
    totals = Tally()
    for endpoint, tally in rows:
        per_request = 1000 * tally.seconds / max(tally.requests, 1)
        label = ("* " if is_form(endpoint) else "  ") + endpoint.label
        print(f"| {label:<62} | {tally.requests:>8} | {tally.client_errors:>7} | {tally.server_errors:>4} "
              f"| {tally.half_written:>12} | {per_request:>6.1f} |")
        totals.requests += tally.requests
        totals.client_errors += tally.client_errors
        totals.server_errors += tally.server_errors
        totals.half_written += tally.half_written
    print(f"| {'total (' + str(len(rows)) + ' endpoints)':<62} | {totals.requests:>8} | {totals.client_errors:>7} "
          f"| {totals.server_errors:>4} | {totals.half_written:>12} | {'':>6} |")
    for endpoint, tally in rows:
        for failure in tally.failures:
            print(f"\n{endpoint.label}: {failure}")


FORM_GETS = ("admin.audit_log", "admin.audit_export", "admin.users")
FORM_BASELINES = ("auth.login", "auth.register", "auth.forgot_password", "auth.reset_password", "auth.confirm_signup",
                  "auth.accept_invitation", "admin.invite",
                  "settings.profile", "settings.adopt_time_zone", "calendar.new_event", "calendar.edit_event",
                  "calendar.delete_event", "calendar.set_visibility", "connections.apple", "connections.recolor")


def is_form(endpoint: Endpoint) -> bool:
    return (endpoint.method == "POST" and endpoint.name in FORM_BASELINES) or endpoint.name in FORM_GETS


def fuzz_endpoints(labels: list[str], examples: int, url_examples: int) -> list[tuple[Endpoint, Tally]]:
    """One worker: its own throwaway PostgreSQL and Redis, the endpoints named by `labels`."""
    import os
    import tempfile
    from pathlib import Path

    from flask_migrate import upgrade

    from local.embedded import start_postgres, start_redis

    with tempfile.TemporaryDirectory(prefix="almanac-fuzz-") as root:
        external = os.environ.get("BENCH_DATABASE_URL")
        postgres = None if external else start_postgres(Path(root) / "pg", delete_on_stop=True)
        redis_server = start_redis(Path(root) / "redis", persist=False)
        try:
            app = fuzz_app(external or postgres.url(), redis_server.url)
            with app.app_context():
                upgrade()
            fuzzer = Fuzzer(app, Redis.from_url(redis_server.url))
            rows = []
            started = time.monotonic()
            try:
                for endpoint in endpoints(app):
                    if endpoint.label in labels:
                        count = examples if is_form(endpoint) else url_examples
                        rows.append((endpoint, fuzzer.run(endpoint, count, check=False)))
                        tally = rows[-1][1]
                        print(f"  {endpoint.label}: {tally.requests} requests, {tally.client_errors} 4xx, "
                              f"{tally.server_errors} 5xx, {tally.half_written} half-written "
                              f"({time.monotonic() - started:.0f} s)", flush=True)
            finally:
                fuzzer.close()
            return rows
        finally:
            redis_server.stop()
            if postgres:
                postgres.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per form")
    parser.add_argument("--url-examples", type=int, help="examples per other URL pattern (default: --examples)")
    parser.add_argument("--only", default="", help="endpoint name prefix, e.g. auth. or calendar.new_event")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, each with its own database")
    arguments = parser.parse_args()
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    url_examples = arguments.url_examples or arguments.examples
    # Listing the endpoints needs no database or Redis: nothing is contacted at start-up.
    app = fuzz_app("postgresql://localhost/unused", "redis://localhost/15")
    found = [e for e in endpoints(app) if e.name.startswith(arguments.only)]
    labels = [e.label for e in found]
    # Forms first (the password forms are slow: argon2), dealt round-robin so the workers finish together.
    ordered = [e.label for e in sorted(found, key=lambda e: not is_form(e))]
    shards = [ordered[index::arguments.jobs] for index in range(arguments.jobs)]
    started = time.monotonic()
    with ProcessPoolExecutor(arguments.jobs, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(fuzz_endpoints, shards, [arguments.examples] * len(shards),
                                [url_examples] * len(shards)))
    order = {label: index for index, label in enumerate(labels)}
    rows = sorted((row for shard in results for row in shard), key=lambda row: order[row[0].label])
    print_table(rows, arguments.examples, url_examples)
    print(f"\nwall time {time.monotonic() - started:.0f} s with {arguments.jobs} worker(s)")
    return 1 if any(t.server_errors or t.half_written for _, t in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
