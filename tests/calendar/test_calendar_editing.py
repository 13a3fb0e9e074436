"""Creating, editing and deleting events: stored locally as PENDING, pushed by a queued job, audited;
validated in place; one instance or the whole series."""
import re
from datetime import date

import pytest
from rq import Queue
from sqlalchemy import select

from tests.factories import make_all_day, make_connection, make_event, make_override, make_series, set_user, utc
from tests.helpers import event_form
from webapp.models import AuditLog, CalendarEvent, EventStatus, RecurrenceFrequency, SyncStatus


def field_value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    value = tag and re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


def queued_pushes(redis) -> set[str]:
    """Pushes queued now, and those waiting out an Undo (a deletion's)."""
    queue = Queue("sync", connection=redis)
    return set(queue.get_job_ids()) | set(queue.scheduled_job_registry.get_job_ids())


def audit_actions(db_session, event_id) -> list[str]:
    return list(db_session.scalars(select(AuditLog.action).where(AuditLog.resource_type == "calendar_event",
                                                                 AuditLog.resource_id == str(event_id))))


def only_event(db_session, **filters) -> CalendarEvent:
    return db_session.scalars(select(CalendarEvent).filter_by(**filters)).one()


def test_creating_an_event_stores_it_pending_queues_the_push_and_audits(signed_in, db_session, redis, calendar, csrf):
    response = signed_in.post("/calendar/events/new", data=event_form(
        csrf, calendar_id=str(calendar.id), title="  Dentist  ", time_zone="America/New_York",
        location="Main St", description="Bring forms"))

    event = only_event(db_session, calendar_connection_id=calendar.id)
    assert response.status_code == 303 and response.headers["Location"] == "/calendar/week/2024-03-06"
    assert (event.title, event.location, event.description) == ("Dentist", "Main St", "Bring forms")
    assert (event.start_time, event.end_time) == (utc(2024, 3, 6, 14), utc(2024, 3, 6, 15))
    assert event.timezone == "America/New_York" and not event.is_all_day and not event.is_recurring
    assert event.sync_status == SyncStatus.PENDING and event.status == EventStatus.CONFIRMED
    assert re.fullmatch(r"[0-9a-f]{32}", event.provider_event_id)
    assert queued_pushes(redis) == {f"push-event-{event.id}"}
    assert audit_actions(db_session, event.id) == ["EVENT_CREATE"]


