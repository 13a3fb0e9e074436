"""Calendar pages (week, day, month, agenda), event details, and creating, editing and deleting events."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from webapp import audit, changes
from webapp.calendar import bp, display, editing, pages, revisits
from webapp.calendar.copies import copies_of
from webapp.calendar.editing import ALL_EVENTS, FOLLOWING, THIS_EVENT, EventInput
from webapp.calendar.entries import all_day_dates, by_account, default_calendar
from webapp.calendar.exemptions import exempt, series_key
from webapp.calendar.forms import (
    MAX_TITLE_LENGTH,
    DeleteEventForm,
    EventForm,
    GoToDateForm,
    MoveEventForm,
    QuickCreateForm,
    QuietForm,
    RespondForm,
    UndoForm,
    VisibilityForm,
    edit_form_data,
    new_event_form_data,
)
from webapp.calendar.layout import MONTH_CELL_LIMIT
from webapp.calendar.live import live_state
from webapp.calendar.pages import Viewer, calendar_page
from webapp.calendar.periods import VIEW_KINDS, BadDate, make_period, parse_day, parse_month, today_in
from webapp.calendar.queries import EventDetails, event_details, owned_event, user_calendars
from webapp.calendar.quick import parse_quick
from webapp.calendar.repeat import rule_line
from webapp.calendar.together import double_bookings
from webapp.calendar.undo import UNDO_SECONDS, read_token, undo, undo_token
from webapp.calendar.urls import day_urls, event_url, format_at, new_event_url, parse_at, view_kind, view_url
from webapp.calendar.zones import UTC_NAME
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import SyncStatus
from webapp.sync.push import retry_push
from webapp.sync.queue import enqueue_push, enqueue_push_after

# What the browser's sidebar shows, as SideDigests.header (static/app.js sends it with every htmx request).
KEPT_HEADER = "X-Calendar-Kept"
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
        "month_lanes": MONTH_CELL_LIMIT,
        "period_of": lambda kind, day: make_period(kind, day, zone, current_user.week_start or 1),
        "view_labels": VIEW_LABELS,
        "hour_labels": [display.hour_label(hour, display.uses_twelve_hour()) for hour in range(24)],
        "view_url": view_url,
        "day_urls": day_urls,
        "event_label": lambda entry: display.event_label(entry, zone),
        "shown_title": display.shown_title,
        "series_key": series_key,
        "by_account": by_account,
        "invitation_answer": _invitation_answer,
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
        "description_html": display.description_html,
        "description_is_html": display.is_html,
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


def _invitation_answer(event, calendar) -> str | None:
    """The user's answer to an invitation they are a guest of ("needsAction" until they answer); None when they
    organise it or are not among its guests."""
    own = editing.own_attendee(event, (calendar.account or "", current_user.email))
    if own is None or own.get("organizer"):
        return None
    return own.get("responseStatus") or "needsAction"


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
    """Another month in the sidebar's mini-month, without moving the calendar (htmx); else that month's page. The
    days the calendar shows are marked in the browser (calendar.js), which knows them."""
    first = _day_in_path(parse_month, month)
    kind = view_kind(request.args.get("view"))
    if not is_partial_request():
        return redirect(view_url(kind, first), 303)
    viewer = _viewer()
    unmarked = make_period("month", first, viewer.zone, viewer.week_start)
    response = make_response(render_template(
        "calendar/_mini_month.html", mini=pages.mini_month(first, today_in(viewer.zone, _now()), unmarked,
                                                           viewer.week_start),
        kind=kind, weekday_initials=pages.weekday_initials(viewer.week_start)))
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
    viewer, now = _viewer(), _now()
    partial = is_partial_request()
    kept_header = request.headers.get(KEPT_HEADER) if partial else None
    etag = revisits.calendar_etag(today_in(viewer.zone, now), "partial" if partial else "page", kept_header or "")
    unchanged = revisits.not_modified(etag)
    if unchanged is not None:
        return unchanged
    page = calendar_page(db.session, viewer, kind, anchor, now)
    generate_csrf()  # the session's raw token, which the calendar list's forms carry signed
    side = page.side_digests(session["csrf_token"])
    response = render_page("calendar/view.html", "calendar/_view.html", calendar_page=page, side=side,
                           kept=side.kept(kept_header), connections_url=_connections_url(),
                           open_panel=_panel_in_query(kind), live=live)
    response.vary.add(KEPT_HEADER)
    return revisits.mark(response, etag)


def _panel_in_query(kind: str) -> dict | None:
    """?event=…&at=… (a search result chosen from the dropdown): the page opens with that event's panel."""
    if not request.args.get("event"):
        return None
    try:
        event_id, at = uuid.UUID(request.args["event"]), parse_at(request.args.get("at"))
    except ValueError:
        return None
    details = event_details(db.session, current_user.id, event_id, at)
    return _panel_context(details, kind) if details is not None else None


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
    # Back to the page it was on (htmx names it; a plain form's browser sends it as the referrer): htmx follows the
    # redirect with its headers, so it gets the calendar region back; a plain form the page.
    back = _calendar_path(request.headers.get("HX-Current-URL") or request.referrer)
    return redirect(back or view_url("week", today_in(_viewer().zone, _now())), 303)


