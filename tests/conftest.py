"""Shared fixtures: a real PostgreSQL and Redis for the whole run (embedded unless TEST_DATABASE_URL /
TEST_REDIS_URL are set), the schema built by the migrations, and one rolled-back transaction per test; and every
fixture more than one test package uses (a package's conftest keeps only its own)."""
from __future__ import annotations

import itertools
import os
import re
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from local.embedded import start_postgres, start_redis
from sandbox.settings import provider_settings
from tests.factories import (
    BERLIN,
    PASSWORD,
    at,
    berlin_event,
    make_all_day,
    make_config,
    make_connection,
    make_series,
    make_user,
)
from tests.helpers import APPLE_USER, Mailbox, csrf_token_from, in_test_session
from webapp import create_app
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.extensions import db
from webapp.models import CalendarConnection, SyncStatus, User

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The provider emulators speak plain http on 127.0.0.1; oauthlib refuses that unless told. Only the test and
# sandbox processes set this (webapp.providers.oauth still refuses http to any other host).
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


class DatabaseServer:
    """Hands out fresh databases on one server: the suite's own, and scratch ones for migration tests."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []

    def create_database(self, prefix: str = "almanac_test") -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url_for(name)

    def url_for(self, name: str) -> str:
        if "?" in self.admin_url:  # embedded: postgresql://postgres:@/postgres?host=/socket/dir
            base, query = self.admin_url.split("?", 1)
            return f"{base.rsplit('/', 1)[0]}/{name}?{query}"
        return re.sub(r"/[^/]*$", f"/{name}", self.admin_url)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def tmp_root():
    with tempfile.TemporaryDirectory(prefix="almanac-tests-") as root:
        yield Path(root)


@pytest.fixture(scope="session")
def database_server(tmp_root):
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        server = DatabaseServer(external)
        yield server
        server.drop_all()
        return
    postgres = start_postgres(tmp_root / "postgres", delete_on_stop=True)
    server = DatabaseServer(postgres.url("postgres"))
    yield server
    server.drop_all()
    postgres.stop()


def pytest_collection_modifyitems(items):
    """Browser tests are slow by nature: mark them so `pytest -m "not slow"` gives a quick loop."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def xdist_worker_number() -> int:
    """0 for a serial run or the first pytest-xdist worker ("gw0"), 1 for "gw1", and so on."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


@pytest.fixture(scope="session")
def redis_url(tmp_root):
    # Each xdist worker flushes its own database number, so parallel workers never flush each other's keys.
    database = 1 + xdist_worker_number()
    external = os.environ.get("TEST_REDIS_URL")
    if external:
        yield re.sub(r"/\d*$", "", external.split("?")[0]) + f"/{database}"
        return
    redis = start_redis(tmp_root / "redis", persist=False)
    yield redis.url + f"?db={database}"
    redis.stop()


GOOGLE_CLIENT = ("test-google-client.apps.googleusercontent.com", "test-google-secret")
MICROSOFT_CLIENT = ("6d3c1f9e-5b1a-4c8e-9f3d-0a2b4c6d8e10", "test-microsoft-secret")


@dataclass
class ProviderServers:
    """The local stand-ins for Google, Microsoft and iCloud, shared by the whole run."""

    google: object
    google_state: object
    microsoft: object
    microsoft_state: object
    radicale: object
    google_faults: object  # sandbox.faults.FaultPlan in front of each emulator
    microsoft_faults: object

    def settings(self) -> dict:
        return provider_settings(self.google.url, self.microsoft.url, self.radicale.url, google_client=GOOGLE_CLIENT,
                                 microsoft_client=MICROSOFT_CLIENT)


@pytest.fixture(scope="session")
def provider_servers(tmp_root):
    from sandbox.faults import FaultInjector, FaultPlan, listing_key
    from sandbox.google_emulator import GoogleState, create_google_emulator
    from sandbox.microsoft_emulator import MicrosoftState, create_microsoft_emulator
    from sandbox.radicale_server import start_radicale
    from sandbox.serve import serve_in_thread

    google_state = GoogleState()
    google_state.add_client(*GOOGLE_CLIENT)
    microsoft_state = MicrosoftState()
    microsoft_state.add_client(*MICROSOFT_CLIENT)
    google_faults, microsoft_faults = FaultPlan(listing_key), FaultPlan(listing_key)
    google = serve_in_thread(FaultInjector(create_google_emulator(google_state), google_faults))
    microsoft = serve_in_thread(FaultInjector(create_microsoft_emulator(microsoft_state), microsoft_faults))
    radicale = start_radicale(tmp_root / "radicale", {APPLE_USER[0]: APPLE_USER[1]})
    yield ProviderServers(google, google_state, microsoft, microsoft_state, radicale, google_faults,
                          microsoft_faults)
    radicale.stop()
    microsoft.stop()
    google.stop()


@pytest.fixture(scope="session")
def app(database_server, redis_url, provider_servers):
    database_url = database_server.create_database()
    app = create_app({"CONFIG": make_config(database_url, redis_url, provider_servers.settings())})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return app


@pytest.fixture
def redis(app):
    client = Redis.from_url(app.config["REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def db_session(app):
    """Each test runs inside one outer transaction that is rolled back; commits become savepoints.

    No app context stays pushed during the test: requests must each get their own (and so their own `g`).
    """
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    # A plain Session: Flask-SQLAlchemy's own routes by engine and would bypass `connection`. Objects stay
    # readable after a request's commit and teardown, as they would be in a fresh request.
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    real_session, db.session = db.session, scoped_session(factory)
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = real_session
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app, db_session, redis):
    return app.test_client()


@pytest.fixture
def user(db_session):
    return make_user(db_session, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def login(client):
    """Log a user in through the real form; returns the response of the POST."""

    def do_login(user: User, password: str = PASSWORD, test_client=None, headers=None):
        test_client = test_client or client
        page = test_client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return test_client.post(
            "/login", data={"email": user.email, "password": password, "csrf_token": token}, headers=headers or {}
        )

    return do_login


@pytest.fixture
def signed_in(client, db_session, user):
    """`client` with a session cookie for `user`. The login form itself is tested with the accounts and in the
    browser tests; here it would only add an argon2 verification to every test."""
    token = start_session(db_session, user, absolute_days=30, user_agent="pytest", ip_address="127.0.0.1")
    db_session.commit()
    client.set_cookie(COOKIE_NAME, token)
    return client


@pytest.fixture
def csrf(signed_in):
    """The session's CSRF token, as a page hands it out."""
    return csrf_token_from(signed_in.get("/settings/profile").get_data(as_text=True))


