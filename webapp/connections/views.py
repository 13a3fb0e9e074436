"""Connections page: connect, reconnect, sync now, recolour and disconnect calendars; settle sync conflicts."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp import audit, changes
from webapp.calendar.entries import safe_colour
from webapp.connections import bp
from webapp.connections.forms import (
    AppleConnectForm,
    CalDavConnectForm,
    ColorForm,
    FeedSubscriptionForm,
    SubscriptionSettingsForm,
)
from webapp.connections.service import (
    ConnectFailed,
    begin_oauth,
    calendars_by_account,
    complete_oauth,
    connect_apple,
    connect_caldav,
    disconnect,
    remove_from_almanac,
    revoke,
    series_shown_in_part,
    subscribe,
    unpushed_changes,
    update_subscription,
)
from webapp.errors import render_error
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.locks import running_syncs
from webapp.models import CalendarConnection, CalendarEvent, CalendarProvider, CalendarSubscription
from webapp.providers import LABELS, OAUTH_PROVIDERS, is_configured
from webapp.sync import conflicts, watch
from webapp.sync.queue import enqueue_calendars, enqueue_push, enqueue_sync, is_sync_queued
from webapp.sync.status import sync_state


@bp.before_request
@login_required
def require_login():
    """Every connections page needs a signed-in user."""


def get_owned_connection(connection_id: uuid.UUID) -> CalendarConnection:
    connection = db.session.scalar(select(CalendarConnection).where(
        CalendarConnection.id == connection_id, CalendarConnection.user_id == current_user.id,
        CalendarConnection.deleted_at.is_(None)))
    if connection is None:
        abort(404)
    return connection


def parse_provider(name: str) -> CalendarProvider:
    try:
        return CalendarProvider(name.upper())
    except ValueError:
        abort(404)


@bp.route("/")
def index():
    accounts = calendars_by_account(db.session, current_user.id)
    providers = [(kind, LABELS[kind], is_configured(kind)) for kind in CalendarProvider]
    connections = [connection for _, rows in accounts for connection in rows]
    running = running_syncs(db.session, [connection.id for connection in connections])
    now = datetime.now(UTC)
    states = {connection.id: sync_state(connection, now=now, zone=current_user.time_zone,
                                        is_running=connection.id in running,
                                        is_queued=is_sync_queued(connection.id))
              for connection in connections}
    polling = {connection_id for connection_id, state in states.items() if state.kind == "syncing"}
    return render_page("connections/index.html", "connections/_index.html", accounts=accounts, providers=providers,
                       labels=LABELS, color_form=ColorForm(), states=states, polling=polling,
                       subscriptions=_subscriptions(connections),
                       limited=series_shown_in_part(db.session, [connection.id for connection in connections]),
                       watched=watch.watch_state(db.session, [connection.id for connection in connections]))


# Providers connected through a form of ours rather than a consent page: (endpoint, button words).
CONNECT_PAGES = {CalendarProvider.APPLE: ("connections.apple", "Connect Apple iCloud"),
                 CalendarProvider.CALDAV: ("connections.caldav", "Connect another CalDAV account"),
                 CalendarProvider.ICS: ("connections.subscribe_feed", "Subscribe by URL")}


def _subscriptions(connections: list[CalendarConnection]) -> dict[uuid.UUID, SubscriptionSettingsForm]:
    """The settings form of each subscribed feed among the rows."""
    ids = [connection.id for connection in connections if connection.provider == CalendarProvider.ICS]
    if not ids:
        return {}
    rows = {row.connection_id: row for row in db.session.scalars(
        select(CalendarSubscription).where(CalendarSubscription.connection_id.in_(ids)))}
    names = {connection.id: connection.calendar_name for connection in connections}
    return {connection_id: SubscriptionSettingsForm(
        formdata=None, name=names[connection_id],
        refresh_minutes=rows[connection_id].refresh_minutes if connection_id in rows else 30)
        for connection_id in ids}


@bp.route("/<provider>/connect", methods=["POST"])
def connect(provider: str):
    kind = parse_provider(provider)
    if kind not in OAUTH_PROVIDERS:
        return redirect(url_for(CONNECT_PAGES[kind][0]))
    if not is_configured(kind):
        flash(f"{LABELS[kind]} is not configured on this server (set {kind.value}_CLIENT_ID).", "error")
        return redirect(url_for("connections.index"))
    try:
        authorization_url = begin_oauth(db.session, current_user.id, kind, callback_url(kind))
    except ConnectFailed as failure:
        db.session.commit()  # the FAILURE audit row
        flash(failure.message, "error")
        return redirect(url_for("connections.index"))
    db.session.commit()
    return redirect(authorization_url)


@bp.route("/<provider>/callback")
def callback(provider: str):
    kind = parse_provider(provider)
    if kind not in OAUTH_PROVIDERS:
        abort(404)
    try:
        connections = complete_oauth(
            db.session, current_user.id, kind, state=request.args.get("state"), code=request.args.get("code"),
            error=request.args.get("error"), redirect_uri=callback_url(kind),
        )
    except ConnectFailed as failure:
        db.session.commit()  # the consumed state and the FAILURE audit row; no connection was written
        return render_error(400, failure.message)
    db.session.commit()
    enqueue_calendars([connection.id for connection in connections])
    if current_app.config["PUSH_NOTIFICATIONS"]:
        watch.queue_watches([connection.id for connection in connections], with_account=True)
    flash(f"Connected {len(connections)} {LABELS[kind]} calendar{'s' if len(connections) != 1 else ''}.", "success")
    return redirect(url_for("connections.index"))


@bp.route("/apple", methods=["GET", "POST"])
def apple():
    """The CalDAV form with iCloud's server as its preset: an Apple ID and an app-specific password."""
    form = AppleConnectForm()
    if form.validate_on_submit():
        try:
            connections = connect_apple(db.session, current_user.id, form.apple_id.data, form.app_password.data)
        except ConnectFailed as failure:
            db.session.commit()
            form.app_password.errors.append(failure.message)
        else:
            return _connected(connections, "iCloud")
    status = 422 if form.is_submitted() else 200
    return render_page("connections/apple.html", "connections/_caldav_form.html", status=status, form=form,
                       preset=APPLE_PRESET)


