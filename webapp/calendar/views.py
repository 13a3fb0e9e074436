"""Calendar pages (week, day, month, agenda), event details, and creating, editing and deleting events."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp import audit, changes
from webapp.calendar import bp, display, editing, pages
from webapp.calendar.copies import copies_of
from webapp.calendar.editing import ALL_EVENTS, THIS_EVENT
from webapp.calendar.entries import all_day_dates
from webapp.calendar.forms import (
    DeleteEventForm,
    EventForm,
    GoToDateForm,
    MoveEventForm,
    VisibilityForm,
    edit_form_data,
    new_event_form_data,
)
from webapp.calendar.live import live_state
from webapp.calendar.pages import Viewer, calendar_page
from webapp.calendar.periods import VIEW_KINDS, BadDate, make_period, parse_day, parse_month, today_in
from webapp.calendar.queries import EventDetails, event_details, user_calendars
from webapp.calendar.urls import day_urls, event_url, format_at, new_event_url, parse_at, view_kind, view_url
from webapp.calendar.zones import UTC_NAME
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import SyncStatus
from webapp.sync.push import retry_push
from webapp.sync.queue import enqueue_push

HOUR_LABELS = tuple(f"{hour:02d}:00" for hour in range(24))
VIEW_LABELS = {"day": "Day", "3day": "3 days", "week": "Week", "month": "Month", "agenda": "Agenda"}


def _now() -> datetime:
    return datetime.now(UTC)


def _viewer() -> Viewer:
    return Viewer.of(current_user)


@bp.before_request
@login_required
def require_login():
    """Every calendar page is personal."""


@bp.context_processor
def calendar_helpers():
    zone = _viewer().zone if current_user.is_authenticated else ZoneInfo(UTC_NAME)
    return {
        "view_kinds": VIEW_KINDS,
        "view_labels": VIEW_LABELS,
        "hour_labels": HOUR_LABELS,
        "view_url": view_url,
        "day_urls": day_urls,
        "event_label": lambda entry: display.event_label(entry, zone),
        "shown_title": display.shown_title,
        "is_untitled": display.is_untitled,
        "local_iso": lambda instant: instant.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "event_url": event_url,
        "new_event_url": new_event_url,
        "clock": lambda instant: display.clock(instant, zone),
        "iso_instant": lambda instant: display.iso_instant(instant, zone),
        "local_day": lambda instant: instant.astimezone(zone).date(),
        "zone_note": lambda start, end, is_all_day, event_zone: display.zone_note(
            start, end, is_all_day, event_zone, zone),
        "all_day_dates": all_day_dates,
        "short_date": display.short_date,
        "long_date": display.long_date,
        "linkify": display.linkify,
        "description_text": display.description_text,
        "web_url": display.web_url,
        "link_rel": display.LINK_REL,
        "reminder_text": display.reminder_text,
        "response_text": display.response_text,
        "provider_name": display.provider_name,
        "push_error_text": display.push_error_text,
        "read_only_reason": display.read_only_reason,
        "tracked_row": editing.tracked_row,
        "series_summary": display.series_summary,
        "format_at": format_at,
    }


# ---------------------------------------------------------------------------- the four views


@bp.route("/")
def home():
    return redirect(view_url("week", today_in(_viewer().zone, _now())))


@bp.route("/calendar/week/<day>")
def week(day: str):
    return _render_calendar("week", _day_in_path(parse_day, day))


@bp.route("/calendar/day/<day>")
def day(day: str):
    return _render_calendar("day", _day_in_path(parse_day, day))


@bp.route("/calendar/3day/<day>", endpoint="3day")
def three_days(day: str):
    """Three days from the one in the URL: the week on a phone."""
    return _render_calendar("3day", _day_in_path(parse_day, day))


@bp.route("/calendar/month/<month>")
def month(month: str):
    return _render_calendar("month", _day_in_path(parse_month, month))


@bp.route("/calendar/agenda")
def agenda():
    start = request.args.get("start")
    if not start:
        return _render_calendar("agenda", today_in(_viewer().zone, _now()))
    try:
        return _render_calendar("agenda", parse_day(start))
    except BadDate as error:
        abort(400, description=str(error))


@bp.route("/calendar/go")
def go_to_date():
    """The "Go to date" form: the current view at the chosen day."""
    form = GoToDateForm(request.args)
    if not form.validate():
        abort(400, description="Pick a date to go to.")
    kind = view_kind(form.view.data)
    if not is_partial_request():
        return redirect(view_url(kind, form.date.data), 303)
    response = _render_calendar(kind, form.date.data)
    response.headers["HX-Push-Url"] = view_url(kind, form.date.data)
    return response


@bp.route("/calendar/mini-month/<month>")
def mini_month(month: str):
    """Another month in the sidebar's mini-month, without moving the calendar (htmx); else that month's page."""
    first = _day_in_path(parse_month, month)
    kind = view_kind(request.args.get("view"))
    if not is_partial_request():
        return redirect(view_url(kind, first), 303)
    try:
        anchor = parse_day(request.args.get("anchor"))
    except BadDate:
        anchor = first
    viewer = _viewer()
    period = make_period(kind, anchor, viewer.zone, viewer.week_start)
    response = make_response(render_template(
        "calendar/_mini_month.html", mini=pages.mini_month(first, today_in(viewer.zone, _now()), period,
                                                           viewer.week_start),
        kind=kind, anchor=anchor, weekday_initials=pages.weekday_initials(viewer.week_start)))
    response.vary.add("HX-Request")
    return response


def _day_in_path(parse, text: str) -> date:
    try:
        return parse(text)
    except BadDate as error:
        abort(404, description=str(error))


def _render_calendar(kind: str, anchor: date):
    # Taken before the page's own queries: a change committed while it is drawn gets a later stamp, so the tab
    # redraws instead of missing it.
    live = live_state()
    page = calendar_page(db.session, _viewer(), kind, anchor, _now())
    return render_page("calendar/view.html", "calendar/_view.html", calendar_page=page,
                       connections_url=_connections_url(), live=live)


# ---------------------------------------------------------------------------- calendars


@bp.route("/calendar/calendars/<uuid:connection_id>/visibility", methods=["POST"])
def set_visibility(connection_id: uuid.UUID):
    form = VisibilityForm()
    if not form.validate_on_submit():
        abort(400, description="Choose whether to show or hide the calendar.")
    if not editing.set_calendar_visibility(db.session, current_user.id, connection_id, form.visible.data == "1"):
        abort(404)
    changes.note_change(db.session, current_user.id)
    db.session.commit()
    # htmx follows the redirect with its headers, so it gets the calendar region back; a plain form the page.
    return redirect(_calendar_path(form.next.data) or view_url("week", today_in(_viewer().zone, _now())), 303)


def _calendar_path(target: str | None) -> str | None:
    """Only our own calendar pages: never another site ("//evil.example") or anything else."""
    if target and target.startswith("/calendar/") and "\\" not in target and "//" not in target:
        return target
    return None


# ---------------------------------------------------------------------------- one event


@bp.route("/calendar/events/<uuid:event_id>")
def event(event_id: uuid.UUID):
    details = _details_or_404(event_id, request.args.get("at"))
    return _render_event(details, view_kind(request.args.get("view")))


@bp.route("/calendar/events/<uuid:event_id>/status")
def event_status(event_id: uuid.UUID):
    """Polled by the detail panel while a change is on its way to the provider; a deletion ends by saying so."""
    if is_partial_request() and event_details(db.session, current_user.id, event_id) is None:
        provider = editing.deleted_event_provider(db.session, current_user.id, event_id)
        if provider is not None:
            return render_page("calendar/event.html", "calendar/_sync_deleted.html", provider=provider)
    details = _details_or_404(event_id, None)
    return render_page("calendar/event.html", "calendar/_sync_status.html", details=details, event=details.event,
                       back_url=_back_url("week", details))


@bp.route("/calendar/events/<uuid:event_id>/retry", methods=["POST"])
def retry_event(event_id: uuid.UUID):
    details = _writable_details(event_id, None)
    tracked = editing.tracked_row(details)
    if tracked.sync_status is SyncStatus.FAILED:  # a double click finds it pending already
        retry_push(db.session, tracked)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        enqueue_push(tracked.id)
    if is_partial_request():
        return render_page("calendar/event.html", "calendar/_sync_status.html", details=details,
                           event=details.event, back_url=_back_url("week", details))
    flash("Trying again.", "success")
    return redirect(url_for("calendar.event", event_id=details.event.id))


def _details_or_404(event_id: uuid.UUID, at_text: str | None) -> EventDetails:
    try:
        at = parse_at(at_text)
    except ValueError:
        abort(400, description="That link names an occurrence with an unreadable time.")
    details = event_details(db.session, current_user.id, event_id, at)
    if details is None:
        abort(404)
    return details


def _writable_details(event_id: uuid.UUID, at_text: str | None) -> EventDetails:
    details = _details_or_404(event_id, at_text)
    if not details.calendar.is_writable:
        abort(403, description=display.read_only_reason(details.calendar))
    return details


def _changeable_details(event_id: uuid.UUID, at_text: str | None) -> EventDetails:
    """For an edit, a move or a deletion: the calendar takes changes, and the event is not being deleted."""
    details = _writable_details(event_id, at_text)
    if editing.is_being_deleted(details):
        abort(409, description="This event is being deleted; it can no longer be changed. If the deletion "
                               "meets a change made elsewhere, the event's panel offers to keep that version.")
    return details


def _back_url(kind: str, details: EventDetails) -> str:
    return view_url(kind, _local_start_day(details.start, details.event.is_all_day))


def _local_start_day(start: datetime, is_all_day: bool) -> date:
    return start.date() if is_all_day else start.astimezone(_viewer().zone).date()


def _render_event(details: EventDetails, kind: str):
    return render_page("calendar/event.html", "calendar/_event_panel.html", details=details, event=details.event,
                       kind=kind, back_url=_back_url(kind, details),
                       copies=copies_of(db.session, current_user.id, details))


# ---------------------------------------------------------------------------- creating and editing


@bp.route("/calendar/events/new", methods=["GET", "POST"])
def new_event():
    viewer = _viewer()
    kind = view_kind(request.values.get("view"))
    calendars = user_calendars(db.session, viewer.user_id)
    writable = [calendar for calendar in calendars if calendar.is_writable]
    initial = None if request.method == "POST" else new_event_form_data(
        viewer.time_zone, request.args.get("start"), kind, _now(), request.args.get("end"))
    form = EventForm(calendars=writable, current_zone=viewer.time_zone, data=initial)
    refused = next((calendar for calendar in calendars
                    if not calendar.is_writable and str(calendar.id) == form.calendar_id.data), None)
    if refused is not None and form.is_submitted():
        form.validate()
        form.calendar_id.errors = [display.read_only_reason(refused)]
    elif form.validate_on_submit():
        event = editing.create_event(db.session, uuid.UUID(form.calendar_id.data), form.event_input())
        audit.record(db.session, "EVENT_CREATE", user_id=viewer.user_id, resource=("calendar_event", event.id),
                     calendar_id=event.calendar_connection_id)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        enqueue_push(event.id)
        return _after_change(form.view.data, _local_start_day(event.start_time, event.is_all_day), "Event saved.")
    return _render_form(form, 422 if form.is_submitted() else 200, kind=kind, heading="New event",
                        has_calendars=bool(writable) or refused is not None)


@bp.route("/calendar/events/<uuid:event_id>/edit", methods=["GET", "POST"])
def edit_event(event_id: uuid.UUID):
    details = _changeable_details(event_id, request.values.get("at"))
    kind = view_kind(request.values.get("view"))
    scope = _scope(details, request.values.get("scope"))
    initial, custom_rule = edit_form_data(details, scope, kind)
    form = EventForm(calendars=[details.calendar], current_zone=initial["time_zone"], custom_rule=custom_rule,
                     title_required=False, data=None if request.method == "POST" else initial)
    form.calendar_id.data = str(details.calendar.id)  # an event stays on its calendar
    form.scope.data = scope
    if form.validate_on_submit():
        event = editing.edit_event(db.session, details, scope, form.event_input())
        audit.record(db.session, "EVENT_UPDATE", user_id=current_user.id, resource=("calendar_event", event.id),
                     scope=scope or None)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        enqueue_push(event.id)
        return _after_change(form.view.data, _local_start_day(event.start_time, event.is_all_day), "Event saved.")
    heading = {THIS_EVENT: "Edit this event", ALL_EVENTS: "Edit all events"}.get(scope, "Edit event")
    return _render_form(form, 422 if form.is_submitted() else 200, kind=kind, heading=heading, details=details,
                        has_calendars=True)


@bp.route("/calendar/events/<uuid:event_id>/move", methods=["POST"])
def move_event(event_id: uuid.UUID):
    """A drag or a keyboard move: the same edit, audit row and push as the form, with only the time changed.
    One event of a series moves alone, as in the providers' own apps when you drag it."""
    form = MoveEventForm()
    details = _changeable_details(event_id, form.at.data or None)
    if details.event.is_all_day or details.event.status.value == "CANCELLED":
        abort(400, description="Only timed events can be moved this way.")
    if not form.validate_on_submit():
        abort(400, description="That move has no readable start and end.")
    zone = _viewer().zone
    start = form.start.data.replace(tzinfo=zone).astimezone(UTC)
    end = form.end.data.replace(tzinfo=zone).astimezone(UTC)
    scope = _scope(details, THIS_EVENT)
    event = editing.edit_event(db.session, details, scope, editing.moved_input(details, scope, start, end))
    audit.record(db.session, "EVENT_UPDATE", user_id=current_user.id, resource=("calendar_event", event.id),
                 scope=scope or None, moved=True)
    changes.note_change(db.session, current_user.id)
    db.session.commit()
    enqueue_push(event.id)
    return _after_change(form.view.data, _anchor_or(form.anchor.data, start.astimezone(zone).date()),
                         "Event moved.")


