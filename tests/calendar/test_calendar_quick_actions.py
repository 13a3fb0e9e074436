"""Server side of the quick actions: moving an event (a drag or a keyboard move), untitled events, creating from a
dragged range, the three-day view, the mini-month and "Go to date", guests beyond ten; and card colours that stay
readable on every calendar colour the providers offer."""
import re
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import select

from tests.factories import make_all_day, make_connection, make_event, make_series, set_user, utc
from webapp.calendar.colours import DEFAULT_PALETTE, MIN_CONTRAST, PROVIDER_PALETTES, contrast_ratio, text_colour_on
from webapp.calendar.display import event_label
from webapp.calendar.entries import CalendarInfo, Entry
from webapp.models import AuditLog, CalendarEvent, SyncStatus


def move(client, csrf, event, start: str, end: str, **fields):
    data = {"csrf_token": csrf, "start": start, "end": end, "view": "week", "anchor": "2024-03-04", **fields}
    return client.post(f"/calendar/events/{event.id}/move", data=data, headers={"HX-Request": "true"})


@pytest.fixture
def berlin(db_session, user):
    set_user(db_session, user, time_zone="Europe/Berlin")


# ---------------------------------------------------------------------------------------------- colours


@pytest.mark.parametrize("palette", sorted(PROVIDER_PALETTES))
def test_text_on_every_provider_calendar_colour_reaches_wcag_aa(palette):
    ratios = {colour: contrast_ratio(text_colour_on(colour), colour) for colour in PROVIDER_PALETTES[palette]}
    assert min(ratios.values()) >= MIN_CONTRAST, {c: round(r, 2) for c, r in ratios.items() if r < MIN_CONTRAST}


def test_text_on_any_colour_reaches_wcag_aa():
    """Custom colours too: a sweep of the whole RGB cube, and our own fallbacks."""
    steps = range(0, 256, 15)
    colours = [f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps] + list(DEFAULT_PALETTE)
    assert min(contrast_ratio(text_colour_on(colour), colour) for colour in colours) >= MIN_CONTRAST


def test_contrast_ratio_matches_wcag_examples():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert text_colour_on("#0b8043") == "#ffffff" and text_colour_on("#fbe983") == "#1f1f1f"


# ---------------------------------------------------------------------------------------------- names


def test_an_event_card_is_named_in_words():
    work = CalendarInfo(uuid.uuid4(), "Work", "#4285f4", "GOOGLE", True, True, True)
    berlin = ZoneInfo("Europe/Berlin")

    def entry(title, start, end, all_day=False, status="SYNCED", calendar=work):
        return Entry(uuid.uuid4(), None, None, title, None, start, end, all_day, "UTC", status, calendar)

    standup = entry("Standup", datetime(2026, 11, 30, 8, tzinfo=UTC), datetime(2026, 11, 30, 8, 15, tzinfo=UTC))
    assert event_label(standup, berlin) == "Standup, Monday 30 November, 09:00 to 09:15, Work calendar"
    late = entry("", datetime(2026, 11, 30, 22, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC), status="PENDING")
    assert event_label(late, berlin) == "(No title), Monday 30 November, 23:00 to 00:00, Work calendar, saving"
    trip = entry("Trip", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC), all_day=True,
                 calendar=CalendarInfo(uuid.uuid4(), "Family Calendar", "#0b8043", "APPLE", True, True, True))
    assert event_label(trip, berlin) == "Trip, Tuesday 1 December to Thursday 3 December, all day, Family Calendar"


# ---------------------------------------------------------------------------------------------- moving


