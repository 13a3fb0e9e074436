"""CalDAV interoperability: the same operations against real Radicale and Xandikos servers started here (loopback,
free ports, stopped by pid), through the CalDAV provider the sync engine uses. Writes bench/results/interop.json and
interop.txt: server x operation -> pass/fail. tests/providers/test_interop.py runs the same scenario.

Operations: discovery from the bare server address (RFC 6764), a full sync, an incremental sync (changed, added,
removed by another client), create, edit, a recurring edit (one occurrence moved), cancelling one occurrence,
delete, a conflict (a write with a stale etag is refused, 412), and a refused password where the server checks
passwords (Xandikos leaves authentication to a proxy: "n/a").
"""
from __future__ import annotations

import tempfile
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.harness import row
from sandbox.radicale_server import create_calendar, start_radicale
from sandbox.xandikos_server import start_xandikos
from webapp.providers.base import AuthRejected, Credentials, PreconditionFailed, RemoteEvent
from webapp.providers.caldav import CalDavProvider
from webapp.providers.guard import GuardSettings

OPERATIONS = ("discovery", "full sync", "incremental sync", "create", "edit", "recurring edit",
              "cancel one occurrence", "delete", "conflict (stale etag refused)", "wrong password refused")
LOCAL = GuardSettings(allow_private=True)  # the servers are on loopback, as ALLOW_PRIVATE_SOURCES=1 allows
USER, PASSWORD = "alice", "abcd-efgh-ijkl-mnop"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ics(uid: str, summary: str, start: str, extra: str = "") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Interop//EN", "BEGIN:VEVENT", f"UID:{uid}",
             "DTSTAMP:20240101T000000Z", f"SUMMARY:{summary}", f"DTSTART:{start}Z", "DURATION:PT1H",
             *([extra] if extra else []), "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


class Scenario:
    """The operations against one server, in order; each records pass or fail with the reason."""

    def __init__(self, base_url: str, collection: str, checks_passwords: bool):
        self.base_url, self.collection, self.checks_passwords = base_url, collection, checks_passwords
        self.provider = CalDavProvider(guard=LOCAL, timeout=10)
        self.credentials = Credentials(username=USER, password=PASSWORD, server_url=base_url)
        self.auth = (USER, PASSWORD)
        self.results: dict[str, str] = {}
        self.token: str | None = None

    def put(self, name: str, text: str) -> None:
        requests.put(self.collection + name, data=text.encode(), auth=self.auth, timeout=10,
                     headers={"Content-Type": "text/calendar; charset=utf-8"}).raise_for_status()

    def check(self, name: str, action: Callable[[], None]) -> None:
        try:
            action()
            self.results[name] = "pass"
        except Exception as error:  # a table of outcomes: every failure is recorded, none stops the others
            self.results[name] = f"fail: {type(error).__name__}: {error}"[:300]
            if not isinstance(error, NotApplicable):
                traceback.print_exc()

    def run(self) -> dict[str, str]:
        with self.provider:
            for name, action in zip(OPERATIONS, (
                    self.discovery, self.full_sync, self.incremental_sync, self.create, self.edit, self.recurring_edit,
                    self.cancel_occurrence, self.delete, self.conflict, self.wrong_password), strict=True):
                self.check(name, action)
        return self.results

    def titles(self, events) -> list[str]:
        return sorted(event.title for event in events)

    def discovery(self):
        calendars = self.provider.list_calendars(self.credentials)
        assert self.collection in [calendar.calendar_id for calendar in calendars], calendars

    def full_sync(self):
        self.put("a.ics", ics("uid-a", "Alpha", "20240510T090000"))
        self.put("b.ics", ics("uid-b", "Beta", "20240511T090000"))
        self.put("s.ics", ics("uid-s", "Series", "20240506T080000", "RRULE:FREQ=DAILY;COUNT=5"))
        page = self.provider.fetch_changes(self.credentials, self.collection, None, None)
        assert self.titles(page.events) == ["Alpha", "Beta", "Series"], self.titles(page.events)
        assert page.sync_token and not page.next_page
        self.token = page.sync_token

    def incremental_sync(self):
        self.put("a.ics", ics("uid-a", "Alpha moved", "20240512T090000"))
        self.put("c.ics", ics("uid-c", "Gamma", "20240513T090000"))
        requests.delete(self.collection + "b.ics", auth=self.auth, timeout=10).raise_for_status()
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        assert self.titles(page.events) == ["Alpha moved", "Gamma"], self.titles(page.events)
        assert [href.rsplit("/", 1)[1] for href in page.removed_ids] == ["b.ics"], page.removed_ids
        self.token = page.sync_token

    def create(self):
        self.created = self.provider.create_event(self.credentials, self.collection, RemoteEvent(
            provider_event_id=str(uuid.uuid4()), title="Lunch", start_time=utc(2024, 6, 3, 12),
            end_time=utc(2024, 6, 3, 13), timezone="Europe/Berlin"))
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        assert self.titles(page.events) == ["Lunch"] and self.created.etag
        self.token = page.sync_token

    def edit(self):
        self.created = self.provider.update_event(self.credentials, self.collection,
                                                  RemoteEvent(**{**vars(self.created), "title": "Long lunch"}))
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        assert self.titles(page.events) == ["Long lunch"], self.titles(page.events)
        self.token = page.sync_token

    def recurring_edit(self):
        series = self.provider.create_event(self.credentials, self.collection, RemoteEvent(
            provider_event_id=str(uuid.uuid4()), title="Yoga", start_time=utc(2024, 3, 5, 17),
            end_time=utc(2024, 3, 5, 18), timezone="America/New_York", recurrence_rule="RRULE:FREQ=WEEKLY;COUNT=4"))
        moved = self.provider.update_event(self.credentials, self.collection, RemoteEvent(
            provider_event_id="local-override", title="Yoga (moved)", start_time=utc(2024, 3, 13, 22),
            end_time=utc(2024, 3, 13, 23), timezone="America/New_York",
            parent_provider_event_id=series.provider_event_id, original_start_time=utc(2024, 3, 12, 21),
            etag=series.etag))
        self.series, self.series_etag = series, moved.etag
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        overrides = [event for event in page.events if event.parent_provider_event_id]
        assert [(event.title, event.start_time) for event in overrides] == [("Yoga (moved)", utc(2024, 3, 13, 22))]
        self.token = page.sync_token

    def cancel_occurrence(self):
        self.provider.delete_event(self.credentials, self.collection,
                                   f"{self.series.provider_event_id}::2024-03-19T21:00:00Z", self.series_etag)
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        master = next(event for event in page.events if not event.parent_provider_event_id)
        assert "EXDATE" in (master.recurrence_rule or ""), master.recurrence_rule
        self.token = page.sync_token

    def delete(self):
        self.provider.delete_event(self.credentials, self.collection, self.created.provider_event_id,
                                   self.created.etag)
        page = self.provider.fetch_changes(self.credentials, self.collection, self.token, None)
        assert page.removed_ids == [self.created.provider_event_id], page.removed_ids
        self.token = page.sync_token

    def conflict(self):
        stale = self.provider.create_event(self.credentials, self.collection, RemoteEvent(
            provider_event_id=str(uuid.uuid4()), title="Review", start_time=utc(2024, 7, 1, 9),
            end_time=utc(2024, 7, 1, 10)))
        name = stale.provider_event_id.rsplit("/", 1)[1]
        self.put(name, ics(name.removesuffix(".ics"), "Review (changed elsewhere)", "20240701T100000"))
        try:
            self.provider.update_event(self.credentials, self.collection,
                                       RemoteEvent(**{**vars(stale), "title": "Mine"}))
        except PreconditionFailed:
            return
        raise AssertionError("a write with a stale etag was accepted")

    def wrong_password(self):
        if not self.checks_passwords:
            raise NotApplicable
        wrong = Credentials(username=USER, password="wrong-pass-word", server_url=self.base_url)
        try:
            self.provider.list_calendars(wrong)
        except AuthRejected:
            return
        raise AssertionError("a wrong password was accepted")