def _calendar_path(address: str | None) -> str | None:
    """The path of one of our own calendar pages in `address`: never another site ("//evil.example")."""
    if not address:
        return None
    parts = urlsplit(address)
    if parts.netloc and parts.netloc != request.host:
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if target.startswith("/calendar/") and "\\" not in target and "//" not in target:
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


def _panel_context(details: EventDetails, kind: str) -> dict:
    viewer = _viewer()
    booked = double_bookings(db.session, viewer, details, user_calendars(db.session, viewer.user_id))
    return {"details": details, "event": details.event, "kind": kind, "back_url": _back_url(kind, details),
            "copies": copies_of(db.session, current_user.id, details), "double_bookings": booked}


def _render_event(details: EventDetails, kind: str):
    return render_page("calendar/event.html", "calendar/_event_panel.html", **_panel_context(details, kind))


@bp.route("/calendar/events/<uuid:event_id>/quiet", methods=["POST"])
def quiet_double_booking(event_id: uuid.UUID):
    """"Don't flag this series": the occurrence's series (or event) and the other one are never marked again."""
    form = QuietForm()
    details = _details_or_404(event_id, form.at.data or None)
    if not form.validate_on_submit() or owned_event(db.session, current_user.id, uuid.UUID(form.other.data)) is None:
        abort(400, description="Choose which double booking not to flag.")
    exempt(db.session, current_user.id, (details.series or details.event).id, uuid.UUID(form.other.data))
    db.session.commit()
    return _after_change(form.view.data, _local_start_day(details.start, details.event.is_all_day),
                         "These will not be flagged as a double booking again.")


# ---------------------------------------------------------------------------- creating and editing


@bp.route("/calendar/events/new", methods=["GET", "POST"])
def new_event():
    viewer = _viewer()
    kind = view_kind(request.values.get("view"))
    calendars = user_calendars(db.session, viewer.user_id)
    writable = [calendar for calendar in calendars if calendar.is_writable]
    initial = None if request.method == "POST" else new_event_form_data(
        viewer.time_zone, request.args.get("start"), kind, _now(), request.args.get("end"))
    if initial is not None:
        initial["input_zone"] = initial["time_zone"]
        # "More options" from quick create brings what was typed there.
        chosen = request.args.get("calendar_id")
        if not any(str(calendar.id) == chosen for calendar in writable):
            chosen = str(default_calendar(writable, current_user.default_calendar_id) or "")
        initial["calendar_id"] = chosen
        initial["title"] = (request.args.get("title") or "")[:MAX_TITLE_LENGTH]
    form = EventForm(calendars=writable, current_zone=viewer.time_zone, data=initial)
    refused = next((calendar for calendar in calendars
                    if not calendar.is_writable and str(calendar.id) == form.calendar_id.data), None)
    if refused is not None and form.is_submitted():
        form.validate()
        form.calendar_id.errors = [display.read_only_reason(refused)]
    elif form.validate_on_submit():
        event = editing.create_event(db.session, uuid.UUID(form.calendar_id.data), form.event_input())
        current_user.default_calendar_id = event.calendar_connection_id  # the next new event starts there
        audit.record(db.session, "EVENT_CREATE", user_id=viewer.user_id, resource=("calendar_event", event.id),
                     calendar_id=event.calendar_connection_id)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        enqueue_push(event.id)
        return _after_change(form.view.data, _local_start_day(event.start_time, event.is_all_day), "Event saved.")
    return _render_form(form, 422 if form.is_submitted() else 200, kind=kind, heading="New event",
                        has_calendars=bool(writable) or refused is not None)