def test_a_created_event_shows_at_once_marked_pending_in_the_htmx_response(signed_in, db_session, redis, calendar,
                                                                          csrf):
    response = signed_in.post("/calendar/events/new", data=event_form(csrf, calendar_id=str(calendar.id), view="day"),
                              headers={"HX-Request": "true"})

    event = only_event(db_session, calendar_connection_id=calendar.id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#calendar" and response.headers["HX-Reswap"] == "outerHTML"
    assert response.headers["HX-Push-Url"] == "/calendar/day/2024-03-06"
    assert "Event saved." in response.headers["HX-Trigger"]
    assert html.lstrip().startswith('<section id="calendar"') and 'data-view="day"' in html
    assert re.search(rf'<a class="event timed is-pending"\s+data-event-id="{event.id}"', html)


def test_an_all_day_event_is_stored_by_date_whatever_the_zone(signed_in, db_session, redis, calendar, csrf):
    signed_in.post("/calendar/events/new", data=event_form(
        csrf, calendar_id=str(calendar.id), is_all_day="y", start_date="2024-03-08", end_date="2024-03-10",
        start_time="", end_time="", time_zone="Pacific/Auckland"))

    event = only_event(db_session, calendar_connection_id=calendar.id)
    assert event.is_all_day and (event.start_time, event.end_time) == (utc(2024, 3, 8), utc(2024, 3, 11))


def test_a_weekly_repeat_becomes_an_rrule_with_its_summary_columns(signed_in, db_session, redis, calendar, csrf):
    signed_in.post("/calendar/events/new", data=event_form(
        csrf, calendar_id=str(calendar.id), start_date="2024-03-04", end_date="2024-03-04",
        time_zone="America/New_York", repeat="WEEKLY", interval="2", weekdays=["MO", "WE"], ends="until",
        until="2024-03-31"))

    event = only_event(db_session, calendar_connection_id=calendar.id)
    assert event.is_recurring
    assert event.recurrence_rule == "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20240401T035959Z"
    assert event.recurrence_frequency == RecurrenceFrequency.WEEKLY and event.recurrence_interval == 2
    assert event.recurrence_end_date == utc(2024, 4, 1, 3, 59, 59) and event.recurrence_count is None
    html = signed_in.get("/calendar/week/2024-03-18").get_data(as_text=True)
    assert html.count(f'data-event-id="{event.id}"') == 2  # Monday 18 and Wednesday 20


def test_a_counted_monthly_repeat(signed_in, db_session, redis, calendar, csrf):
    signed_in.post("/calendar/events/new", data=event_form(
        csrf, calendar_id=str(calendar.id), repeat="MONTHLY", ends="count", count="6"))

    event = only_event(db_session, calendar_connection_id=calendar.id)
    assert event.recurrence_rule == "RRULE:FREQ=MONTHLY;COUNT=6"
    assert (event.recurrence_frequency, event.recurrence_count) == (RecurrenceFrequency.MONTHLY, 6)


@pytest.mark.parametrize(("fields", "field_name", "message"), [
    ({"title": "   "}, "title", "Give the event a title."),
    ({"title": "x" * 501}, "title", "Keep the title to 500 characters or fewer."),
    ({"end_time": "08:30"}, "end_time", "The event must end after it starts."),
    ({"end_time": "09:00"}, "end_time", "The event must end after it starts."),
    ({"start_time": ""}, "start_time", "Pick the time it starts."),
    ({"start_date": "2024-02-30"}, "start_date", "Not a valid date value."),
    ({"is_all_day": "y", "end_date": "2024-03-05"}, "end_date", "An all-day event ends on or after the day"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Not a valid choice."),
    ({"repeat": "WEEKLY", "ends": "until", "until": "2024-03-01"}, "until", "The last day must be on or after"),
    ({"repeat": "DAILY", "ends": "count", "count": ""}, "count", "Say how many times it happens."),
    ({"repeat": "DAILY", "interval": "0"}, "interval", "Use a number from 1 to 99."),
    ({"repeat": "HOURLY"}, "repeat", "Not a valid choice."),
    ({"is_all_day": "y", "start_date": "9999-12-31", "end_date": "9999-12-31"}, "start_date",
     "Pick a date between 1900 and 2500."),
])
def test_invalid_input_is_shown_in_place_and_kept(signed_in, db_session, redis, calendar, csrf, fields, field_name,
                                                   message):
    response = signed_in.post("/calendar/events/new", headers={"HX-Request": "true"}, data=event_form(
        csrf, calendar_id=str(calendar.id), location="Keep me", **fields))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith('<aside id="event-panel"')
    assert re.search(rf'<ul class="errors" id="{field_name}-errors">\s*<li>{re.escape(message)}', html)
    assert 'value="Keep me"' in html
    assert db_session.scalars(select(CalendarEvent)).all() == [] and queued_pushes(redis) == set()


@pytest.mark.parametrize("name", ["right/Europe/Berlin", "posix/Asia/Tokyo", "Factory", "localtime"])
def test_a_zone_file_that_is_no_zone_is_refused_even_when_it_is_the_users_own(signed_in, db_session, redis, user,
                                                                               calendar, csrf, name):
    set_user(db_session, user, time_zone=name)  # stored before such names were refused
    page = signed_in.get("/calendar/events/new").get_data(as_text=True)
    response = signed_in.post("/calendar/events/new", headers={"HX-Request": "true"}, data=event_form(
        csrf, calendar_id=str(calendar.id), time_zone=name))

    assert f'value="{name}"' not in page and '<option selected value="UTC">' in page
    assert response.status_code == 422
    assert re.search(r'id="time_zone-errors">\s*<li>Not a valid choice', response.get_data(as_text=True))
    assert db_session.scalars(select(CalendarEvent)).all() == [] and queued_pushes(redis) == set()


def test_only_writable_calendars_take_new_events(signed_in, db_session, redis, user, calendar, csrf):
    read_only = make_connection(db_session, user, calendar_name="Holidays", can_write=False)
    disconnected = make_connection(db_session, user, calendar_name="Old", is_connected=False)

    page = signed_in.get("/calendar/events/new").get_data(as_text=True)
    responses = [signed_in.post("/calendar/events/new", data=event_form(csrf, calendar_id=str(other.id)))
                 for other in (read_only, disconnected)]

    assert f'value="{calendar.id}"' in page and f'value="{read_only.id}"' not in page
    assert [response.status_code for response in responses] == [422, 422]
    assert db_session.scalars(select(CalendarEvent)).all() == []


def test_the_new_event_form_opens_on_the_clicked_slot(signed_in, user, db_session, calendar):
    html = signed_in.get("/calendar/events/new?start=2024-03-05T14:00&view=day").get_data(as_text=True)

    assert field_value(html, "start_date") == "2024-03-05"
    assert (field_value(html, "start_time"), field_value(html, "end_time")) == ("14:00", "15:00")
    assert field_value(html, "view") == "day"


@pytest.mark.parametrize("start", ["9999-12-31T23:30", "0001-01-01", "2024-03-05T25:00", "soon"])
def test_a_new_event_link_with_an_unusable_start_falls_back_to_the_next_hour(signed_in, calendar, start):
    response = signed_in.get(f"/calendar/events/new?start={start}")

    assert response.status_code == 200 and field_value(response.get_data(as_text=True), "title") == ""


def test_editing_a_plain_event(signed_in, db_session, redis, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="Old title")

    page = signed_in.get(f"/calendar/events/{event.id}/edit").get_data(as_text=True)
    response = signed_in.post(f"/calendar/events/{event.id}/edit", data=event_form(
        csrf, title="New title", start_date="2024-03-07", end_date="2024-03-07"))

    stored = db_session.get(CalendarEvent, event.id)
    assert 'value="Old title"' in page and 'name="calendar_id"' not in page
    assert response.status_code == 303 and response.headers["Location"] == "/calendar/week/2024-03-07"
    assert (stored.title, stored.start_time, stored.sync_status) == ("New title", utc(2024, 3, 7, 9),
                                                                     SyncStatus.PENDING)
    assert queued_pushes(redis) == {f"push-event-{event.id}"}
    assert audit_actions(db_session, event.id) == ["EVENT_UPDATE"]


def test_editing_this_instance_of_a_series_creates_an_override(signed_in, db_session, redis, calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY;COUNT=5", title="Standup")
    edit_url = f"/calendar/events/{series.id}/edit?scope=this&at=2024-03-06T09:00:00Z"

    page = signed_in.get(edit_url).get_data(as_text=True)
    signed_in.post(f"/calendar/events/{series.id}/edit", data=event_form(
        csrf, title="Standup (late)", start_time="11:00", end_time="11:30", scope="this", at="2024-03-06T09:00:00Z"))

    override = only_event(db_session, parent_event_id=series.id)
    assert field_value(page, "start_date") == "2024-03-06" and 'name="repeat"' not in page
    assert override.provider_metadata == {"original_start_time": "2024-03-06T09:00:00+00:00",
                                          "parent_provider_event_id": series.provider_event_id}
    assert (override.title, override.start_time, override.end_time) == ("Standup (late)", utc(2024, 3, 6, 11),
                                                                        utc(2024, 3, 6, 11, 30))
    assert override.sync_status == SyncStatus.PENDING and not override.is_recurring
    assert db_session.get(CalendarEvent, series.id).title == "Standup"
    assert queued_pushes(redis) == {f"push-event-{override.id}"}
    html = signed_in.get("/calendar/week/2024-03-04").get_data(as_text=True)
    assert html.count(f'data-event-id="{series.id}"') == 4 and f'data-event-id="{override.id}"' in html


def test_editing_an_existing_override_changes_that_row(signed_in, db_session, redis, calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY;COUNT=5")
    override = make_override(db_session, series, utc(2024, 3, 6, 9), utc(2024, 3, 6, 10), title="Moved")

    signed_in.post(f"/calendar/events/{override.id}/edit", data=event_form(
        csrf, title="Moved again", start_time="12:00", end_time="13:00", scope="this"))

    assert only_event(db_session, parent_event_id=series.id).title == "Moved again"
    assert db_session.get(CalendarEvent, override.id).start_time == utc(2024, 3, 6, 12)


def test_editing_all_events_changes_the_master_and_keeps_an_unchanged_rule_verbatim(signed_in, db_session, redis,
                                                                                   calendar, csrf):
    rule = "RRULE:FREQ=WEEKLY;BYDAY=MO\nEXDATE:20240311T090000Z"
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), rule, title="Review")

    page = signed_in.get(f"/calendar/events/{series.id}/edit?scope=all").get_data(as_text=True)
    signed_in.post(f"/calendar/events/{series.id}/edit", data=event_form(
        csrf, title="Weekly review", start_date="2024-03-04", end_date="2024-03-04", scope="all", repeat="WEEKLY",
        weekdays=["MO"], ends="never"))

    stored = db_session.get(CalendarEvent, series.id)
    assert '<option selected value="WEEKLY">' in page
    assert re.search(r'<input checked id="weekdays-0" name="weekdays" type="checkbox" value="MO">', page)
    assert stored.title == "Weekly review" and stored.recurrence_rule == rule
    assert queued_pushes(redis) == {f"push-event-{series.id}"}


def test_a_rule_the_form_cannot_show_is_offered_as_is_and_kept(signed_in, db_session, redis, calendar, csrf):
    rule = "RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2"
    series = make_series(db_session, calendar, utc(2024, 3, 12, 9), rule)

    page = signed_in.get(f"/calendar/events/{series.id}/edit?scope=all").get_data(as_text=True)
    signed_in.post(f"/calendar/events/{series.id}/edit", data=event_form(
        csrf, title="Board", start_date="2024-03-12", end_date="2024-03-12", scope="all", repeat="KEEP"))

    assert "As now: Every month on the second Tuesday" in page
    assert db_session.get(CalendarEvent, series.id).recurrence_rule == rule


def test_changing_the_repeat_of_all_events_rewrites_the_rule(signed_in, db_session, redis, calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=WEEKLY;BYDAY=MO")

    signed_in.post(f"/calendar/events/{series.id}/edit", data=event_form(
        csrf, start_date="2024-03-04", end_date="2024-03-04", scope="all", repeat="DAILY", ends="count", count="3"))

    stored = db_session.get(CalendarEvent, series.id)
    assert stored.recurrence_rule == "RRULE:FREQ=DAILY;COUNT=3"
    assert (stored.recurrence_frequency, stored.recurrence_count) == (RecurrenceFrequency.DAILY, 3)


def deleting_cards(html: str) -> list[str]:
    """The event cards of a page shown as being deleted."""
    return re.findall(r'<a class="event [^"]*is-deleting[^"]*"[^>]*data-event-id="([^"]+)"', html)


def test_deleting_a_plain_event_is_pushed_and_it_stays_until_the_provider_confirms(signed_in, db_session, redis,
                                                                                  calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9))

    response = signed_in.post(f"/calendar/events/{event.id}/delete", data={"csrf_token": csrf, "view": "month"})

    stored = db_session.get(CalendarEvent, event.id)
    assert response.status_code == 303 and response.headers["Location"] == "/calendar/month/2024-03"
    assert stored.deleted_at is None and stored.deletion_requested_at is not None
    assert stored.sync_status == SyncStatus.PENDING
    assert queued_pushes(redis) == {f"push-event-{event.id}"}
    assert audit_actions(db_session, event.id) == ["EVENT_DELETE"]
    week = signed_in.get("/calendar/week/2024-03-06").get_data(as_text=True)
    assert deleting_cards(week) == [str(event.id)] and "Deleting…" in week
    panel = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    assert "Deleting from Google…" in panel and ">Delete</button>" not in panel and "/edit" not in panel
    again = signed_in.post(f"/calendar/events/{event.id}/delete", data={"csrf_token": csrf})
    assert again.status_code == 409 and "being deleted" in again.get_data(as_text=True)


def test_deleting_this_instance_shows_it_being_deleted_until_the_push_cancels_it(signed_in, db_session, redis,
                                                                                calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY;COUNT=5", title="Standup")

    response = signed_in.post(f"/calendar/events/{series.id}/delete", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf, "scope": "this", "at": "2024-03-05T09:00:00Z", "view": "week"})

    override = only_event(db_session, parent_event_id=series.id)
    assert override.status == EventStatus.CONFIRMED and override.deletion_requested_at is not None
    assert override.sync_status == SyncStatus.PENDING
    assert override.provider_metadata["original_start_time"] == "2024-03-05T09:00:00+00:00"
    assert queued_pushes(redis) == {f"push-event-{override.id}"}
    html = response.get_data(as_text=True)
    assert html.count(f'data-event-id="{series.id}"') == 4 and deleting_cards(html) == [str(override.id)]


def test_deleting_all_events_marks_the_series_and_its_overrides_being_deleted(signed_in, db_session, redis,
                                                                              calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY;COUNT=3")
    override = make_override(db_session, series, utc(2024, 3, 5, 9), utc(2024, 3, 5, 12))

    signed_in.post(f"/calendar/events/{override.id}/delete", data={"csrf_token": csrf, "scope": "all"})

    assert db_session.get(CalendarEvent, series.id).deletion_requested_at is not None
    assert db_session.get(CalendarEvent, override.id).deleted_at is None  # it goes with its series, when confirmed
    assert queued_pushes(redis) == {f"push-event-{series.id}"}
    week = signed_in.get("/calendar/week/2024-03-04").get_data(as_text=True)
    assert deleting_cards(week) == [str(series.id), str(override.id), str(series.id)]
    panel = signed_in.get(f"/calendar/events/{override.id}").get_data(as_text=True)
    assert "Series deleted here" in panel and "Deleting from Google…" in panel and "/edit" not in panel


def test_deleting_from_a_series_needs_a_choice_of_which(signed_in, db_session, redis, calendar, csrf):
    series = make_series(db_session, calendar, utc(2024, 3, 4, 9), "RRULE:FREQ=DAILY")

    response = signed_in.post(f"/calendar/events/{series.id}/delete", data={"csrf_token": csrf})

    assert response.status_code == 400
    assert "Choose whether to delete this event, this and the following ones, or all." in response.get_data(
        as_text=True)
    assert db_session.get(CalendarEvent, series.id).deleted_at is None


def test_read_only_calendars_cannot_be_changed(signed_in, db_session, redis, user, csrf):
    holidays = make_connection(db_session, user, calendar_name="Holidays", can_write=False)
    event = make_event(db_session, holidays, utc(2024, 3, 6, 9))

    panel = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    edit = signed_in.post(f"/calendar/events/{event.id}/edit", data=event_form(csrf))
    delete = signed_in.post(f"/calendar/events/{event.id}/delete", data={"csrf_token": csrf})

    assert "read-only" in panel and "/edit" not in panel
    assert (edit.status_code, delete.status_code) == (403, 403)
    assert db_session.get(CalendarEvent, event.id).title == "Meeting" and queued_pushes(redis) == set()


def test_a_failed_push_shows_why_and_retry_queues_it_again(signed_in, db_session, redis, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), sync_status=SyncStatus.FAILED,
                       provider_metadata={"push_error": "network_error"})

    panel = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    response = signed_in.post(f"/calendar/events/{event.id}/retry", data={"csrf_token": csrf},
                              headers={"HX-Request": "true"})

    assert "Not saved to Google: Google could not be reached." in panel and ">Retry</button>" in panel
    assert db_session.get(CalendarEvent, event.id).sync_status == SyncStatus.PENDING
    assert queued_pushes(redis) == {f"push-event-{event.id}"}
    status = response.get_data(as_text=True)
    assert status.lstrip().startswith('<div id="sync-status"') and 'hx-trigger="load delay:3s"' in status


def test_retry_leaves_a_synced_event_alone(signed_in, db_session, redis, calendar, csrf):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9))

    signed_in.post(f"/calendar/events/{event.id}/retry", data={"csrf_token": csrf})

    assert db_session.get(CalendarEvent, event.id).sync_status == SyncStatus.SYNCED and queued_pushes(redis) == set()


