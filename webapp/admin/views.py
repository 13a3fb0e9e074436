"""Admin pages: audit log, sync health, users. `admin.bp.before_request` has already rejected non-admins."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import (
    Response,
    abort,
    current_app,
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
from webapp.admin.forms import AuditFilterForm, InviteForm, UserSearchForm
from webapp.admin.users import (
    LastAdmin,
    disable_user,
    enable_user,
    grant_admin,
    is_last_admin,
    list_users,
    revoke_admin,
    user_row,
)
from webapp.auth.accounts import EmailTaken
from webapp.auth.deletion import delete_account, finish_deletion
from webapp.auth.invitations import INVITATION_LIFETIME, create_invitation
from webapp.config import SignupPolicy
from webapp.extensions import db, redis_client
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import AuditStatus, User

LAST_ADMIN = "{email} is the only admin: make someone else an admin first."


@dataclass(frozen=True)
class Confirmation:
    """The question asked in the page before an action on an account is taken."""

    button: str
    question: str  # "{email}" stands for the account
    consequence: str
    is_destructive: bool = True


CONFIRMATIONS = {
    "admin.disable": Confirmation(
        "Disable", "Disable {email}?",
        "They are signed out everywhere at once and their private calendar address stops working. Their calendars "
        "stay, and you can enable the account again."),
    "admin.make_admin": Confirmation(
        "Make admin", "Make {email} an admin?",
        "They will see every account, the audit log and sync health, and can disable accounts and make admins.",
        is_destructive=False),
    "admin.revoke_admin": Confirmation(
        "Revoke admin", "Revoke admin rights from {email}?",
        "They keep their account and calendars, without the admin pages."),
    "admin.delete": Confirmation(
        "Delete for good", "Delete {email} for good?",
        "Their account, calendars, events, sessions and private address go now, and Almanac's access at Google is "
        "revoked; their events stay at their providers. The audit log keeps what happened. This cannot be undone."),
}


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
    report = health.sync_health_report(db.session, redis_client(), datetime.now(UTC),
                                       push_enabled=current_app.config["PUSH_NOTIFICATIONS"])
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
        return _users_page(form, None, status=422)
    page = list_users(db.session, search=form.q.data, after=form.after.data or None, before=form.before.data or None)
    return _users_page(form, page)


@bp.route("/users/invite", methods=["POST"])
def invite():
    """Make an invitation and show its link, once: only its hash is kept."""
    form = InviteForm()
    invitation = None
    # With SIGNUP=closed the region says so in place of its form.
    if SignupPolicy(current_app.config["SIGNUP"]).accepts_invitations and form.validate_on_submit():
        try:
            row, link = create_invitation(db.session, form.email.data, invited_by=current_user.id,
                                          now=datetime.now(UTC))
        except EmailTaken:
            form.email.errors.append("This email already has an account.")
        else:
            audit.record(db.session, "INVITATION_CREATE", user_id=current_user.id, resource=("invitation", row.id),
                         email=row.email)
            db.session.commit()
            invitation, form = {"email": row.email, "link": link}, InviteForm(formdata=None)
    status = 200 if invitation else 422
    if is_partial_request():
        return render_page("admin/users.html", "admin/_invite.html", status=status, invite_form=form,
                           invitation=invitation, invitation_days=INVITATION_LIFETIME.days)
    return _users_page(UserSearchForm(formdata=None), list_users(db.session), status=status, invite_form=form,
                       invitation=invitation)


@bp.route("/users/<uuid:user_id>/row")
def user_row_partial(user_id: uuid.UUID):
    """The account's row, for "Cancel" on a question asked in it; a page request goes to the list."""
    if not is_partial_request():
        return redirect(url_for("admin.users"))
    return _row(_get_user(user_id).id)


@bp.route("/users/<uuid:user_id>/disable", methods=["GET", "POST"])
def disable(user_id: uuid.UUID):
    user = _get_user(user_id)
    if user.id == current_user.id:
        abort(400, description="You cannot disable your own account.")
    if request.method == "GET":
        return _confirm(user, "admin.disable")
    ended = disable_user(db.session, user, now=datetime.now(UTC))
    audit.record(db.session, "ADMIN_USER_DISABLE", user_id=current_user.id, resource=("user", user.id),
                 sessions_ended=ended)
    db.session.commit()
    return _after_user_change(user.id, f"{user.email} is disabled; {ended} session{'s' if ended != 1 else ''} ended "
                                       "and their private calendar address is off.")


