"""Admin pages: audit log, sync health, users. `admin.bp.before_request` has already rejected non-admins."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import (
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from webapp import audit
from webapp.admin import bp, health
from webapp.admin.audit_query import Cursor, audit_page, csv_chunks, find_entry, known_actions
from webapp.admin.forms import AuditFilterForm, UserSearchForm
from webapp.admin.users import disable_user, enable_user, list_users, user_row
from webapp.extensions import db, redis_client
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import User


@bp.context_processor
def time_formatting():
    def utc_time(moment: datetime, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
        # The database hands back its session time zone; admin pages always speak UTC.
        return moment.astimezone(UTC).strftime(pattern)

    return {"utc_time": utc_time}


@bp.route("/")
def index():
    return render_page("admin/index.html", "admin/_index.html")


@bp.route("/audit")
def audit_log():
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        return render_page("admin/audit.html", "admin/_audit.html", status=422, form=form, results=None,
                           actions=known_actions(db.session), filter_args={})
    before, after = _cursor_arg("before"), _cursor_arg("after")
    if before and after:
        abort(400, description="A page link has either `before` or `after`, not both.")
    page = audit_page(db.session, form.to_filters(), before=before, after=after)
    return render_page("admin/audit.html", "admin/_audit.html", form=form, results=page,
                       actions=known_actions(db.session), filter_args=_filter_args())


@bp.route("/audit/export.csv")
def audit_export():
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        abort(400, description="Fix the filters on the audit log page, then export again.")
    filters = form.to_filters()
    audit.record(db.session, "ADMIN_AUDIT_EXPORT", user_id=current_user.id, filters=_filter_args())
    db.session.commit()
    filename = f"audit-log-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(csv_chunks(db.session, filters)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/audit/<uuid:entry_id>")
def audit_entry(entry_id: uuid.UUID):
    entry = find_entry(db.session, entry_id)
    if entry is None:
        abort(404)
    return render_page("admin/audit_entry.html", "admin/_audit_entry.html", entry=entry,
                       back_args=_filter_args())


@bp.route("/health")
def sync_health():
    report = health.sync_health_report(db.session, redis_client(), datetime.now(UTC))
    return render_page("admin/health.html", "admin/_health.html", report=report)


@bp.route("/health/failed-jobs/<queue_name>/<job_id>/retry", methods=["POST"])
def retry_job(queue_name: str, job_id: str):
    if not health.retry_failed_job(redis_client(), queue_name, job_id):
        abort(404, description="That job is no longer in the failed list.")
    audit.record(db.session, "ADMIN_JOB_RETRY", user_id=current_user.id, resource=("job", job_id), queue=queue_name)
    db.session.commit()
    message = f"Job {job_id} is queued again."
    if is_partial_request():
        return toast(sync_health(), message)
    flash(message, "success")
    return redirect(url_for("admin.sync_health"))


@bp.route("/users")
def users():
    form = UserSearchForm(formdata=request.args)
    if not form.validate():
        return render_page("admin/users.html", "admin/_users.html", status=422, form=form, results=None)
    after = request.args.get("after") or None
    page = list_users(db.session, search=form.q.data, after=after)
    return render_page("admin/users.html", "admin/_users.html", form=form, results=page)


@bp.route("/users/<uuid:user_id>/disable", methods=["POST"])
def disable(user_id: uuid.UUID):
    user = _get_user(user_id)
    if user.id == current_user.id:
        abort(400, description="You cannot disable your own account.")
    ended = disable_user(db.session, user, now=datetime.now(UTC))
    audit.record(db.session, "ADMIN_USER_DISABLE", user_id=current_user.id, resource=("user", user.id),
                 sessions_ended=ended)
    db.session.commit()
    return _after_user_change(user.id, f"{user.email} is disabled; {ended} session{'s' if ended != 1 else ''} ended.")


@bp.route("/users/<uuid:user_id>/enable", methods=["POST"])
def enable(user_id: uuid.UUID):
    user = _get_user(user_id)
    enable_user(db.session, user)
    audit.record(db.session, "ADMIN_USER_ENABLE", user_id=current_user.id, resource=("user", user.id))
    db.session.commit()
    return _after_user_change(user.id, f"{user.email} can log in again.")


def _get_user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _after_user_change(user_id: uuid.UUID, message: str):
    if is_partial_request():
        # htmx swaps just the changed row.
        return toast(make_response(render_template("admin/_user_row.html", row=user_row(db.session, user_id))),
                     message)
    flash(message, "success")
    return redirect(url_for("admin.users"))


def _cursor_arg(name: str) -> Cursor | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return Cursor.decode(value)
    except ValueError:
        abort(400, description="That page link is not valid. Start again from the newest entries.")


def _filter_args() -> dict[str, str]:
    """The filters of this request, for links that must keep them (pages, export, back from an entry)."""
    return {name: value for name in AuditFilterForm.FILTER_NAMES if (value := request.args.get(name))}
