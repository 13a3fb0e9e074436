"""Profile, time zone and week-start settings (the sessions page lives with auth)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import abort, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required, logout_user

from webapp import audit
from webapp.auth.accounts import password_matches
from webapp.auth.deletion import delete_account, finish_deletion
from webapp.auth.sessions import login_cookie_name
from webapp.calendar.entries import default_calendar
from webapp.calendar.preferences import adopt_browser_clock, adopt_browser_time_zone, save_preferences, time_of
from webapp.calendar.queries import user_calendars
from webapp.calendar.zones import UTC_NAME
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import AuditStatus, CalendarProvider
from webapp.settings import bp
from webapp.settings.data import export_archive
from webapp.settings.forms import BrowserTimeZoneForm, DeleteAccountForm, ProfileForm


@bp.route("/")
def index():
    """The settings have no page of their own: the first one stands for them."""
    return redirect(url_for("settings.profile"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user
    writable = [calendar for calendar in user_calendars(db.session, user.id) if calendar.is_writable]
    # Working hours are stored as minutes and shown as times, so the form starts from data, not from the user
    # object (whose integers would otherwise fill a field a submission left out).
    form = ProfileForm(data={
        "first_name": user.first_name, "last_name": user.last_name, "week_start": user.week_start,
        # calendar.js puts the browser's zone here on the first visit
        "time_zone": user.time_zone or UTC_NAME,
        "work_day_start": time_of(user.work_day_start), "work_day_end": time_of(user.work_day_end),
        "mark_double_bookings": user.mark_double_bookings,
        "default_calendar_id": str(default_calendar(writable, user.default_calendar_id) or ""),
        "clock": "12" if user.clock_24h is False else "24",
    }, current_zone=user.time_zone, calendars=writable)
    if form.validate_on_submit():
        save_preferences(db.session, user, first_name=form.first_name.data, last_name=form.last_name.data,
                         time_zone=form.time_zone.data, week_start=form.week_start.data,
                         work_day=(form.work_day_start.data, form.work_day_end.data),
                         mark_double_bookings=form.mark_double_bookings.data,
                         default_calendar_id=uuid.UUID(form.default_calendar_id.data)
                         if form.default_calendar_id.data else None,
                         clock_24h=form.clock.data == "24")
        audit.record(db.session, "PROFILE_UPDATE", user_id=user.id, resource=("user", user.id))
        db.session.commit()
        if is_partial_request():
            return toast(render_page("settings/profile.html", "settings/_profile.html", form=form), "Settings saved.")
        flash("Settings saved.", "success")
        return redirect(url_for("settings.profile"), 303)
    status = 422 if form.is_submitted() else 200
    return render_page("settings/profile.html", "settings/_profile.html", status=status, form=form)


@bp.route("/time-zone", methods=["POST"])
@login_required
def adopt_time_zone():
    """calendar.js posts the browser's zone once, while the user has none."""
    form = BrowserTimeZoneForm()
    if not form.validate_on_submit():
        abort(422, description="That is not a time zone.")
    if adopt_browser_time_zone(db.session, current_user, form.time_zone.data):
        db.session.commit()
    return "", 204


@bp.route("/clock", methods=["POST"])
@login_required
def adopt_clock():
    """clock.js posts the browser locale's hour cycle once, while the user has no clock of their own."""
    cycle = request.form.get("hour_cycle")
    if cycle not in ("h11", "h12", "h23", "h24"):
        abort(422, description="That is not an hour cycle.")
    if adopt_browser_clock(db.session, current_user, twelve_hour=cycle in ("h11", "h12")):
        db.session.commit()
    return "", 204


@bp.route("/data")
@login_required
def your_data():
    return render_page("settings/data.html", "settings/_data.html", form=DeleteAccountForm())


@bp.route("/data/almanac-data.zip")
@login_required
def export_data():
    now = datetime.now(UTC)
    archive = export_archive(db.session, current_user, now)
    audit.record(db.session, "DATA_EXPORT", user_id=current_user.id, resource=("user", current_user.id),
                 bytes=len(archive))
    db.session.commit()
    response = make_response(archive)
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = f'attachment; filename="almanac-data-{now:%Y-%m-%d}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/data/delete", methods=["POST"])
@login_required
def delete_my_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if password_matches(current_user, form.password.data):
            return _delete_and_sign_out()
        form.password.errors.append("That is not your password.")
        audit.record(db.session, "ACCOUNT_DELETE", user_id=current_user.id, resource=("user", current_user.id),
                     status=AuditStatus.FAILURE, error="wrong password")
        db.session.commit()
    return render_page("settings/data.html", "settings/_data.html", status=422, form=form)


def _delete_and_sign_out():
    deletion = delete_account(db.session, current_user._get_current_object(), actor_id=None, via="settings")
    db.session.commit()
    logout_user()
    failed = finish_deletion(db.session, deletion)
    message = "Your account and everything Almanac held for it are deleted."
    if failed:
        message += " Google did not confirm that Almanac's access ended: remove Almanac at myaccount.google.com."
    if CalendarProvider.MICROSOFT in deletion.providers:
        # Microsoft gives apps no way to end their own access (webapp.providers.microsoft.revoke).
        message += " Microsoft lets only you end Almanac's access to Outlook: remove it at account.live.com/consent."
    flash(message, "success")
    if is_partial_request():  # htmx follows a redirect inside the page; the whole page must go to sign-in
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("auth.login")
    else:
        response = redirect(url_for("auth.login"), 303)
    response.delete_cookie(login_cookie_name())
    return response
