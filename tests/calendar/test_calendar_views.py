"""The calendar pages over HTTP: URLs, partials, what an event looks like, the detail panel, escaping, the
calendar list, and a constant number of statements per page."""
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sqlalchemy_event

from tests.factories import (
    make_all_day,
    make_connection,
    make_event,
    make_override,
    make_series,
    make_user,
    set_user,
    utc,
)
from webapp.extensions import db
from webapp.models import CalendarConnection, EventStatus, SyncStatus

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def body(response) -> str:
    return response.get_data(as_text=True)


def event_elements(html: str) -> dict[str, str]:
    """data-event-id -> the whole <a class="event ..."> element."""
    return {match.group(1): match.group(0)
            for match in re.finditer(r'<a class="event[^"]*"\s+data-event-id="([^"]+)".*?</a>', html, re.S)}


def test_home_redirects_to_this_week_in_the_users_zone(signed_in, user, db_session):
    set_user(db_session, user, time_zone="Pacific/Kiritimati")  # UTC+14: usually a day ahead of UTC

    response = signed_in.get("/")

    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert response.status_code == 302 and response.headers["Location"] == f"/calendar/week/{today.isoformat()}"


def test_a_user_without_calendars_is_greeted_and_pointed_to_connecting_one(signed_in, db_session, user):
    html = body(signed_in.get("/calendar/week/2024-03-06"))

    assert "Welcome, Ada Lovelace. Connect a calendar to see your week here." in html
    # The three providers' buttons in the card; the sandbox says its accounts are pretend.
    welcome = html.split('class="calendar-welcome card"', 1)[1].split("</section>", 1)[0]
    assert 'action="/connections/google/connect"' in welcome and 'action="/connections/microsoft/connect"' in welcome
    assert 'href="/connections/apple"' in welcome and "data-new-event" in html
    assert ("pretend" in welcome) == bool(signed_in.application.config["PROVIDERS"].get("sandbox"))
    make_connection(db_session, user)
    assert "Connect a calendar to see your week here." not in body(signed_in.get("/calendar/week/2024-03-06"))


def test_calendar_pages_need_a_login(client):
    response = client.get("/calendar/week/2024-03-04")

    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/calendar/week/2024-02-30", 404, "2024-02-30 is not a real date."),
    ("/calendar/day/tomorrow", 404, "Dates look like 2026-03-31."),
    ("/calendar/month/2024-13", 404, "2024-13 is not a real month."),
    ("/calendar/week/0001-01-01", 404, "Dates between 1900 and 2500 only."),
    ("/calendar/agenda?start=soon", 400, "Dates look like 2026-03-31."),
    ("/calendar/events/00000000-0000-0000-0000-000000000000", 404, "Page not found"),
])
def test_bad_urls_get_a_friendly_error_page(signed_in, url, status, message):
    response = signed_in.get(url)

    assert response.status_code == status
    assert message in body(response) and "Traceback" not in body(response)


@pytest.mark.parametrize("url", ["/calendar/week/2024-03-06", "/calendar/day/2024-03-06", "/calendar/month/2024-03",
                                 "/calendar/agenda?start=2024-03-01"])
def test_htmx_gets_the_calendar_region_and_a_plain_request_the_page(signed_in, url):
    page = signed_in.get(url)
    partial = signed_in.get(url, headers={"HX-Request": "true"})

    assert "<html" in body(page) and '<section id="calendar"' in body(page)
    assert body(partial).lstrip().startswith('<section id="calendar"') and "<html" not in body(partial)
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_navigation_links_are_real_links_that_swap_the_region_and_push_the_url(signed_in):
    html = body(signed_in.get("/calendar/week/2024-03-06"))

    previous = re.search(r'<a href="([^"]+)"[^>]*data-nav="previous"[^>]*>', html).group(0)
    assert 'href="/calendar/week/2024-02-26"' in previous  # htmx takes it over: boosted links push their URL
    assert '<header class="calendar-toolbar" hx-boost="true" hx-target="#calendar"' in html
    assert re.search(r'href="/calendar/week/2024-03-11"[^>]*data-nav="next"', html)
    assert re.search(r'href="/calendar/month/2024-03"[^>]*data-nav="month"', html)
    assert re.search(r'href="/calendar/agenda\?start=2024-03-06"[^>]*data-nav="agenda"', html)


