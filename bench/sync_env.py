"""What the sync benchmarks share: the app on a fresh database with a Redis of its own, the Google and Microsoft
emulators in a process of their own (so they do not take the GIL from the sync being measured), Radicale, and
accounts connected through the real connect flow.

`python -m bench.sync_env serve --google EMAIL:CALENDARS:EVENTS ...` is the emulator process: it seeds, prints
its two URLs as one JSON line and serves until its stdin closes.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from bench.harness import bench_app
from local.embedded import start_redis
from sandbox.settings import provider_settings
from webapp.auth.accounts import hash_password
from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import CalendarConnection, User

# The provider emulators speak plain http on 127.0.0.1, which oauthlib refuses unless told (as in the sandbox;
# webapp.providers.oauth still refuses http to any other host). The benchmark's workers inherit it.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

GOOGLE_CLIENT = ("bench-google-client.apps.googleusercontent.com", "bench-google-secret")
MICROSOFT_CLIENT = ("5f2b7c1e-3d4a-4b6c-8e9f-1a2b3c4d5e6f", "bench-microsoft-secret")
APPLE_USERS = {"bench.user@icloud.com": "benc-hpas-swor-d123", "team.user@icloud.com": "team-pass-word-4567"}
PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway user in a throwaway database


@dataclass
class SyncBench:
    app: Flask
    google_url: str
    microsoft_url: str
    radicale_url: str
    redis_url: str
    database_url: str
    radicale_root: Path

    def radicale_folder(self, apple_id: str) -> Path:
        return self.radicale_root / "collections" / "collection-root" / apple_id

    def settings(self) -> dict:
        return provider_settings(self.google_url, self.microsoft_url, self.radicale_url, google_client=GOOGLE_CLIENT,
                                 microsoft_client=MICROSOFT_CLIENT)

    def worker_environment(self) -> dict:
        """What an `rq worker` process needs to run our jobs against this set-up."""
        google, microsoft = self.settings()["google"], self.settings()["microsoft"]
        return {
            **os.environ, "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
            "SECRET_KEY": self.app.config["SECRET_KEY"],
            "TOKEN_ENCRYPTION_KEYS": self.app.config["TOKEN_ENCRYPTION_KEYS"],
            "GOOGLE_CLIENT_ID": google["client_id"], "GOOGLE_CLIENT_SECRET": google["client_secret"],
            "GOOGLE_AUTH_URL": google["auth_url"], "GOOGLE_TOKEN_URL": google["token_url"],
            "GOOGLE_REVOKE_URL": google["revoke_url"], "GOOGLE_CALENDAR_API_URL": google["api_url"],
            "GOOGLE_USERINFO_URL": google["userinfo_url"],
            "MICROSOFT_CLIENT_ID": microsoft["client_id"], "MICROSOFT_CLIENT_SECRET": microsoft["client_secret"],
            "MICROSOFT_AUTHORITY": microsoft["authority"], "MICROSOFT_GRAPH_URL": microsoft["graph_url"],
            "APPLE_CALDAV_URL": f"{self.radicale_url}/", "LOG_LEVEL": "WARNING", "PUSH_NOTIFICATIONS": "0",
            "ALLOW_PRIVATE_SOURCES": "1",  # Radicale is on loopback, as the in-process app's settings allow
        }

    def requests_seen(self, provider: str) -> int:
        """How many API requests the emulator has answered so far."""
        url = self.google_url if provider == "google" else self.microsoft_url
        return int(requests.get(f"{url}/_bench/requests", timeout=10).text)


@contextmanager
def sync_bench(google: list[str] = (), microsoft: list[str] = ()) -> Iterator[SyncBench]:
    """`google` / `microsoft`: "email:calendars:events" accounts the emulators start with."""
    from sandbox.radicale_server import start_radicale

    with ExitStack() as stack:
        app = stack.enter_context(bench_app())
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-syncbench-")))
        redis = start_redis(root / "redis", persist=False)
        stack.callback(redis.stop)
        radicale = start_radicale(root / "radicale", APPLE_USERS)
        stack.callback(radicale.stop)
        arguments = [item for account in google for item in ("--google", account)]
        arguments += [item for account in microsoft for item in ("--microsoft", account)]
        emulators = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.sync_env", "serve", *arguments], cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        stack.callback(emulators.wait, 30)
        stack.callback(emulators.stdin.close)
        urls = json.loads(emulators.stdout.readline())
        app.config["REDIS_URL"] = redis.url
        app.extensions.pop("almanac_redis", None)
        database_url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
        bench = SyncBench(app, urls["google"], urls["microsoft"], radicale.url, redis.url, database_url,
                          root / "radicale")
        app.config["PROVIDERS"] = bench.settings()
        yield bench


class HttpsClient(FlaskClient):
    """The test client over https (outside development the login cookie is Secure), with the same-site Referer
    the CSRF check asks of https form posts."""

    def open(self, *args, **kwargs):
        # The benchmark holds an app context, which each request then shares: start each with an empty `g`, as a
        # request of its own would.
        for name in list(vars(g)):
            delattr(g, name)
        kwargs.setdefault("base_url", "https://localhost")
        kwargs["headers"] = {"Referer": "https://localhost/", **(kwargs.get("headers") or {})}
        try:
            return super().open(*args, **kwargs)
        finally:
            db.session.remove()  # no transaction left idle while the benchmark does something else


def new_user(email: str) -> User:
    user = User(email=email, password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    db.session.refresh(user)
    db.session.expunge(user)
    db.session.rollback()
    return user


def logged_in(app: Flask, user: User):
    client = HttpsClient(app, app.response_class, use_cookies=True)
    client.post("/login", data={"email": user.email, "password": PASSWORD,
                                "csrf_token": _csrf(client.get("/login").get_data(as_text=True))})
    return client


def connect_oauth(bench: SyncBench, client, provider: str, email: str) -> None:
    """The connect button, the provider's consent (the emulator's automatic one) and the callback."""
    page = client.get("/connections/").get_data(as_text=True)
    started = client.post(f"/connections/{provider}/connect", data={"csrf_token": _csrf(page)})
    consent = requests.get(started.location + "&" + urlencode({"login_hint": email, "emulator_auto": "allow"}),
                           allow_redirects=False, timeout=60)
    location = urlsplit(consent.headers["Location"])
    client.get(f"{location.path}?{location.query}")


def connect_apple(client, apple_id: str) -> None:
    page = client.get("/connections/apple").get_data(as_text=True)
    client.post("/connections/apple", data={"apple_id": apple_id, "app_password": APPLE_USERS[apple_id],
                                            "csrf_token": _csrf(page)})


def connections_of(user_id) -> list:
    """(id, provider, last_synced_at) of the user's calendars, read in a transaction of its own."""
    rows = db.session.execute(
        select(CalendarConnection.id, CalendarConnection.provider, CalendarConnection.last_synced_at)
        .where(CalendarConnection.user_id == user_id).order_by(CalendarConnection.id)).all()
    db.session.rollback()
    return rows


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    return match.group(1)


