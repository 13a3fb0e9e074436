"""Input never causes a 5xx: control characters are refused in place, URLs are range-checked."""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select

import webapp
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import csrf_token_from
from webapp.auth.sessions import COOKIE_NAME, start_session
from webapp.forms import CONTROL_CHARACTER_MESSAGE, Form
from webapp.models import AuditLog, CalendarEvent, LoginSession, SignupRequest, User

NUL = "\x00"


def signed_in_client(app, db_session):
    account = make_user(db_session, first_name="Ada")
    token = start_session(db_session, account, absolute_days=30, user_agent="pytest", ip_address="127.0.0.1")
    db_session.commit()
    browser = app.test_client()
    browser.set_cookie(COOKIE_NAME, token)
    return browser, account


def post_form(browser, url, data, page=None):
    token = csrf_token_from(browser.get(page or url).get_data(as_text=True))
    return browser.post(url, data={**data, "csrf_token": token})


def assert_refused_in_place(response, field_id):
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:500]
    assert CONTROL_CHARACTER_MESSAGE in body
    assert f'id="{field_id}-errors"' in body  # next to the field it concerns


def test_nul_in_the_login_form_is_a_422_in_place(client, redis):
    response = post_form(client, "/login", {"email": f"ada{NUL}@example.com", "password": PASSWORD})
    assert_refused_in_place(response, "email")
    response = post_form(client, "/login", {"email": "ada@example.com", "password": f"pass{NUL}word"})
    assert_refused_in_place(response, "password")


def test_nul_in_the_register_form_is_a_422_in_place_and_stores_nothing(client, db_session, redis):
    response = post_form(client, "/register", {"email": "nul@example.com", "password": "a fine passphrase",
                                               "confirm": "a fine passphrase", "first_name": f"Ada{NUL}"})
    assert_refused_in_place(response, "first_name")
    assert 'value="nul@example.com"' in response.get_data(as_text=True)  # the rest of the input is kept
    assert db_session.scalar(select(func.count()).select_from(SignupRequest)) == 0


def test_nul_in_the_profile_form_is_a_422_in_place(app, db_session, redis):
    browser, account = signed_in_client(app, db_session)
    response = post_form(browser, "/settings/profile", {"first_name": f"A{NUL}da", "last_name": "Lovelace",
                                                        "time_zone": "Europe/London", "week_start": "1"})
    assert_refused_in_place(response, "first_name")
    assert db_session.get(User, account.id).first_name == "Ada"


@pytest.mark.parametrize("field", ["title", "location", "description"])
def test_nul_in_the_event_form_is_a_422_in_place_and_stores_nothing(app, db_session, redis, field):
    browser, account = signed_in_client(app, db_session)
    calendar = make_connection(db_session, account)
    data = {"calendar_id": str(calendar.id), "title": "Lunch", "start_date": "2026-03-02", "start_time": "12:00",
            "end_date": "2026-03-02", "end_time": "13:00", "time_zone": "UTC", "view": "week",
            "location": "", "description": ""}
    data[field] = f"before{NUL}after"
    response = post_form(browser, "/calendar/events/new", data)
    assert_refused_in_place(response, field)
    assert db_session.scalar(select(func.count()).select_from(CalendarEvent)) == 0


def test_other_control_characters_are_refused_but_newlines_and_tabs_are_text(app, db_session, redis):
    browser, account = signed_in_client(app, db_session)
    calendar = make_connection(db_session, account)
    base = {"calendar_id": str(calendar.id), "start_date": "2026-03-02", "start_time": "12:00",
            "end_date": "2026-03-02", "end_time": "13:00", "time_zone": "UTC", "view": "week"}
    for control in ("\x07", "\x1b[31m", "\x7f", "\x85"):
        response = post_form(browser, "/calendar/events/new", {**base, "title": f"Bell{control}"})
        assert_refused_in_place(response, "title")
    saved = post_form(browser, "/calendar/events/new", {**base, "title": "Plan", "description": "one\r\n\ttwo"})
    assert saved.status_code == 303
    assert db_session.scalar(select(CalendarEvent.description)) == "one\r\n\ttwo"


@pytest.mark.parametrize("number", ["9" * 400, "1e999", "12.5"])
def test_an_enormous_repeat_count_is_a_422_in_place(app, db_session, redis, number):
    browser, account = signed_in_client(app, db_session)
    calendar = make_connection(db_session, account)
    response = post_form(browser, "/calendar/events/new", {
        "calendar_id": str(calendar.id), "title": "Standup", "start_date": "2026-03-02", "start_time": "09:00",
        "end_date": "2026-03-02", "end_time": "09:15", "time_zone": "UTC", "view": "week", "repeat": "DAILY",
        "ends": "count", "count": number, "interval": number})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="interval-errors"' in body and 'id="count-errors"' in body
    assert db_session.scalar(select(func.count()).select_from(CalendarEvent)) == 0


def test_year_zero_and_other_impossible_months_are_404(app, db_session, redis):
    browser, _ = signed_in_client(app, db_session)
    for path in ("/calendar/month/0000-01", "/calendar/month/9999-12", "/calendar/month/2026-13",
                 "/calendar/week/0000-01-01", "/calendar/day/2026-02-30", "/calendar/month/%EF%BC%91%EF%BC%92"):
        assert browser.get(path).status_code == 404, path
    assert browser.get("/calendar/month/2026-02").status_code == 200


def test_control_characters_in_a_link_answer_400_or_404(app, db_session, redis):
    browser, _ = signed_in_client(app, db_session)
    assert browser.get("/calendar/agenda?start=2026-01-01%00").status_code == 400
    assert browser.get("/connections/google/callback?state=%00&code=x").status_code == 400
    assert browser.get("/login?next=/calendar%00").status_code == 400
    assert browser.get("/calendar/week/2026-01-01%00").status_code == 404
    assert browser.get("/static/app.css%00").status_code == 404


def test_a_nul_in_the_user_agent_is_dropped_not_stored(client, db_session, redis, user):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                           headers={"User-Agent": "Evil\x00Browser/1.0"})
    assert response.status_code == 302
    agent = db_session.scalar(select(LoginSession.user_agent).where(LoginSession.user_id == user.id))
    assert agent == "EvilBrowser/1.0"
    assert db_session.scalar(select(AuditLog.user_agent).where(AuditLog.user_id == user.id)) == "EvilBrowser/1.0"


def test_every_form_inherits_the_shared_validator():
    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    forms = [cls for cls in subclasses(FlaskForm) if cls.__module__.startswith("webapp.")]
    assert len(forms) >= 12
    assert [cls.__name__ for cls in forms if not issubclass(cls, Form)] == []