def _anchor_or(text: str | None, fallback: date) -> date:
    """The page the change was made on, so a three-day or week view stays where it was."""
    try:
        return parse_day(text)
    except BadDate:
        return fallback


def _scope(details: EventDetails, value: str | None) -> str:
    """"" for a plain event; for a series "this" (the default) or "all"."""
    if details.series is None:
        return ""
    return ALL_EVENTS if value == ALL_EVENTS else THIS_EVENT


def _render_form(form: EventForm, status: int, *, kind: str, heading: str, has_calendars: bool,
                 details: EventDetails | None = None):
    back = _back_url(kind, details) if details else view_url(kind, today_in(_viewer().zone, _now()))
    return render_page("calendar/event_form.html", "calendar/_event_form.html", status=status, form=form,
                       heading=heading, details=details, back_url=back, has_calendars=has_calendars,
                       connections_url=_connections_url())


def _connections_url() -> str | None:
    return url_for("connections.index") if "connections.index" in current_app.view_functions else None


@bp.route("/calendar/events/<uuid:event_id>/delete", methods=["POST"])
def delete_event(event_id: uuid.UUID):
    form = DeleteEventForm()
    details = _changeable_details(event_id, form.at.data)
    if details.series is not None and form.scope.data not in (THIS_EVENT, ALL_EVENTS):
        abort(400, description="Choose whether to delete this event or all events.")
    scope = _scope(details, form.scope.data)
    event = editing.delete_event(db.session, details, scope)
    audit.record(db.session, "EVENT_DELETE", user_id=current_user.id, resource=("calendar_event", event.id),
                 scope=scope or None)
    changes.note_change(db.session, current_user.id)
    db.session.commit()
    enqueue_push(event.id)
    return _after_change(form.view.data, _local_start_day(details.start, details.event.is_all_day), "Event deleted.")


def _after_change(kind_text: str | None, day: date, message: str):
    """Show the page the change happened on, at the event's day: the calendar region for htmx (whichever panel
    the form sat in), a redirect otherwise."""
    kind = view_kind(kind_text)
    if not is_partial_request():
        flash(message, "success")
        return redirect(view_url(kind, day), 303)
    response = _render_calendar(kind, day)
    response.headers["HX-Retarget"] = "#calendar"
    response.headers["HX-Reswap"] = "outerHTML"
    response.headers["HX-Push-Url"] = view_url(kind, day)
    return toast(response, message)