# What the iCloud page changes in the CalDAV form: the server is fixed, the fields are Apple's.
APPLE_PRESET = {"heading": "Connect Apple iCloud", "endpoint": "connections.apple", "user": "apple_id",
                "password": "app_password", "password_placeholder": "xxxx-xxxx-xxxx-xxxx",
                "intro": "Almanac talks to iCloud over CalDAV. Apple requires an app-specific password for this; "
                         "your Apple ID password is never asked for."}
CALDAV_FORM = {"heading": "Connect another CalDAV account", "endpoint": "connections.caldav", "user": "username",
               "password": "password", "password_placeholder": "",
               "intro": "Fastmail, Nextcloud, mailbox.org, Posteo, Zoho, Synology, Baikal, Radicale, Xandikos or any "
                        "other CalDAV server: Almanac finds your calendars from the server's address and keeps them "
                        "in sync both ways."}


@bp.route("/caldav", methods=["GET", "POST"])
def caldav():
    form = CalDavConnectForm()
    if form.validate_on_submit():
        try:
            connections = connect_caldav(db.session, current_user.id, form.username.data, form.password.data,
                                         server=form.server.data)
        except ConnectFailed as failure:
            db.session.commit()
            field = form.server if failure.kind in ("not_caldav", "address_refused", "network_error") else form.password
            field.errors.append(failure.message)
        else:
            return _connected(connections, "CalDAV")
    status = 422 if form.is_submitted() else 200
    return render_page("connections/caldav.html", "connections/_caldav_form.html", status=status, form=form,
                       preset=CALDAV_FORM)


def _connected(connections: list[CalendarConnection], label: str):
    db.session.commit()
    enqueue_calendars([connection.id for connection in connections])
    flash(f"Connected {len(connections)} {label} calendar{'s' if len(connections) != 1 else ''}.", "success")
    return redirect(url_for("connections.index"))


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe_feed():
    """Subscribe by URL: an ICS feed as a read-only calendar."""
    form = FeedSubscriptionForm()
    if form.validate_on_submit():
        try:
            connection = subscribe(db.session, current_user.id, form.url.data, name=form.name.data or None,
                                   color=None, refresh_minutes=form.refresh_minutes.data)
        except ConnectFailed as failure:
            db.session.commit()
            form.url.errors.append(failure.message)
        else:
            db.session.commit()
            enqueue_sync(connection.id)
            flash(f"Subscribed to {connection.calendar_name}.", "success")
            return redirect(url_for("connections.index"))
    status = 422 if form.is_submitted() else 200
    return render_page("connections/subscribe.html", "connections/_subscribe_form.html", status=status, form=form)