def test_moving_an_event_is_an_edit_pending_push_and_audit(signed_in, db_session, redis, berlin, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 4, 8), utc(2024, 3, 4, 9), title="Planning",
                       location="Room 4", description="Agenda", timezone="America/New_York")

    response = move(signed_in, csrf, event, "2024-03-05T10:15", "2024-03-05T11:45")

    event = db_session.get(CalendarEvent, event.id)
    assert response.status_code == 200 and "Event moved." in response.headers["HX-Trigger"]
    assert response.headers["HX-Retarget"] == "#calendar"
    assert response.headers["HX-Push-Url"] == "/calendar/week/2024-03-04"  # the page it was on
    assert (event.start_time, event.end_time) == (utc(2024, 3, 5, 9, 15), utc(2024, 3, 5, 10, 45))
    assert (event.title, event.location, event.description, event.timezone) == (
        "Planning", "Room 4", "Agenda", "America/New_York")
    assert event.sync_status == SyncStatus.PENDING
    assert f"push-event-{event.id}" in Queue("sync", connection=redis).get_job_ids()
    assert db_session.scalars(select(AuditLog.action).where(AuditLog.resource_id == str(event.id))).all() == [
        "EVENT_UPDATE"]


def test_moving_an_untitled_event_keeps_it_untitled(signed_in, db_session, redis, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 4, 8), title="(No title)")

    move(signed_in, csrf, event, "2024-03-04T09:00", "2024-03-04T10:00")

    event = db_session.get(CalendarEvent, event.id)
    assert event.title == "" and event.start_time == utc(2024, 3, 4, 9)  # never the placeholder to the provider