class NotApplicable(Exception):
    pass


def run_against(server: str, root: Path) -> dict[str, str]:
    """Start the server, run the scenario, stop it (by its pid); operation -> "pass" | "n/a" | "fail: …"."""
    if server == "Radicale":
        running = start_radicale(root / "radicale", {USER: PASSWORD})
        collection = create_calendar(running.url, USER, PASSWORD, "interop", "Interop", "#112233")
        scenario = Scenario(running.url, collection, checks_passwords=True)
    else:
        running = start_xandikos(root / "xandikos", USER)
        scenario = Scenario(running.url, running.calendar_url, checks_passwords=False)
    try:
        results = scenario.run()
    finally:
        running.stop()
    return {name: "n/a" if outcome.startswith("fail: NotApplicable") else outcome
            for name, outcome in results.items()}


SERVERS = ("Radicale", "Xandikos")


def run(quick: bool = False, scale: int = 1) -> dict:
    table: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="almanac-interop-") as root:
        for server in SERVERS:
            table[server] = run_against(server, Path(root))
    rows = [row(f"{server}: {operation}", 1.0 if outcome == "pass" else 0.0, "pass", "pass",
                outcome in ("pass", "n/a"))
            for server, outcomes in table.items() for operation, outcome in outcomes.items()]
    lines = [f"{'operation':<32}" + "".join(f"{server:<12}" for server in SERVERS)]
    for operation in OPERATIONS:
        lines.append(f"{operation:<32}" + "".join(f"{table[server][operation].split(':')[0]:<12}"
                                                  for server in SERVERS))
    failures = [f"{server} {operation}: {outcome}" for server, outcomes in table.items()
                for operation, outcome in outcomes.items() if outcome.startswith("fail")]
    if not quick:
        (Path(__file__).parent / "results" / "interop.txt").write_text("\n".join(lines + failures) + "\n")
    return {"title": "CalDAV interop: Radicale and Xandikos started here, server x operation", "rows": rows,
            "notes": lines + failures, "table": table}