@bp.route("/<uuid:connection_id>/subscription", methods=["POST"])
def subscription_settings(connection_id: uuid.UUID):
    """A feed's name and how often it is checked."""
    connection = get_owned_connection(connection_id)
    if connection.provider != CalendarProvider.ICS:
        abort(404)
    form = SubscriptionSettingsForm()
    if not form.validate_on_submit():
        if not is_partial_request():
            flash(next(iter(form.errors.values()))[0], "error")
            return redirect(url_for("connections.index"))
        return row_response(connection, subscription_form=form, status=422)
    update_subscription(db.session, connection, name=form.name.data, refresh_minutes=form.refresh_minutes.data)
    audit.record(db.session, "SUBSCRIPTION_UPDATE", user_id=current_user.id,
                 resource=("calendar_connection", connection.id), refresh_minutes=form.refresh_minutes.data)
    db.session.commit()
    return row_response(connection, "Subscription saved.")


@bp.route("/<uuid:connection_id>/sync", methods=["POST"])
def sync_now(connection_id: uuid.UUID):
    """Sync now (or Retry, after the sync stopped): replaces a waiting retry, except while the provider's own
    Retry-After runs, which the row states instead."""
    connection = get_owned_connection(connection_id)
    if not connection.is_connected:
        abort(400, description="Reconnect this calendar before syncing it.")
    wait_until = connection.retry_after_until
    if wait_until and wait_until > datetime.now(UTC):
        return row_response(connection, f"{LABELS[connection.provider]} asked us to wait; the sync runs then.")
    enqueue_sync(connection.id)
    return row_response(connection, "Sync started.")


@bp.route("/<uuid:connection_id>/accept-deletions", methods=["POST"])
def accept_deletions(connection_id: uuid.UUID):
    """After the deletion guard stopped a sync: the user checked the calendar and wants the provider's version."""
    connection = get_owned_connection(connection_id)
    if not connection.attention_reason:
        abort(400, description="This calendar has no stopped sync to resume.")
    audit.record(db.session, "SYNC_DELETIONS_ACCEPTED", user_id=current_user.id,
                 resource=("calendar_connection", connection.id))
    db.session.commit()
    enqueue_sync(connection.id, accept_deletions=True)
    return row_response(connection, "Resyncing; the provider's version will replace what is here.")


@bp.route("/<uuid:connection_id>/row")
def row(connection_id: uuid.UUID):
    """The calendar's row; while a sync is queued or running it polls itself until the job ends."""
    return row_response(get_owned_connection(connection_id))


@bp.route("/<uuid:connection_id>/color", methods=["POST"])
def recolor(connection_id: uuid.UUID):
    connection = get_owned_connection(connection_id)
    form = ColorForm()
    if not form.validate_on_submit():
        if not is_partial_request():
            flash(form.color.errors[0] if form.color.errors else "Pick a colour like #1a73e8.", "error")
            return redirect(url_for("connections.index"))
        return row_response(connection, color_form=form, status=422)
    connection.calendar_color = form.color.data
    changes.note_change(db.session, current_user.id)
    db.session.commit()
    return row_response(connection, "Colour saved.")


@bp.route("/<uuid:connection_id>/disconnect", methods=["POST"])
def disconnect_calendar(connection_id: uuid.UUID):
    connection = get_owned_connection(connection_id)
    message = f"Disconnected {connection.calendar_name}."
    revocation = disconnect(db.session, connection)
    db.session.commit()
    if revocation is not None:
        revoke(db.session, revocation)
        db.session.commit()
    if is_partial_request():
        return toast(render_page("connections/index.html", "connections/_removed.html"), message)
    flash(message, "success")
    return redirect(url_for("connections.index"))