@bp.route("/calendar/events/quick", methods=["GET", "POST"])
def quick_create():
    """The popover beside a clicked or dragged slot (htmx; anything else gets the full form): one line of text,
    read as a title, a time and a repeat (webapp.calendar.quick); Enter saves."""
    viewer = _viewer()
    writable = [calendar for calendar in user_calendars(db.session, viewer.user_id) if calendar.is_writable]
    if request.method == "GET" and not is_partial_request():
        return redirect(url_for("calendar.new_event", **request.args), 303)
    initial = None
    if request.method == "GET":
        initial = new_event_form_data(viewer.time_zone, request.args.get("start"), view_kind(request.args.get("view")),
                                      _now(), request.args.get("end"))
        initial = {"start": datetime.combine(initial["start_date"], initial["start_time"]),
                   "end": datetime.combine(initial["end_date"], initial["end_time"]), "view": initial["view"],
                   "calendar_id": str(default_calendar(writable, current_user.default_calendar_id) or "")}
    form = QuickCreateForm(calendars=writable, data=initial)
    if form.validate_on_submit():
        quick = _quick_reading(form)
        zone = viewer.zone
        event = editing.create_event(db.session, uuid.UUID(form.calendar_id.data), EventInput(
            title=quick.title or form.title.data, is_all_day=False,
            start=quick.start.replace(tzinfo=zone).astimezone(UTC), end=quick.end.replace(tzinfo=zone).astimezone(UTC),
            timezone=zone.key, repeat=quick.repeat))
        current_user.default_calendar_id = event.calendar_connection_id
        audit.record(db.session, "EVENT_CREATE", user_id=viewer.user_id, resource=("calendar_event", event.id),
                     calendar_id=event.calendar_connection_id, quick=True)
        db.session.commit()
        enqueue_push(event.id)
        return _after_change(form.view.data, quick.start.date(), "Event saved.")
    status = 422 if form.is_submitted() else 200
    response = make_response(render_template("calendar/_quick_create.html", form=form, has_calendars=bool(writable),
                                             preview=_quick_preview(form)), status)
    response.vary.add("HX-Request")
    if form.is_submitted():  # the form again, with its errors, in the popover (not over the calendar)
        response.headers["HX-Retarget"] = "#quick-pop"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@bp.route("/calendar/events/quick/preview")
def quick_preview():
    """What the quick-create line will save, shown while it is typed (htmx)."""
    form = QuickCreateForm(request.args, meta={"csrf": False})
    if not is_partial_request():
        return redirect(url_for("calendar.new_event", **request.args), 303)
    response = make_response(render_template("calendar/_quick_preview.html", preview=_quick_preview(form)))
    response.vary.add("HX-Request")
    return response


def _quick_reading(form: QuickCreateForm):
    now = _now().astimezone(_viewer().zone).replace(tzinfo=None, second=0, microsecond=0)
    return parse_quick(form.title.data or "", form.start.data, form.end.data, now, languages=_languages())


def _languages() -> tuple[str, ...]:
    """The languages dateparser reads quick-create text in: the browser's, English always among them."""
    wanted = [language.split("-")[0].lower() for language in request.accept_languages.values()][:3]
    return tuple(dict.fromkeys([*wanted, "en"]))


def _quick_preview(form: QuickCreateForm) -> dict | None:
    """The preview line: the title, when, how often; None before a slot is known."""
    if form.start.data is None or form.end.data is None or form.end.data <= form.start.data:
        return None
    quick = _quick_reading(form)
    zone = _viewer().zone
    start, end = quick.start.replace(tzinfo=zone), quick.end.replace(tzinfo=zone)
    when = f"{display.short_date(start.date())}, {display.clock(start, zone)} – {display.clock(end, zone)}"
    repeat = display.describe(rule_line(quick.repeat, start, False), start) if quick.repeat else None
    return {"title": quick.title, "when": when, "repeat": repeat, "understood": quick.understood}


@bp.route("/calendar/events/<uuid:event_id>/edit", methods=["GET", "POST"])
def edit_event(event_id: uuid.UUID):
    details = _changeable_details(event_id, request.values.get("at"))
    kind = view_kind(request.values.get("view"))
    scope = _scope(details, request.values.get("scope"))
    initial, custom_rule = edit_form_data(details, scope, kind, _viewer().zone.key)
    form = EventForm(calendars=[details.calendar], current_zone=initial["time_zone"], custom_rule=custom_rule,
                     title_required=False, data=None if request.method == "POST" else initial)
    form.calendar_id.data = str(details.calendar.id)  # an event stays on its calendar
    form.scope.data = scope
    if form.validate_on_submit():
        if scope == FOLLOWING and details.series is None:
            event = editing.split_outlook_series(db.session, details.event, form.event_input())
        elif scope == FOLLOWING:
            event = editing.split_series(db.session, details, form.event_input())
        else:
            event = editing.edit_event(db.session, details, scope, form.event_input())
        audit.record(db.session, "EVENT_UPDATE", user_id=current_user.id, resource=("calendar_event", event.id),
                     scope=scope or None)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        if scope == FOLLOWING and details.series is not None:
            enqueue_push(details.series.id)  # the old series ends before this instance
        enqueue_push(event.id)
        return _after_change(form.view.data, _local_start_day(event.start_time, event.is_all_day), "Event saved.")
    heading = {THIS_EVENT: "Edit this event", FOLLOWING: "Edit this and following events",
               ALL_EVENTS: "Edit all events"}.get(scope, "Edit event")
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
    token = undo_token(current_app.secret_key, current_user.id, "move", event, s=details.start.isoformat(),
                       t=details.end.isoformat(), n=details.is_generated_instance)
    resized = start == details.start
    return _after_change(form.view.data, _anchor_or(form.anchor.data, start.astimezone(zone).date()),
                         "Event resized." if resized else "Event moved.", undo=token)


