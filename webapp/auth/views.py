from __future__ import annotations

import uuid
from datetime import timedelta

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask import session as cookie_session
from flask_login import current_user, login_required
from werkzeug.exceptions import TooManyRequests

from webapp import audit
from webapp.auth import bp
from webapp.auth.accounts import EmailTaken, authenticate, normalise_email, register_user
from webapp.auth.forms import LoginForm, RegisterForm
from webapp.auth.sessions import (
    COOKIE_NAME,
    active_sessions,
    describe_device,
    end_session,
    revoke_other_sessions,
    revoke_session,
    start_session,
)
from webapp.extensions import db, redis_client
from webapp.htmx import render_page, toast
from webapp.models import AuditStatus
from webapp.ratelimit import count_hit, is_limited, parse_rate


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("calendar.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = register_user(
                db.session,
                email=form.email.data,
                password=form.password.data,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
            )
        except EmailTaken:
            form.email.errors.append("An account with this email already exists. Log in instead?")
        else:
            audit.record(db.session, "USER_REGISTER", user_id=user.id, resource=("user", user.id))
            response = _log_in(user)
            flash("Welcome to Almanac.", "success")
            return response
    status = 422 if form.is_submitted() else 200
    return render_page("auth/register.html", "auth/_register_form.html", status=status, form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("calendar.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        _refuse_when_throttled(email)
        user, outcome = authenticate(db.session, email, form.password.data)
        if user is not None:
            audit.record(db.session, "USER_LOGIN", user_id=user.id, resource=("user", user.id))
            return _log_in(user)
        _count_failure(email)
        audit.record(
            db.session, "USER_LOGIN", user_id=None, status=AuditStatus.FAILURE, error=outcome, email=email
        )
        db.session.commit()
        form.password.errors.append("That email and password do not match an account.")
    status = 422 if form.is_submitted() else 200
    return render_page("auth/login.html", "auth/_login_form.html", status=status, form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session(db.session, g.login_session.id)
    audit.record(db.session, "USER_LOGOUT", user_id=current_user.id, resource=("session", g.login_session.id))
    db.session.commit()
    flash("You are logged out.", "success")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(COOKIE_NAME)
    return response


@bp.route("/settings/sessions")
@login_required
def sessions():
    return _render_sessions()


@bp.route("/settings/sessions/<uuid:session_id>/revoke", methods=["POST"])
@login_required
def revoke(session_id: uuid.UUID):
    if session_id == g.login_session.id:
        abort(400, description="This is the session you are using; log out instead.")
    if not revoke_session(db.session, current_user.id, session_id):
        abort(404)
    audit.record(db.session, "SESSION_REVOKE", user_id=current_user.id, resource=("session", session_id))
    db.session.commit()
    return _after_revoke("Session signed out.")


@bp.route("/settings/sessions/revoke-others", methods=["POST"])
@login_required
def revoke_others():
    count = revoke_other_sessions(db.session, current_user.id, g.login_session.id)
    audit.record(
        db.session, "SESSION_REVOKE", user_id=current_user.id, resource=("user", current_user.id), revoked=count
    )
    db.session.commit()
    return _after_revoke(f"Signed out {count} other session{'s' if count != 1 else ''}.")


def _after_revoke(message: str):
    if request.headers.get("HX-Request") == "true":
        return toast(_render_sessions(), message)
    flash(message, "success")
    return redirect(url_for("auth.sessions"))


def _render_sessions():
    rows = active_sessions(db.session, current_user.id, idle_days=current_app.config["SESSION_IDLE_DAYS"])
    return render_page(
        "auth/sessions.html",
        "auth/_sessions.html",
        sessions=rows,
        current_session_id=g.login_session.id,
        describe_device=describe_device,
    )


def _log_in(user):
    """A fresh token on every login (no fixation); the Flask cookie session is reset too."""
    cookie_session.clear()
    config = current_app.config
    token = start_session(
        db.session,
        user,
        absolute_days=config["SESSION_ABSOLUTE_DAYS"],
        user_agent=request.headers.get("User-Agent"),
        ip_address=request.remote_addr,
    )
    db.session.commit()
    response = redirect(_safe_next() or url_for("calendar.home"))
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(timedelta(days=config["SESSION_ABSOLUTE_DAYS"]).total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=config["SESSION_COOKIE_SECURE"] or request.is_secure,
    )
    return response


def _safe_next() -> str | None:
    target = request.args.get("next", "")
    # Only same-site paths: "//evil.example" and "https://…" are open redirects.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _throttle_keys(email: str) -> list[tuple[str, str]]:
    config = current_app.config
    return [
        (f"login-fail:account:{email}", config["LOGIN_FAILURES_PER_ACCOUNT"]),
        (f"login-fail:ip:{request.remote_addr}", config["LOGIN_FAILURES_PER_IP"]),
    ]


def _refuse_when_throttled(email: str) -> None:
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    redis = redis_client()
    for key, rate in _throttle_keys(email):
        retry_after = is_limited(redis, key, parse_rate(rate)[0])
        if retry_after is not None:
            audit.record(
                db.session, "USER_LOGIN", user_id=None, status=AuditStatus.FAILURE, error="rate_limited", email=email
            )
            db.session.commit()
            raise TooManyRequests(retry_after=retry_after)


def _count_failure(email: str) -> None:
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    redis = redis_client()
    for key, rate in _throttle_keys(email):
        count_hit(redis, key, parse_rate(rate)[1])