@pytest.fixture
def admin(db_session):
    return make_user(db_session, is_admin=True, first_name="Grace", last_name="Hopper")


@pytest.fixture
def admin_client(client, login, admin):
    response = login(admin)
    assert response.status_code == 302
    return client


@pytest.fixture
def calendar(db_session, user):
    """A writable, visible Google calendar of `user` (committed, like make_user: a request's teardown would roll
    back a mere flush)."""
    return make_connection(db_session, user)


@pytest.fixture
def run_sync(app, db_session, redis, monkeypatch):
    """The real RQ job function, on the test app and the test's transaction."""
    import jobs.sync

    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)

    def run(connection_id, **options):
        return in_test_session(lambda: jobs.sync.sync_connection(str(connection_id), **options))

    return run


_calendar_names = itertools.count(1)


@pytest.fixture
def apple(client, db_session, user, login, provider_servers):
    """A fresh Radicale calendar of the test's own, connected through the Apple form."""
    from sandbox.radicale_server import create_calendar

    login(user)
    name = f"cal{next(_calendar_names)}-{uuid.uuid4().hex[:6]}"
    url = create_calendar(provider_servers.radicale.url, *APPLE_USER, name, name.title(), "#34a853")
    token = csrf_token_from(client.get("/connections/apple").get_data(as_text=True))
    client.post("/connections/apple", data={"apple_id": APPLE_USER[0], "app_password": APPLE_USER[1],
                                            "csrf_token": token})
    connection = db_session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id, CalendarConnection.calendar_name == name.title())).one()
    return connection, url


@pytest.fixture
def mailbox(app, redis, monkeypatch):
    import jobs.accounts

    monkeypatch.setattr(jobs.accounts, "job_app", lambda: app)
    return Mailbox(redis)


@pytest.fixture
def clean_database(app):
    """For tests that run the app in another thread or process: real commits, tables emptied afterwards."""
    yield
    with app.app_context():
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
def live_server(app, clean_database, redis, monkeypatch):
    """The app on a loopback port with real commits (for the browser); tables are emptied afterwards."""
    from sandbox.serve import serve_in_thread

    server = serve_in_thread(app)
    monkeypatch.setitem(app.config, "PUBLIC_URL", server.url)  # links in mails point at this server
    yield server
    server.stop()


@pytest.fixture
def person(app, live_server):
    """A user with two calendars and a believable week around today (real commits: the browser reads them)."""
    today = datetime.now(BERLIN).date()
    monday = today - timedelta(days=today.weekday())
    with app.app_context():
        session = db.session
        account = make_user(session, first_name="Ada", last_name="Lovelace", time_zone="Europe/Berlin")
        work = make_connection(session, account, calendar_name="Work", calendar_color="#1a73e8", is_primary=True)
        home = make_connection(session, account, calendar_name="Home", calendar_color="#0b8043")
        berlin_event(session, work, at(monday, 9), at(monday, 10, 30), title="Planning", location="Room 4")
        berlin_event(session, home, at(monday, 10), at(monday, 11), title="Dentist")
        berlin_event(session, work, at(monday + timedelta(days=1), 15), at(monday + timedelta(days=1), 16),
                   title="Call with New York", timezone="America/New_York",
                   description="Dial in: https://meet.example/abc\n<b>Not bold</b>",
                   attendees=[{"email": "grace@example.com", "name": "Grace", "responseStatus": "accepted"}])
        make_all_day(session, home, monday + timedelta(days=2), monday + timedelta(days=4), title="Family visit")
        make_series(session, work, at(monday - timedelta(days=14), 8, 30), "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
                    minutes=15, title="Standup", timezone="Europe/Berlin")
        berlin_event(session, work, at(monday + timedelta(days=3), 13), title="Lunch talk",
                   sync_status=SyncStatus.PENDING)
        for hour in (9, 11, 14, 16):
            berlin_event(session, work, at(monday + timedelta(days=4), hour), title=f"Review {hour}")
        return {"email": account.email, "id": account.id, "monday": monday, "work_id": work.id}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    yield page
    context.close()


