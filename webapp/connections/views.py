"""Connections page: connect, reconnect, sync now, recolour and disconnect calendars."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp import audit
from webapp.connections import bp
from webapp.connections.forms import AppleConnectForm, ColorForm
from webapp.connections.service import (
    ConnectFailed,
    begin_oauth,
    calendars_by_account,
    complete_oauth,
    connect_apple,
    disconnect,
)
from webapp.errors import render_error
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import CalendarConnection, CalendarProvider
from webapp.providers import LABELS, OAUTH_PROVIDERS, is_configured
from webapp.sync.queue import enqueue_sync, sync_job_state


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
    return render_page("connections/index.html", "connections/_index.html", accounts=accounts, providers=providers,
                       labels=LABELS, color_form=ColorForm(), job_state=None)


@bp.route("/<provider>/connect", methods=["POST"])
def connect(provider: str):
    kind = parse_provider(provider)
    if kind not in OAUTH_PROVIDERS:
        return redirect(url_for("connections.apple"))
    if not is_configured(kind):
        flash(f"{LABELS[kind]} is not configured on this server (set {kind.value}_CLIENT_ID).", "error")
        return redirect(url_for("connections.index"))
    authorization_url = begin_oauth(db.session, current_user.id, kind, callback_url(kind))
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
    for connection in connections:
        enqueue_sync(connection.id)
    flash(f"Connected {len(connections)} {LABELS[kind]} calendar{'s' if len(connections) != 1 else ''}.", "success")
    return redirect(url_for("connections.index"))


@bp.route("/apple", methods=["GET", "POST"])
def apple():
    form = AppleConnectForm()
    if form.validate_on_submit():
        try:
            connections = connect_apple(db.session, current_user.id, form.apple_id.data, form.app_password.data)
        except ConnectFailed as failure:
            db.session.commit()
            form.app_password.errors.append(failure.message)
        else:
            db.session.commit()
            for connection in connections:
                enqueue_sync(connection.id)
            flash(f"Connected {len(connections)} iCloud calendar{'s' if len(connections) != 1 else ''}.", "success")
            return redirect(url_for("connections.index"))
    status = 422 if form.is_submitted() else 200
    return render_page("connections/apple.html", "connections/_apple_form.html", status=status, form=form)


@bp.route("/<uuid:connection_id>/sync", methods=["POST"])
def sync_now(connection_id: uuid.UUID):
    connection = get_owned_connection(connection_id)
    if not connection.is_connected:
        abort(400, description="Reconnect this calendar before syncing it.")
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
    db.session.commit()
    return row_response(connection, "Colour saved.")


@bp.route("/<uuid:connection_id>/disconnect", methods=["POST"])
def disconnect_calendar(connection_id: uuid.UUID):
    connection = get_owned_connection(connection_id)
    disconnect(db.session, connection)
    db.session.commit()
    message = f"Disconnected {connection.calendar_name}."
    if is_partial_request():
        return toast(render_page("connections/index.html", "connections/_removed.html"), message)
    flash(message, "success")
    return redirect(url_for("connections.index"))


def row_response(connection: CalendarConnection, message: str | None = None, *, color_form: ColorForm | None = None,
                 status: int = 200):
    """htmx gets the calendar's row; a plain form post goes back to the page."""
    if not is_partial_request():
        if message:
            flash(message, "success")
        return redirect(url_for("connections.index"))
    response = render_page("connections/index.html", "connections/_row.html", status=status, connection=connection,
                           color_form=color_form or ColorForm(), job_state=sync_job_state(connection.id))
    return toast(response, message) if message else response


def callback_url(kind: CalendarProvider) -> str:
    return url_for("connections.callback", provider=kind.value.lower(), _external=True)