def test_week_events_carry_their_id_times_with_offset_and_colour(signed_in, user, db_session, calendar):
    set_user(db_session, user, time_zone="Europe/Berlin")
    meeting = make_event(db_session, calendar, utc(2024, 3, 6, 14), utc(2024, 3, 6, 15), title="Planning",
                         timezone="America/New_York")
    holiday = make_all_day(db_session, calendar, date(2024, 3, 8), title="Holiday")

    html = body(signed_in.get("/calendar/week/2024-03-06"))
    events = event_elements(html)

    assert ">15:00 – 16:00</span>" in events[str(meeting.id)]  # the viewer's clock, in Berlin
    assert 'data-start="2024-03-06T15:00" data-end="2024-03-06T16:00"' in events[str(meeting.id)]
    assert "New York" not in events[str(meeting.id)]  # the other zone's clock is for the panel only
    assert "--event-colour: #4285f4; --event-text: #1f1f1f;" in events[str(meeting.id)]
    label = "Planning, Wednesday 6 March, 15:00 to 16:00, Work calendar"
    assert f'<span class="event-label visually-hidden">{label}</span>' in events[str(meeting.id)]
    assert ">Fri 8 Mar</span>" in events[str(holiday.id)] and "T00:00" not in events[str(holiday.id)]
    assert re.search(r'class="calendar-main"[^>]*hx-boost="true" hx-target="#event-panel"', html)  # opens the panel


def test_pending_and_failed_events_are_marked(signed_in, db_session, calendar):
    pending = make_event(db_session, calendar, utc(2024, 3, 6, 9), sync_status=SyncStatus.PENDING)
    failed = make_event(db_session, calendar, utc(2024, 3, 6, 11), sync_status=SyncStatus.FAILED)

    events = event_elements(body(signed_in.get("/calendar/day/2024-03-06")))

    assert "is-pending" in events[str(pending.id)] and "Saving…" in events[str(pending.id)]
    assert "is-failed" in events[str(failed.id)] and "Not saved" in events[str(failed.id)]


def test_month_shows_three_events_a_day_and_links_the_rest(signed_in, db_session, calendar):
    for hour in range(8, 13):
        make_event(db_session, calendar, utc(2024, 3, 12, hour), title=f"Call {hour}")

    html = body(signed_in.get("/calendar/month/2024-03"))

    text = html.split('data-day="2024-03-12"', 1)[1].split("data-day=", 1)[0]
    assert text.count("data-event-id") == 3 and "Call 8" in text and "Call 11" not in text
    assert re.search(r'href="/calendar/day/2024-03-12"[^>]*class="more">\+2<span class="more-word"> more</span></a>',
                     text)


def test_agenda_lists_thirty_days_by_day(signed_in, db_session, calendar):
    make_event(db_session, calendar, utc(2024, 3, 2, 9), title="Early")
    make_event(db_session, calendar, utc(2024, 3, 30, 9), title="Last day")
    make_event(db_session, calendar, utc(2024, 3, 31, 9), title="Too late")

    html = body(signed_in.get("/calendar/agenda?start=2024-03-01"))
    html = html[html.index('<ol class="agenda"'):]

    assert "Early" in html and "Last day" in html and "Too late" not in html
    assert html.index("Saturday 2 March 2024") < html.index("Early") < html.index("Saturday 30 March 2024")


@pytest.mark.parametrize("url", ["/calendar/week/2024-03-06", "/calendar/day/2024-03-06", "/calendar/month/2024-03",
                                 "/calendar/agenda?start=2024-03-01"])