@bp.route("/<uuid:connection_id>/remove", methods=["GET", "POST"])
def remove_calendar(connection_id: uuid.UUID):
    """A calendar removed at the provider: first the changes made here that would be lost, then removing it."""
    connection = get_owned_connection(connection_id)
    if connection.provider_removed_at is None:
        abort(400, description=f"{connection.calendar_name} is still at {LABELS[connection.provider]}; "
                               "use Disconnect to stop syncing it.")
    if request.method == "GET":
        return render_page("connections/remove.html", "connections/_remove.html", connection=connection,
                           label=LABELS[connection.provider], changes=unpushed_changes(db.session, connection.id))
    if not request.form.get("confirm"):
        abort(400, description="Confirm removing the calendar from Almanac.")
    message = f"Removed {connection.calendar_name} from Almanac."
    revocation = remove_from_almanac(db.session, connection)
    db.session.commit()
    if revocation is not None:
        revoke(db.session, revocation)
        db.session.commit()
    flash(message, "success")
    return redirect(url_for("connections.index"), 303)


def get_owned_event(event_id: uuid.UUID) -> CalendarEvent:
    event = db.session.scalar(
        select(CalendarEvent).join(CalendarConnection, CalendarConnection.id == CalendarEvent.calendar_connection_id)
        .where(CalendarEvent.id == event_id, CalendarConnection.user_id == current_user.id,
               CalendarConnection.deleted_at.is_(None)))
    if event is None:
        abort(404)
    return event


@bp.route("/events/<uuid:event_id>/conflict", methods=["POST"])
def resolve_conflict(event_id: uuid.UUID):
    """The user's side in a conflict shown on the event panel: keep mine (push ours) or take theirs."""
    event = get_owned_event(event_id)
    choice = request.form.get("choice")
    if choice not in ("mine", "theirs"):
        abort(400, description="Choose to keep your version or take theirs.")
    view = sync_conflict(event)
    if view is not None and not view.can_resolve:
        abort(403, description="This calendar no longer takes changes (it was removed at the provider, or is "
                               "read-only); remove it from Almanac on the Connections page.")
    deleting = event.deletion_requested_at is not None
    if view is None:
        message = "This event has no conflict any more."
    elif choice == "mine":
        conflicts.keep_mine(db.session, event, current_user.id)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        enqueue_push(event.id)
        message = "Deleting it anyway; sending it now." if deleting else "Keeping your version; sending it now."
    else:
        needs_pull = conflicts.take_theirs(db.session, event, current_user.id)
        changes.note_change(db.session, current_user.id)
        db.session.commit()
        if needs_pull:
            enqueue_sync(event.calendar_connection_id)
        message = "Kept their version; the event is not deleted." if deleting else "Took their version."
    if is_partial_request():
        return toast(render_page("calendar/event.html", "calendar/_sync_conflict.html", event=event), message)
    flash(message, "success")
    return redirect(url_for("calendar.event", event_id=event.id))


@bp.app_template_global()
def calendar_colour(connection: CalendarConnection) -> str:
    """The colour the connections page's picker shows: the one the calendar's cards are drawn in."""
    return safe_colour(connection.calendar_color, connection.id.int)


@bp.app_template_global()
def sync_conflict(event: CalendarEvent) -> conflicts.ConflictView | None:
    """The event panel's view of a conflict on this event, times in the viewer's zone."""
    return conflicts.describe(db.session, event, current_user.time_zone if current_user.is_authenticated else None)


def row_response(connection: CalendarConnection, message: str | None = None, *, color_form: ColorForm | None = None,
                 subscription_form: SubscriptionSettingsForm | None = None, status: int = 200):
    """htmx gets the calendar's row; a plain form post goes back to the page."""
    if not is_partial_request():
        if message:
            flash(message, "success")
        return redirect(url_for("connections.index"))
    is_queued = is_sync_queued(connection.id)
    is_running = connection.id in running_syncs(db.session, [connection.id])
    state = sync_state(connection, now=datetime.now(UTC), zone=current_user.time_zone, is_running=is_running,
                       is_queued=is_queued)
    response = render_page("connections/index.html", "connections/_row.html", status=status, connection=connection,
                           color_form=color_form or ColorForm(), states={connection.id: state},
                           polling={connection.id} if state.kind == "syncing" else set(),
                           subscriptions={connection.id: subscription_form} if subscription_form
                           else _subscriptions([connection]),
                           limited=series_shown_in_part(db.session, [connection.id]),
                           watched=watch.watch_state(db.session, [connection.id]))
    return toast(response, message) if message else response


def callback_url(kind: CalendarProvider) -> str:
    return url_for("connections.callback", provider=kind.value.lower(), _external=True)
