"""Profile, time zone and week-start settings (the sessions page lives with auth)."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user, login_required

from webapp import audit
from webapp.calendar.preferences import adopt_browser_time_zone, save_preferences, time_of
from webapp.calendar.zones import UTC_NAME
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page, toast
from webapp.settings import bp
from webapp.settings.forms import BrowserTimeZoneForm, ProfileForm


@bp.route("/")
def index():
    """The settings have no page of their own: the first one stands for them."""
    return redirect(url_for("settings.profile"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user
    # Working hours are stored as minutes and shown as times, so the form starts from data, not from the user
    # object (whose integers would otherwise fill a field a submission left out).
    form = ProfileForm(data={
        "first_name": user.first_name, "last_name": user.last_name, "week_start": user.week_start,
        # calendar.js puts the browser's zone here on the first visit
        "time_zone": user.time_zone or UTC_NAME,
        "work_day_start": time_of(user.work_day_start), "work_day_end": time_of(user.work_day_end),
        "mark_double_bookings": user.mark_double_bookings,
    }, current_zone=user.time_zone)
    if form.validate_on_submit():
        save_preferences(db.session, user, first_name=form.first_name.data, last_name=form.last_name.data,
                         time_zone=form.time_zone.data, week_start=form.week_start.data,
                         work_day=(form.work_day_start.data, form.work_day_end.data),
                         mark_double_bookings=form.mark_double_bookings.data)
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
