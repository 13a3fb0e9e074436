"""Run a real Radicale 3 CalDAV server on loopback, and seed it with calendars and events.

The test suite and sandbox mode use it as the local stand-in for iCloud: HTTP Basic auth against an
htpasswd file, each user owning only their own collections.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin
from xml.sax.saxutils import escape

import requests

STARTUP_TIMEOUT_SECONDS = 15.0

_MKCALENDAR_BODY = """<?xml version="1.0" encoding="utf-8"?>
<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:ic="http://apple.com/ns/ical/">
  <d:set><d:prop>
    <d:displayname>{display_name}</d:displayname>
    <ic:calendar-color>{color}</ic:calendar-color>{order}
    <c:supported-calendar-component-set>{components}</c:supported-calendar-component-set>
  </d:prop></d:set>
</c:mkcalendar>
"""


@dataclass
class RunningRadicale:
    url: str  # e.g. "http://127.0.0.1:53211" (no trailing slash)
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_radicale(storage_dir: Path, users: dict[str, str]) -> RunningRadicale:
    """Start `python -m radicale` on a free loopback port and wait until it answers HTTP."""
    storage_dir = Path(storage_dir)
    storage_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config_path = _write_config(storage_dir, users, port)
    log_path = storage_dir / "radicale.log"
    with log_path.open("ab") as log_file:
        # Fixed argv built from our own interpreter and a file we just wrote: nothing user-controlled.
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "radicale", "--config", str(config_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = RunningRadicale(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_ready(server)
    except Exception:
        server.stop()
        raise
    return server


def create_calendar(
    url: str, user: str, password: str, name: str, display_name: str, color: str,
    components: tuple[str, ...] = ("VEVENT",), order: int | None = None,
) -> str:
    """MKCALENDAR /{user}/{name}/ with a display name, an Apple colour and optionally Apple's calendar-order.

    Returns the collection URL.
    """
    collection_url = f"{url.rstrip('/')}/{user}/{name}/"
    body = _MKCALENDAR_BODY.format(
        display_name=escape(display_name), color=escape(color),
        order=f"\n    <ic:calendar-order>{order}</ic:calendar-order>" if order is not None else "",
        components="".join(f'<c:comp name="{escape(component)}"/>' for component in components),
    )
    response = requests.request(
        "MKCALENDAR", collection_url, data=body.encode(), auth=(user, password), timeout=10,
        headers={"Content-Type": "application/xml; charset=utf-8"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"MKCALENDAR {collection_url} failed with HTTP {response.status_code}")
    return collection_url


def delete_calendar(user: str, password: str, collection_url: str) -> None:
    """DELETE the collection, as iCloud does when the calendar is deleted: requests naming it then answer 404 (a PUT
    into it, 409)."""
    response = requests.delete(collection_url, auth=(user, password), timeout=10)
    if response.status_code not in (200, 204):
        raise RuntimeError(f"DELETE {collection_url} failed with HTTP {response.status_code}")


def put_event(url: str, user: str, password: str, calendar_path: str, filename: str, ics_text: str) -> str | None:
    """PUT one calendar object resource (unconditionally); returns the ETag the server sent, if any.

    `calendar_path` is a collection path such as "/alice/home/" or a full collection URL.
    """
    resource_url = urljoin(f"{url.rstrip('/')}/", calendar_path.rstrip("/") + "/" + filename)
    response = requests.put(
        resource_url, data=ics_text.encode(), auth=(user, password), timeout=10,
        headers={"Content-Type": "text/calendar; charset=utf-8"},
    )
    if response.status_code not in (201, 204):
        raise RuntimeError(f"PUT {resource_url} failed with HTTP {response.status_code}")
    return response.headers.get("ETag")


def seed_sample_calendars(url: str, user: str, password: str, today: date | None = None) -> list[str]:
    """Create "Home" and "Trips" with a few realistic events around `today`; returns the collection URLs."""
    today = today or date.today()
    home = create_calendar(url, user, password, "home", "Home", "#34a853", order=1)
    trips = create_calendar(url, user, password, "trips", "Trips", "#fbbc04", order=2)
    put_event(url, user, password, home, "piano-lesson.ics", _weekly_series_ics(today))
    put_event(url, user, password, home, "dentist.ics", _single_event_ics(today + timedelta(days=2)))
    put_event(url, user, password, trips, "lisbon.ics", _all_day_trip_ics(today + timedelta(days=9)))
    return [home, trips]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write_config(storage_dir: Path, users: dict[str, str], port: int) -> Path:
    users_path = storage_dir / "users"
    users_path.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    config_path = storage_dir / "config"
    config_path.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0

[auth]
type = htpasswd
htpasswd_filename = {users_path}
htpasswd_encryption = plain
# The default 1 s penalty per failed login only slows the tests down.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {storage_dir / "collections"}

[web]
type = none

[logging]
level = warning
"""
    )
    return config_path