def seed_caldav(bench: SyncBench, apple_id: str, calendars: int, events: int, prefix: str = "cal") -> None:
    """`calendars` collections (made by MKCALENDAR) of `events` one-hour events each, written straight into
    Radicale's storage: ten thousand PUTs would take minutes and measure Radicale, not us."""
    from sandbox.radicale_server import create_calendar

    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    for number in range(calendars):
        create_calendar(bench.radicale_url, apple_id, APPLE_USERS[apple_id], f"{prefix}{number}",
                        f"Calendar {number}", "#34a853")
        folder = bench.radicale_folder(apple_id) / f"{prefix}{number}"
        for index in range(events):
            begins = start + timedelta(hours=index * 5)
            (folder / f"e{index}.ics").write_text(caldav_event(f"{prefix}{number}-{index}", f"Meeting {index}",
                                                               begins))
        # Radicale reads (and caches) files it did not write itself on the first listing: do that here, as a PUT
        # would have, so the sync measured is ours.
        requests.request("PROPFIND", f"{bench.radicale_url}/{apple_id}/{prefix}{number}/", headers={"Depth": "1"},
                         auth=(apple_id, APPLE_USERS[apple_id]), timeout=600).raise_for_status()


def caldav_event(uid: str, title: str, start: datetime) -> str:
    stamp, end = start.strftime("%Y%m%dT%H%M%SZ"), (start + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//Bench//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nSUMMARY:{title}\r\nLOCATION:Room 4\r\nDTSTART:{stamp}\r\n"
            f"DTEND:{end}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")




# ---------------------------------------------------------------------------- the emulator process


def _serve(arguments: list[str]) -> None:
    from werkzeug.serving import make_server

    from sandbox.google_emulator import GoogleState, create_google_emulator
    from sandbox.microsoft_emulator import MicrosoftState, create_microsoft_emulator
    from sandbox.serve import RunningServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--google", action="append", default=[])
    parser.add_argument("--microsoft", action="append", default=[])
    options = parser.parse_args(arguments)
    google, microsoft = GoogleState(), MicrosoftState()
    google.add_client(*GOOGLE_CLIENT)
    microsoft.add_client(*MICROSOFT_CLIENT)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for spec in options.google:
        email, calendars, events = spec.split(":")
        google.add_account(email)
        for number in range(int(calendars)):
            calendar_id = email if number == 0 else f"cal{number}-{email}"
            google.add_calendar(email, calendar_id, f"Calendar {number}", primary=number == 0)
            for index in range(int(events)):
                begins = start + timedelta(hours=index * 5 % 8000)
                google.add_event(calendar_id, {
                    "summary": f"Meeting {index}", "location": "Room 4", "description": "Agenda " * 8,
                    "start": {"dateTime": begins.isoformat(), "timeZone": "Europe/Berlin"},
                    "end": {"dateTime": (begins + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Berlin"}})
    for spec in options.microsoft:
        email, _calendars, events = spec.split(":")
        microsoft.add_account(email)
        calendar_id = microsoft.default_calendar_id(email)
        for index in range(int(events)):
            begins = start + timedelta(hours=index * 5 % 8000)
            microsoft.add_event(calendar_id, {
                "subject": f"Meeting {index}", "location": {"displayName": "Room 4"},
                "body": {"contentType": "text", "content": "Agenda " * 8},
                "start": {"dateTime": begins.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": (begins + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    servers = {}
    for name, app in (("google", create_google_emulator(google)), ("microsoft", create_microsoft_emulator(microsoft))):
        servers[name] = _counting(app)
    running = {}
    for name, app in servers.items():
        server = make_server("127.0.0.1", 0, app, threaded=True)
        import threading

        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running[name] = RunningServer(f"http://127.0.0.1:{server.port}", server, thread)
    print(json.dumps({name: server.url for name, server in running.items()}), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    for server in running.values():
        server.stop()


def _counting(app):
    """The emulator, counting the API requests it answers (GET <base>/_bench/requests reads the count)."""
    count = [0]

    def counted(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_bench/requests":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(count[0]).encode()]
        if "/calendar/v3/" in path or "/v1.0/" in path:
            count[0] += 1
        return app(environ, start_response)

    return counted


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(sys.argv[2:])