@bp.route("/users/<uuid:user_id>/enable", methods=["POST"])
def enable(user_id: uuid.UUID):
    user = _get_user(user_id)
    enable_user(db.session, user)
    audit.record(db.session, "ADMIN_USER_ENABLE", user_id=current_user.id, resource=("user", user.id))
    db.session.commit()
    return _after_user_change(user.id, f"{user.email} can log in again.")


@bp.route("/users/<uuid:user_id>/make-admin", methods=["GET", "POST"])
def make_admin(user_id: uuid.UUID):
    user = _get_user(user_id)
    if not user.is_active:
        abort(409, description="Enable the account before making it an admin.")
    if request.method == "GET":
        return _confirm(user, "admin.make_admin")
    if grant_admin(db.session, user):
        audit.record(db.session, "ADMIN_GRANT", user_id=current_user.id, resource=("user", user.id))
        db.session.commit()
    return _after_user_change(user.id, f"{user.email} is an admin.")


@bp.route("/users/<uuid:user_id>/revoke-admin", methods=["GET", "POST"], endpoint="revoke_admin")
def take_admin_back(user_id: uuid.UUID):
    user = _get_user(user_id)
    if not user.is_admin:
        abort(409, description=f"{user.email} is not an admin.")
    if request.method == "GET":
        refusal = LAST_ADMIN.format(email=user.email) if is_last_admin(db.session, user.id) else None
        return _confirm(user, "admin.revoke_admin", refusal=refusal)
    try:
        revoke_admin(db.session, user)
    except LastAdmin:
        db.session.rollback()
        audit.record(db.session, "ADMIN_REVOKE", user_id=current_user.id, resource=("user", user_id),
                     status=AuditStatus.FAILURE, error="last_admin")
        db.session.commit()
        return _refuse(409, LAST_ADMIN.format(email=user.email))
    audit.record(db.session, "ADMIN_REVOKE", user_id=current_user.id, resource=("user", user.id))
    db.session.commit()
    if user.id == current_user.id:
        flash("You are no longer an admin.", "success")
        return _leave_admin_pages()
    return _after_user_change(user.id, f"{user.email} is no longer an admin.")


@bp.route("/users/<uuid:user_id>/delete", methods=["GET", "POST"])
def delete(user_id: uuid.UUID):
    user = _get_user(user_id)
    if user.id == current_user.id:
        abort(400, description="Delete your own account from Settings → Your data.")
    if request.method == "GET":
        refusal = LAST_ADMIN.format(email=user.email) if is_last_admin(db.session, user.id) else None
        return _confirm(user, "admin.delete", refusal=refusal)
    email = user.email
    try:
        deletion = delete_account(db.session, user, actor_id=current_user.id, via="admin")
    except LastAdmin:
        db.session.rollback()
        return _refuse(409, LAST_ADMIN.format(email=email))
    db.session.commit()
    failed = finish_deletion(db.session, deletion)
    message = f"{email} is deleted." + (" Google did not confirm the end of Almanac's access (see the audit log)."
                                        if failed else "")
    if is_partial_request():
        return toast(make_response("", 200), message)  # htmx swaps the row away
    flash(message, "success")
    return redirect(url_for("admin.users"))


def _users_page(form: UserSearchForm, results, *, status: int = 200, invite_form: InviteForm | None = None,
                invitation: dict | None = None):
    return render_page("admin/users.html", "admin/_users.html", status=status, form=form, results=results,
                       invite_form=invite_form or InviteForm(formdata=None), invitation=invitation,
                       invitation_days=INVITATION_LIFETIME.days)


def _confirm(user: User, endpoint: str, *, refusal: str | None = None):
    """The question, in the account's row for htmx, or as a page of its own."""
    return render_page("admin/user_action.html", "admin/_user_row.html", row=user_row(db.session, user.id),
                       action=endpoint, confirmation=CONFIRMATIONS[endpoint], refusal=refusal)


def _refuse(status: int, message: str):
    if is_partial_request():
        return toast(make_response("", status), message, "error")
    abort(status, description=message)


def _leave_admin_pages():
    """After giving up one's own admin rights the admin pages answer 403: go to the calendar instead."""
    if is_partial_request():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("calendar.home")
        return response
    return redirect(url_for("calendar.home"))


def _get_user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _row(user_id: uuid.UUID):
    response = make_response(render_template("admin/_user_row.html", row=user_row(db.session, user_id)))
    response.vary.add("HX-Request")
    return response


def _after_user_change(user_id: uuid.UUID, message: str):
    if is_partial_request():
        # htmx swaps just the changed row.
        return toast(_row(user_id), message)
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