def test_moving_one_event_of_a_series_moves_only_that_one(signed_in, db_session, redis, calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY", title="Standup")

    move(signed_in, csrf, series, "2024-03-06T11:00", "2024-03-06T12:00", at="2024-03-06T09:00:00Z")

    override = db_session.scalars(select(CalendarEvent).where(CalendarEvent.parent_event_id == series.id)).one()
    assert (override.start_time, override.title) == (utc(2024, 3, 6, 11), "Standup")
    series = db_session.get(CalendarEvent, series.id)
    assert series.start_time == utc(2024, 3, 4, 9) and series.recurrence_rule == "RRULE:FREQ=DAILY"


@pytest.mark.parametrize(("start", "end"), [("2024-03-04T10:00", "2024-03-04T09:00"), ("tomorrow", "2024-03-04T09:00"),
                                             ("2024-03-04T10:00", "")])
def test_a_move_without_a_usable_range_changes_nothing(signed_in, db_session, redis, calendar, csrf, start, end):
    event = make_event(db_session, calendar, utc(2024, 3, 4, 8))

    response = move(signed_in, csrf, event, start, end)

    event = db_session.get(CalendarEvent, event.id)
    assert response.status_code == 400 and event.start_time == utc(2024, 3, 4, 8)
    assert event.sync_status == SyncStatus.SYNCED


def test_read_only_and_all_day_events_do_not_move(signed_in, db_session, redis, user, calendar, csrf):
    shared = make_connection(db_session, user, can_write=False)
    read_only = make_event(db_session, shared, utc(2024, 3, 4, 8))
    holiday = make_all_day(db_session, calendar, date(2024, 3, 4))

    assert move(signed_in, csrf, read_only, "2024-03-04T09:00", "2024-03-04T10:00").status_code == 403
    assert move(signed_in, csrf, holiday, "2024-03-04T09:00", "2024-03-04T10:00").status_code == 400


def test_moves_need_the_csrf_token(signed_in, db_session, redis, calendar):
    event = make_event(db_session, calendar, utc(2024, 3, 4, 8))
    response = signed_in.post(f"/calendar/events/{event.id}/move",
                              data={"start": "2024-03-04T09:00", "end": "2024-03-04T10:00"})
    assert response.status_code == 400 and db_session.get(CalendarEvent, event.id).start_time == utc(2024, 3, 4, 8)


# ---------------------------------------------------------------------------------------------- untitled, creating


def test_an_untitled_event_edits_with_an_empty_title_and_saves_empty(signed_in, db_session, redis, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="(No title)")

    page = signed_in.get(f"/calendar/events/{event.id}/edit").get_data(as_text=True)
    title = re.search(r'<input[^>]*name="title"[^>]*>', page).group(0)
    assert 'placeholder="(No title)"' in title and 'value=""' in title
    response = signed_in.post(f"/calendar/events/{event.id}/edit", data={
        "csrf_token": csrf, "title": "", "start_date": "2024-03-06", "start_time": "10:00", "end_date": "2024-03-06",
        "end_time": "11:00", "time_zone": "UTC", "view": "week"})

    event = db_session.get(CalendarEvent, event.id)
    assert response.status_code == 303 and event.title == "" and event.start_time == utc(2024, 3, 6, 10)
    detail = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    assert '<h1 class="event-detail-title is-untitled"><bdi>(No title)</bdi></h1>' in detail


def test_a_dragged_range_opens_the_new_event_form_with_it(signed_in, db_session, user, calendar):
    set_user(db_session, user, time_zone="Europe/Berlin")
    html = signed_in.get("/calendar/events/new?view=week&start=2024-03-06T13:15&end=2024-03-06T14:45").get_data(
        as_text=True)

    assert re.search(r'name="start_time"[^>]*value="13:15"', html)
    assert re.search(r'name="end_time"[^>]*value="14:45"', html)
    assert "<h1>New event</h1>" in html


# ---------------------------------------------------------------------------------------------- pages


def test_the_three_day_view_pages_by_three_days(signed_in, db_session, calendar):
    make_event(db_session, calendar, utc(2024, 3, 8, 9), title="Friday review")

    html = signed_in.get("/calendar/3day/2024-03-06").get_data(as_text=True)

    assert re.findall(r'class="day-column[^"]*" data-day="([^"]+)"', html) == ["2024-03-06", "2024-03-07", "2024-03-08"]
    assert "Friday review" in html and '<h1 class="period-title">6 – 8 Mar 2024</h1>' in html
    assert re.search(r'<a href="/calendar/3day/2024-03-09"[^>]*data-nav="next"', html)  # three days on


def test_the_week_offers_phones_its_three_day_version(signed_in):
    html = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    assert 'data-narrow-url="/calendar/3day/2024-03-06"' in html


def test_go_to_date_lands_on_that_day_in_the_same_view(signed_in):
    plain = signed_in.get("/calendar/go?view=month&date=2031-02-14")
    swapped = signed_in.get("/calendar/go?view=week&date=2031-02-14", headers={"HX-Request": "true"})
    bad = signed_in.get("/calendar/go?view=week&date=someday")

    assert plain.status_code == 303 and plain.headers["Location"] == "/calendar/month/2031-02"
    assert swapped.headers["HX-Push-Url"] == "/calendar/week/2031-02-14"
    assert swapped.get_data(as_text=True).lstrip().startswith('<section id="calendar"')
    assert bad.status_code == 400


def test_the_mini_month_swaps_alone_and_marks_the_days_shown(signed_in):
    week = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    other = signed_in.get("/calendar/mini-month/2024-04?view=week&anchor=2024-03-06", headers={"HX-Request": "true"})
    plain = signed_in.get("/calendar/mini-month/2024-04?view=day")

    assert len(re.findall(r'<td class=" is-shown', week)) == 7
    html = other.get_data(as_text=True)
    assert html.lstrip().startswith('<nav id="mini-month"') and "April 2024" in html
    assert 'href="/calendar/week/2024-04-15"' in html and "HX-Request" in other.headers["Vary"]
    assert plain.status_code == 303 and plain.headers["Location"] == "/calendar/day/2024-04-01"


def test_guests_beyond_ten_wait_behind_and_n_more(signed_in, db_session, calendar):
    guests = [{"email": f"g{n}@example.com", "name": f"Guest {n}"} for n in range(500)]
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), attendees=guests)

    html = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)

    shown, rest = html.split('<details class="more-attendees">')
    assert shown.count('class="attendee-name"') == 10 and "<summary>and 490 more</summary>" in rest
    assert rest.count('class="attendee-name"') == 490