def test_the_sync_status_stops_polling_once_synced(signed_in, db_session, calendar):
    pending = make_event(db_session, calendar, utc(2024, 3, 6, 9), sync_status=SyncStatus.PENDING)
    synced = make_event(db_session, calendar, utc(2024, 3, 6, 11))

    polling = signed_in.get(f"/calendar/events/{pending.id}/status", headers={"HX-Request": "true"})
    settled = signed_in.get(f"/calendar/events/{synced.id}/status", headers={"HX-Request": "true"})

    assert "hx-trigger" in polling.get_data(as_text=True) and "Saving to Google" in polling.get_data(as_text=True)
    assert "hx-trigger" not in settled.get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(signed_in, db_session, redis, calendar):
    response = signed_in.post("/calendar/events/new", data=event_form(None, calendar_id=str(calendar.id)))

    assert response.status_code == 400 and db_session.scalars(select(CalendarEvent)).all() == []


def test_all_day_event_stays_on_its_date_in_the_form_and_the_detail(signed_in, db_session, user, calendar):
    set_user(db_session, user, time_zone="America/Los_Angeles")
    event = make_all_day(db_session, calendar, date(2024, 3, 8), date(2024, 3, 9), title="Retreat")

    panel = signed_in.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    edit = signed_in.get(f"/calendar/events/{event.id}/edit").get_data(as_text=True)

    assert '<time datetime="2024-03-08">Friday 8 March 2024</time>' in panel
    assert '<time datetime="2024-03-09">Saturday 9 March 2024</time>' in panel
    assert (field_value(edit, "start_date"), field_value(edit, "end_date")) == ("2024-03-08", "2024-03-09")


def test_the_panel_poll_ends_by_saying_the_deletion_is_done(signed_in, db_session, calendar):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), deleted_at=utc(2024, 3, 1, 9),
                       sync_status=SyncStatus.DELETED)

    polled = signed_in.get(f"/calendar/events/{event.id}/status", headers={"HX-Request": "true"})

    assert polled.status_code == 200 and 'data-sync-status="DELETED"' in polled.get_data(as_text=True)
    assert "Deleted from Google." in polled.get_data(as_text=True) and "hx-trigger" not in polled.get_data(as_text=True)
    assert signed_in.get(f"/calendar/events/{event.id}").status_code == 404