def test_hostile_titles_and_calendar_names_are_escaped_in_every_view(signed_in, db_session, user, url):
    hostile_calendar = make_connection(db_session, user, calendar_name=HOSTILE)
    make_event(db_session, hostile_calendar, utc(2024, 3, 6, 9), title=HOSTILE, timezone="America/New_York")

    html = body(signed_in.get(url))

    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_event_panel_shows_everything_and_escapes_provider_content(signed_in, db_session, calendar):
    event = make_event(
        db_session, calendar, utc(2024, 3, 6, 14), utc(2024, 3, 6, 15), title=HOSTILE, timezone="America/New_York",
        location="Room <b>4</b>",
        description='Agenda <a href="javascript:alert(1)">click</a>\nJoin https://meet.example/abc?x=1&y=2 now',
        attendees=[{"email": "ann@example.com", "name": "Ann <i>", "responseStatus": "accepted", "organizer": True},
                   {"email": "bob@example.com", "responseStatus": "declined"}],
        reminders=[{"method": "popup", "minutes": 10}],
        html_link="https://calendar.google.com/event?eid=abc",
    )

    response = signed_in.get(f"/calendar/events/{event.id}", headers={"HX-Request": "true"})
    html = body(response)

    assert html.lstrip().startswith('<aside id="event-panel"')
    assert "<script>alert" not in html and "javascript:" not in html and "<i>" not in html and "<b>4" not in html
    assert "&lt;script&gt;" in html and "Ann &lt;i&gt;" in html and "Room &lt;b&gt;4&lt;/b&gt;" in html
    assert re.search(r'<a href="https://meet.example/abc\?x=1&amp;y=2" (?=[^>]*rel="noopener noreferrer nofollow")'
                     r'(?=[^>]*target="_blank")[^>]*>', html)
    assert "Wednesday 6 March 2024" in html and '<time datetime="2024-03-06T14:00:00+00:00">14:00</time>' in html
    assert "09:00 – 10:00 New York" in html and calendar.calendar_name in html
    assert "Going" in html and "Not going" in html and "10 minutes before (popup)" in html
    assert re.search(r'<a class="provider-link" href="https://calendar.google.com/event\?eid=abc" '
                     r'rel="noopener noreferrer nofollow"[^>]*>Open in Google</a>', html)


def test_event_page_without_htmx_is_a_whole_page_with_an_escaped_title(signed_in, db_session, calendar):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 14), title=HOSTILE,
                       html_link="javascript:alert(document.cookie)")

    html = body(signed_in.get(f"/calendar/events/{event.id}"))

    assert "<html" in html and "<title>&lt;script&gt;" in html
    assert "Open in Google" not in html and "javascript:" not in html


def test_an_instance_of_a_series_has_its_own_url_and_says_how_it_repeats(signed_in, db_session, calendar):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
                         title="Review")

    html = body(signed_in.get("/calendar/week/2024-03-18"))
    link = re.search(rf'href="(/calendar/events/{series.id}\?at=[^"]+)"', html).group(1).replace("&amp;", "&")
    panel = body(signed_in.get(link))

    assert "at=2024-03-18T09:00:00Z" in link
    assert "Monday 18 March 2024" in panel and "Every 2 weeks on Monday" in panel
    assert "Edit this event" in panel and "Edit all events" in panel
    assert signed_in.get(f"/calendar/events/{series.id}?at=2024-03-19T09:00:00Z").status_code == 404
    assert signed_in.get(f"/calendar/events/{series.id}?at=not-a-time").status_code == 400
    assert signed_in.get(f"/calendar/events/{series.id}?at=0001-01-01T00:00:00Z").status_code == 400
    assert signed_in.get(f"/calendar/events/{series.id}?at=2024-03-18T09:00:00").status_code == 400


def test_someone_elses_event_is_not_found(signed_in, db_session):
    theirs = make_connection(db_session, make_user(db_session))
    event = make_event(db_session, theirs, utc(2024, 3, 6, 9))

    assert signed_in.get(f"/calendar/events/{event.id}").status_code == 404
    assert signed_in.get(f"/calendar/events/{event.id}/edit").status_code == 404


def test_calendar_list_toggles_visibility_with_a_plain_form(signed_in, db_session, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9))
    week = "/calendar/week/2024-03-06"
    assert str(event.id) in body(signed_in.get(week))

    response = signed_in.post(f"/calendar/calendars/{calendar.id}/visibility",  # the browser names the page
                              data={"visible": "0", "csrf_token": csrf}, headers={"Referer": f"http://localhost{week}"})

    assert response.status_code == 303 and response.headers["Location"] == week
    assert db_session.get(CalendarConnection, calendar.id).is_visible is False
    html = body(signed_in.get(week, headers={"HX-Request": "true"}))
    assert str(event.id) not in html and 'aria-pressed="false"' in html and 'name="visible" value="1"' in html


