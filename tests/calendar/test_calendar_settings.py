"""Profile, time zone and first day of the week; the browser's zone is taken once, while none is set."""
import re

import pytest
from sqlalchemy import select

from tests.factories import set_user
from webapp.models import AuditLog, User


def settings_form(csrf, **fields) -> dict:
    values = {"csrf_token": csrf, "first_name": "Grace", "last_name": "Hopper", "time_zone": "Europe/Paris",
              "week_start": "7", "work_day_start": "07:30", "work_day_end": "16:00"}
    values.update(fields)
    return values


def test_settings_page_shows_the_profile_and_guesses_the_zone_until_one_is_set(signed_in):
    html = signed_in.get("/settings/profile").get_data(as_text=True)

    assert 'value="Ada"' in html and 'value="Lovelace"' in html
    assert re.search(r'<select[^>]*data-guess-time-zone="true"[^>]*name="time_zone"', html)
    assert '<option selected value="UTC">' in html and '<option selected value="1">Monday</option>' in html


def test_saving_settings_changes_the_user_and_the_calendar(signed_in, db_session, user, csrf):
    response = signed_in.post("/settings/profile", data=settings_form(csrf))

    stored = db_session.get(User, user.id)
    assert response.status_code == 303 and response.headers["Location"] == "/settings/profile"
    assert (stored.first_name, stored.last_name, stored.time_zone, stored.week_start) == (
        "Grace", "Hopper", "Europe/Paris", 7)
    assert (stored.work_day_start, stored.work_day_end) == (450, 960)
    assert db_session.scalars(select(AuditLog.action).where(AuditLog.user_id == user.id)).all() == ["PROFILE_UPDATE"]
    html = signed_in.get("/settings/profile").get_data(as_text=True)
    assert "Settings saved." in html and "data-guess-time-zone" not in html
    week = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    assert re.findall(r'class="day-column[^"]*" data-day="([^"]+)"', week)[0] == "2024-03-03"  # a Sunday
    assert "data-time-zone-guess" not in week


def test_settings_over_htmx_re_render_the_form_with_a_toast(signed_in, csrf):
    response = signed_in.post("/settings/profile", data=settings_form(csrf), headers={"HX-Request": "true"})

    assert response.status_code == 200 and "Settings saved." in response.headers["HX-Trigger"]
    assert response.get_data(as_text=True).lstrip().startswith('<section id="profile"')


def test_bad_settings_are_explained_in_place_and_kept(signed_in, db_session, user, csrf):
    response = signed_in.post("/settings/profile", headers={"HX-Request": "true"}, data=settings_form(
        csrf, first_name="G" * 101, time_zone="Atlantis/Capital", week_start="8"))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="first_name-errors">\s*<li>Field cannot be longer than 100 characters.', html)
    assert re.search(r'id="time_zone-errors">\s*<li>Not a valid choice', html)
    assert re.search(r'id="week_start-errors">\s*<li>Not a valid choice', html)
    assert 'value="Hopper"' in html
    assert db_session.get(User, user.id).first_name == "Ada"


def test_the_browsers_zone_is_taken_only_while_none_is_set(signed_in, db_session, user, csrf):
    first = signed_in.post("/settings/time-zone", data={"csrf_token": csrf, "time_zone": "America/Chicago"})
    second = signed_in.post("/settings/time-zone", data={"csrf_token": csrf, "time_zone": "Asia/Tokyo"})

    assert (first.status_code, second.status_code) == (204, 204)
    assert db_session.get(User, user.id).time_zone == "America/Chicago"


def test_an_unknown_browser_zone_is_refused(signed_in, db_session, user, csrf):
    response = signed_in.post("/settings/time-zone", data={"csrf_token": csrf, "time_zone": "../../etc/passwd"})

    assert response.status_code == 422 and "That is not a time zone." in response.get_data(as_text=True)
    assert db_session.get(User, user.id).time_zone is None


# Files of the zoneinfo folder that ZoneInfo() opens but that are no zone (right/ counts leap seconds: 27 s off), and
# a folder (ZoneInfo raised IsADirectoryError: a 500).
NOT_ZONES = ["right/Europe/Berlin", "posix/Europe/Berlin", "Factory", "localtime", "posixrules", "Europe"]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_only_tz_database_zones_are_taken_from_the_browser_or_the_settings(signed_in, db_session, user, csrf, name):
    browser = signed_in.post("/settings/time-zone", data={"csrf_token": csrf, "time_zone": name})
    settings = signed_in.post("/settings/profile", data=settings_form(csrf, time_zone=name))

    assert browser.status_code == 422 and "That is not a time zone." in browser.get_data(as_text=True)
    assert settings.status_code == 422
    assert re.search(r'id="time_zone-errors">\s*<li>Not a valid choice', settings.get_data(as_text=True))
    assert db_session.get(User, user.id).first_name == "Ada" and db_session.get(User, user.id).time_zone is None


def test_a_zone_stored_before_such_names_were_refused_is_neither_offered_nor_taken_again(signed_in, db_session,
                                                                                          user, csrf):
    set_user(db_session, user, time_zone="right/Europe/Berlin")
    page = signed_in.get("/settings/profile").get_data(as_text=True)
    response = signed_in.post("/settings/profile", data=settings_form(csrf, time_zone="right/Europe/Berlin"))

    assert "right/Europe/Berlin" not in page
    assert response.status_code == 422 and db_session.get(User, user.id).first_name == "Ada"


def test_backward_compatible_zone_names_stay_valid(signed_in, db_session, user, csrf):
    response = signed_in.post("/settings/time-zone", data={"csrf_token": csrf, "time_zone": "US/Eastern"})

    assert response.status_code == 204 and db_session.get(User, user.id).time_zone == "US/Eastern"
    assert '<option selected value="US/Eastern">' in signed_in.get("/settings/profile").get_data(as_text=True)


def test_calendar_pages_carry_the_zone_guess_only_while_none_is_set(signed_in, db_session, user):
    unset = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    set_user(db_session, user, time_zone="Europe/Oslo")
    chosen = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)

    assert re.search(r'<form class="time-zone-guess" method="post" action="/settings/time-zone"', unset)
    assert "data-time-zone-guess" not in chosen


def test_working_hours_default_to_eight_to_six_and_must_end_after_they_start(signed_in, db_session, user, csrf):
    html = signed_in.get("/settings/profile").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="work_day_start"[^>]*value="08:00"', html)
    assert re.search(r'<input[^>]*name="work_day_end"[^>]*value="18:00"', html)

    response = signed_in.post("/settings/profile", data=settings_form(csrf, work_day_start="17:00",
                                                                      work_day_end="09:00"))

    assert response.status_code == 422
    assert re.search(r'id="work_day_end-errors">\s*<li>The working day must end after it starts.',
                     response.get_data(as_text=True))
    stored = db_session.get(User, user.id)
    assert (stored.work_day_start, stored.work_day_end) == (480, 1080)
