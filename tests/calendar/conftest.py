"""Calendar factories (each commits, like make_user: a request's teardown would roll back a mere flush)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import (
    BERLIN,
    at,
    berlin_event,
    make_all_day,
    make_connection,
    make_series,
    make_user,
)
from tests.helpers import csrf_token_from
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.extensions import db
from webapp.models import SyncStatus


@pytest.fixture
def calendar(db_session, user):
    """A writable, visible Google calendar of `user`."""
    return make_connection(db_session, user)


@pytest.fixture
def user(db_session):
    return make_user(db_session, first_name="Ada", last_name="Lovelace")


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


# ---------------------------------------------------------------------------------------------- in the browser


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