def test_visibility_toggle_refuses_foreign_calendars_and_offsite_redirects(signed_in, db_session, calendar, csrf):
    theirs = make_connection(db_session, make_user(db_session))
    foreign = signed_in.post(f"/calendar/calendars/{theirs.id}/visibility",
                             data={"visible": "0", "csrf_token": csrf})
    offsite = signed_in.post(f"/calendar/calendars/{calendar.id}/visibility", data={"visible": "0", "csrf_token": csrf},
                             headers={"HX-Current-URL": "https://evil.example/calendar/week/2024-03-06"})
    unchecked = signed_in.post(f"/calendar/calendars/{calendar.id}/visibility",
                               data={"visible": "maybe", "csrf_token": csrf})

    assert foreign.status_code == 404
    assert offsite.status_code == 303 and offsite.headers["Location"].startswith("/calendar/week/")
    assert unchecked.status_code == 400


def test_overrides_show_where_they_moved_to_in_the_rendered_week(signed_in, db_session, calendar):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY;COUNT=7", title="Standup")
    moved = make_override(db_session, series, utc(2024, 3, 5, 9), utc(2024, 3, 5, 16), title="Standup (late)")
    make_override(db_session, series, utc(2024, 3, 6, 9), status=EventStatus.CANCELLED)

    html = body(signed_in.get("/calendar/week/2024-03-04"))

    assert html.count(f'data-event-id="{series.id}"') == 5  # 7 days, one moved, one cancelled
    assert 'data-start="2024-03-05T16:00"' in event_elements(html)[str(moved.id)]
    assert 'data-start="2024-03-05T09:00"' not in html and 'data-start="2024-03-06T09:00"' not in html


def count_statements(app, action) -> int:
    """Statements a request runs, leaving out the test transaction's savepoints."""
    statements = []

    def count(connection, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", count)
    try:
        response = action()
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


def test_week_page_runs_the_same_few_statements_however_much_it_shows(app, signed_in, db_session, user, calendar):
    make_event(db_session, calendar, utc(2024, 3, 6, 9))
    make_series(db_session, calendar, utc(2024, 3, 4, 12), "RRULE:FREQ=DAILY", title="lunch")
    week = "/calendar/week/2024-03-06"
    small = count_statements(app, lambda: signed_in.get(week))

    for name in ("Home", "Team", "Birthdays"):
        extra = make_connection(db_session, user, calendar_name=name)
        for day in range(4, 11):
            make_event(db_session, extra, utc(2024, 3, day, 10), title=f"{name} {day}")
        series = make_series(db_session, extra, utc(2024, 2, 1, 8), "RRULE:FREQ=DAILY", title=f"{name} daily")
        make_override(db_session, series, utc(2024, 3, 6, 8), utc(2024, 3, 6, 18))
    large = count_statements(app, lambda: signed_in.get(week))

    # Login session with its user, calendars, the window query (overrides included), facts (together.py).
    assert large == small == 4


@pytest.mark.parametrize("week_start, first_day", [(7, "2024-03-03"), (1, "2024-03-04")])
def test_week_starts_on_the_users_chosen_day(signed_in, db_session, user, week_start, first_day):
    set_user(db_session, user, week_start=week_start)

    html = body(signed_in.get("/calendar/week/2024-03-06"))

    assert re.findall(r'class="day-column[^"]*" data-day="([^"]+)"', html)[0] == first_day


def test_todays_column_has_the_current_time_line(signed_in, user, db_session):
    set_user(db_session, user, time_zone="Asia/Tokyo")
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()

    html = body(signed_in.get(f"/calendar/day/{today.isoformat()}"))

    assert re.search(r'class="day-column is-today"[^>]*>.*data-now-line', html, re.S)
    assert 'data-scroll-to-minute="465"' in html  # the working day (08:00), with a quarter of an hour above


def test_the_grid_opens_at_working_hours_not_at_midnight_for_an_event_from_the_night_before(
        signed_in, db_session, user, calendar):
    set_user(db_session, user, time_zone="UTC", work_day_start=9 * 60)
    make_event(db_session, calendar, utc(2024, 3, 5, 22), utc(2024, 3, 6, 0, 15), title="Release")
    make_event(db_session, calendar, utc(2024, 3, 7, 10), title="Review")

    html = body(signed_in.get("/calendar/week/2024-03-06"))

    assert 'data-scroll-to-minute="525"' in html  # 09:00 less a quarter hour, though Release shows from 00:00
    make_event(db_session, calendar, utc(2024, 3, 8, 7, 30), title="Early flight")
    assert 'data-scroll-to-minute="435"' in body(signed_in.get("/calendar/week/2024-03-06"))