@bp.route("/calendar/events/<uuid:event_id>/respond", methods=["POST"])
def respond_to_invitation(event_id: uuid.UUID):
    """Yes, No or Maybe from the panel: the user's answer is shown at once and pushed to the provider (Google's
    attendee responseStatus, Graph's accept/decline/tentativelyAccept, CalDAV's PARTSTAT). For a series, the
    answer is the whole series'."""
    form = RespondForm()
    details = _writable_details(event_id, form.at.data or None)
    row = details.series or details.event
    answered = form.validate_on_submit() and editing.respond(
        db.session, row, (details.calendar.account or "", current_user.email), form.response.data)
    if not answered:
        abort(400, description="Only a guest of this event can answer it.")
    audit.record(db.session, "EVENT_RESPOND", user_id=current_user.id, resource=("calendar_event", row.id),
                 response=form.response.data)
    db.session.commit()
    enqueue_push(row.id)
    message = {"accepted": "You're going.", "declined": "You're not going.", "tentative": "You might go."}
    return _after_change(form.view.data, _local_start_day(details.start, details.event.is_all_day),
                         message[form.response.data])


@bp.route("/calendar/undo", methods=["POST"])
def undo_change():
    """The toast's Undo: put a move, a resize or a deletion back while the toast shows (webapp.calendar.undo)."""
    form = UndoForm()
    change = form.validate_on_submit() and read_token(current_app.secret_key, current_user.id, form.token.data)
    if not change:
        abort(400, description="Too late to undo that.")
    event, message = undo(db.session, current_user.id, change)
    if event is not None:
        audit.record(db.session, "EVENT_UPDATE", user_id=current_user.id, resource=("calendar_event", event.id),
                     undo=change["a"])
    db.session.commit()
    if event is not None:
        enqueue_push(event.id)
    return _after_change(form.view.data, _anchor_or(form.anchor.data, today_in(_viewer().zone, _now())), message)


def _anchor_or(text: str | None, fallback: date) -> date:
    """The page the change was made on, so a three-day or week view stays where it was."""
    try:
        return parse_day(text)
    except BadDate:
        return fallback


def _scope(details: EventDetails, value: str | None) -> str:
    """"" for a plain event; for a series "this" (the default), "following" or "all" (what "following" means from
    the series' first instance)."""
    if details.series is None:
        # An Outlook occurrence: Graph's series, which only the provider holds.
        return FOLLOWING if value == FOLLOWING and editing.outlook_series_of(details.event) else ""
    if value == FOLLOWING:
        return ALL_EVENTS if details.original_start == details.series.start_time else FOLLOWING
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
    if details.series is not None and form.scope.data not in (THIS_EVENT, FOLLOWING, ALL_EVENTS):
        abort(400, description="Choose whether to delete this event, this and the following ones, or all.")
    scope = _scope(details, form.scope.data)
    if scope == FOLLOWING:
        if details.series is None:
            series = editing.split_outlook_series(db.session, details.event, None)
        else:
            series = editing.split_series(db.session, details, None)
        audit.record(db.session, "EVENT_DELETE", user_id=current_user.id, resource=("calendar_event", series.id),
                     scope=scope)
        db.session.commit()
        enqueue_push(series.id)
        return _after_change(form.view.data, _local_start_day(details.start, details.event.is_all_day),
                             "This and the following events are deleted.")
    previous = (details.series if scope == ALL_EVENTS else details.event).sync_status
    event = editing.delete_event(db.session, details, scope)
    audit.record(db.session, "EVENT_DELETE", user_id=current_user.id, resource=("calendar_event", event.id),
                 scope=scope or None)
    changes.note_change(db.session, current_user.id)
    db.session.commit()
    # The provider hears of it once the Undo has had its time.
    enqueue_push_after(event.id, timedelta(seconds=UNDO_SECONDS))
    token = undo_token(current_app.secret_key, current_user.id, "delete", event, p=previous.value,
                       n=scope == THIS_EVENT and details.is_generated_instance)
    return _after_change(form.view.data, _local_start_day(details.start, details.event.is_all_day), "Event deleted.",
                         undo=token)


def _after_change(kind_text: str | None, day: date, message: str, undo: str | None = None):
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
    return toast(response, message, undo=undo)