def _wait_until_ready(server: RunningRadicale) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Radicale exited with code {server.process.returncode}; see {server.log_path}")
        try:
            requests.request("OPTIONS", f"{server.url}/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"Radicale did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s; see {server.log_path}")


_NEW_YORK_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE"""


def _calendar(*components: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Almanac//Sandbox//EN", *components, "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def _local(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute).strftime("%Y%m%dT%H%M%S")


def _weekly_series_ics(today: date) -> str:
    """Tuesday 17:30 New York lessons from three weeks ago: one week skipped, one moved an hour later."""
    first = today - timedelta(days=today.weekday() - 1 + 21)  # a Tuesday three weeks back
    skipped = first + timedelta(weeks=2)
    moved = first + timedelta(weeks=4)
    stamp = "DTSTAMP:20240101T000000Z"
    master = "\r\n".join([
        "BEGIN:VEVENT", "UID:sandbox-piano-lesson@almanac", stamp, "SUMMARY:Piano lesson",
        "LOCATION:Music school, Room 4",
        f"DTSTART;TZID=America/New_York:{_local(first, 17, 30)}",
        f"DTEND;TZID=America/New_York:{_local(first, 18, 15)}",
        "RRULE:FREQ=WEEKLY;BYDAY=TU",
        f"EXDATE;TZID=America/New_York:{_local(skipped, 17, 30)}",
        "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT30M", "END:VALARM",
        "END:VEVENT",
    ])
    override = "\r\n".join([
        "BEGIN:VEVENT", "UID:sandbox-piano-lesson@almanac", stamp, "SUMMARY:Piano lesson (moved)",
        f"RECURRENCE-ID;TZID=America/New_York:{_local(moved, 17, 30)}",
        f"DTSTART;TZID=America/New_York:{_local(moved, 18, 30)}",
        f"DTEND;TZID=America/New_York:{_local(moved, 19, 15)}",
        "END:VEVENT",
    ])
    return _calendar(_NEW_YORK_VTIMEZONE, master, override)


def _single_event_ics(day: date) -> str:
    return _calendar(_NEW_YORK_VTIMEZONE, "\r\n".join([
        "BEGIN:VEVENT", "UID:sandbox-dentist@almanac", "DTSTAMP:20240101T000000Z", "SUMMARY:Dentist",
        "DESCRIPTION:Annual check-up", f"DTSTART;TZID=America/New_York:{_local(day, 8, 30)}",
        f"DTEND;TZID=America/New_York:{_local(day, 9, 15)}",
        "END:VEVENT",
    ]))


def _all_day_trip_ics(first_day: date) -> str:
    return _calendar("\r\n".join([
        "BEGIN:VEVENT", "UID:sandbox-lisbon-trip@almanac", "DTSTAMP:20240101T000000Z",
        "SUMMARY:Weekend in Lisbon", "LOCATION:Lisbon, Portugal",
        f"DTSTART;VALUE=DATE:{first_day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{first_day + timedelta(days=3):%Y%m%d}",
        "END:VEVENT",
    ]))
