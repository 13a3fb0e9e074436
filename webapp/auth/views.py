from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask import session as cookie_session
from flask_login import current_user, login_required
from werkzeug.exceptions import TooManyRequests

from webapp import audit, mail, ratelimit
from webapp.auth import bp, recovery
from webapp.auth.accounts import EmailTaken, authenticate, hash_password, is_empty_instance, normalise_email
from webapp.auth.forms import (
    AcceptInvitationForm,
    ConfirmSignupForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResendSignupForm,
    ResetPasswordForm,
)
from webapp.auth.invitations import accept_invitation as use_invitation
from webapp.auth.invitations import invitation_for
from webapp.auth.sessions import (
    active_sessions,
    describe_device,
    end_session,
    login_cookie_name,
    revoke_session,
    start_session,
)
from webapp.auth.signup import (
    complete_signup,
    email_for_resend,
    pending_signup,
    renew_pending_signup,
    request_signup,
    resend_token,
)
from webapp.auth.throttle import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    LoginThrottle,
    account_key,
    device_token,
    is_trusted_device,
)
from webapp.config import SignupPolicy
from webapp.extensions import db, redis_client
from webapp.htmx import render_page, toast
from webapp.models import AuditStatus
from webapp.text import without_control_characters
from webapp.transport import is_loopback_client

SIGN_IN_PAUSED = "We paused sign-in attempts for this account from here, to keep it safe."
MAIL_PAUSED = "We have sent enough mail for now, to keep mailboxes safe from floods."


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("calendar.home"))
    policy = signup_policy()
    if not policy.accepts_registrations:
        # Refused before anything is read or stored: the same answer for every email.
        return render_page("auth/register.html", "auth/_register_form.html",
                           status=403 if request.method == "POST" else 200, form=None, policy=policy)
    form = RegisterForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        _refuse_when_mailing_too_much(email)
        signup = request_signup(db.session, email=email, password=form.password.data,
                                first_name=form.first_name.data, last_name=form.last_name.data)
        db.session.commit()
        mail.enqueue_mail_job("jobs.accounts.send_signup_link", str(signup.id))
        return _check_your_inbox(email, "signup")
    status = 422 if form.is_submitted() else 200
    return render_page("auth/register.html", "auth/_register_form.html", status=status, form=form, policy=policy)


@bp.route("/check-your-inbox")
def check_email():
    """Where "register", "forgot password" and "send the link again" land (POST, redirect, GET): reloading it sends
    nothing. The address comes from the cookie session that asked."""
    inbox = cookie_session.get("inbox") or {}
    return render_page("auth/check_email.html", "auth/_check_email.html", email=inbox.get("email"),
                       purpose=inbox.get("purpose"),
                       outbox_url=url_for("auth.outbox") if _outbox_is_open() else None)


@bp.route("/register/confirm", methods=["GET", "POST"])
def confirm_signup():
    """GET shows a button (mail scanners open links; only a person's click may create the account)."""
    policy = signup_policy()
    form = ConfirmSignupForm(data={"token": request.args.get("token", "")})
    if not policy.accepts_registrations:
        return render_page("auth/confirm_signup.html", "auth/_confirm_signup.html", status=403, form=form,
                           signup=None, policy=policy)
    if form.validate_on_submit():
        try:
            user = complete_signup(db.session, form.token.data)
        except EmailTaken:
            db.session.rollback()
            flash("This email already has an account: log in, or choose a new password.", "info")
            return redirect(url_for("auth.login"), 303)
        if user is not None:
            audit.record(db.session, "USER_REGISTER", user_id=user.id, resource=("user", user.id))
            return _welcome(user)
    signup = pending_signup(db.session, form.token.data) if form.token.data else None
    status = 200 if signup is not None else 400
    return render_page("auth/confirm_signup.html", "auth/_confirm_signup.html", status=status, form=form,
                       signup=signup, policy=policy, first_account=signup is not None and is_empty_instance(db.session))


@bp.route("/register/invitation", methods=["GET", "POST"])
def accept_invitation():
    """An admin's invitation: choose a password and the account exists. The token rides in the query string and
    the form, never in a logged path."""
    if current_user.is_authenticated:
        return redirect(url_for("calendar.home"))
    policy = signup_policy()
    form = AcceptInvitationForm(data={"token": request.args.get("token", "")})
    if not policy.accepts_invitations:
        return render_page("auth/accept_invitation.html", "auth/_accept_invitation.html", status=403, form=None,
                           invitation=None, policy=policy)
    if form.validate_on_submit():
        # Hashed before any statement: argon2 is deliberately slow, and no transaction should wait on it.
        password_hash = hash_password(form.password.data)
        try:
            accepted = use_invitation(db.session, form.token.data, password_hash=password_hash,
                                      first_name=form.first_name.data, last_name=form.last_name.data,
                                      now=datetime.now(UTC))
        except EmailTaken:
            db.session.rollback()
            flash("This email already has an account: log in, or choose a new password.", "info")
            return redirect(url_for("auth.login"), 303)
        if accepted is not None:
            user, invitation_id = accepted
            audit.record(db.session, "USER_REGISTER", user_id=user.id, resource=("user", user.id), via="invitation",
                         invitation=invitation_id)
            return _welcome(user)
    invitation = invitation_for(db.session, form.token.data, now=datetime.now(UTC)) if form.token.data else None
    if invitation is None:
        return render_page("auth/accept_invitation.html", "auth/_accept_invitation.html", status=400, form=None,
                           invitation=None, policy=policy)
    status = 422 if form.is_submitted() else 200
    return render_page("auth/accept_invitation.html", "auth/_accept_invitation.html", status=status, form=form,
                       invitation=invitation, policy=policy, first_account=is_empty_instance(db.session))


def _welcome(user):
    response = _log_in(user)
    # After _log_in, which starts a fresh cookie session.
    if user.is_admin:
        flash("Welcome to Almanac. Yours is the first account here, so you are its admin: Admin is in the menu.",
              "success")
    else:
        flash("Welcome to Almanac.", "success")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("calendar.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        throttle = _login_throttle(email)
        _refuse_when_throttled(throttle, email)
        user, outcome = authenticate(db.session, email, form.password.data,
                                     pending_signups=signup_policy().accepts_registrations)
        if user is not None:
            if throttle:
                throttle.succeeded()
            audit.record(db.session, "USER_LOGIN", user_id=user.id, resource=("user", user.id))
            return _log_in(user)
        if throttle:
            # A sign-up's password counts too: each try costs two hashes, and repeating it gains nothing.
            throttle.failed()
        audit.record(
            db.session, "USER_LOGIN", user_id=None, status=AuditStatus.FAILURE, error=outcome, email=email
        )
        db.session.commit()
        if outcome == "signup_pending":
            # Only someone who typed the password they registered with gets here, whether or not the email has an
            # account: it tells them nothing they did not know.
            resend = ResendSignupForm(data={"token": resend_token(current_app.config["SECRET_KEY"], email)})
            return render_page("auth/login.html", "auth/_login_form.html", form=form, pending_email=email,
                               resend_form=resend)
        form.password.errors.append("That email and password do not match an account.")
    status = 422 if form.is_submitted() else 200
    return render_page("auth/login.html", "auth/_login_form.html", status=status, form=form)


@bp.route("/register/resend", methods=["POST"])
def resend_signup_link():
    """The button beside "Finish creating your account": the registration's link again, within the mail limits."""
    form = ResendSignupForm()
    email = email_for_resend(current_app.config["SECRET_KEY"], form.token.data or "") if form.validate() else None
    if email is None:
        abort(400, description="That button had expired. Log in again to get a fresh one.")
    _refuse_when_mailing_too_much(email)
    signup = renew_pending_signup(db.session, email, now=datetime.now(UTC))
    db.session.commit()
    if signup is None:
        flash("That sign-up has expired. Create your account again.", "info")
        return redirect(url_for("auth.register"), 303)
    mail.enqueue_mail_job("jobs.accounts.send_signup_link", str(signup.id))
    return _check_your_inbox(email, "signup")


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        _refuse_when_mailing_too_much(email)
        mail.enqueue_mail_job("jobs.accounts.send_password_reset", email, audit.request_origin())
        return _check_your_inbox(email, "reset")
    status = 422 if form.is_submitted() else 200
    return render_page("auth/forgot_password.html", "auth/_forgot_password_form.html", status=status, form=form)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    """The link from the mail; the token rides in the query string and the form, never in a logged path."""
    form = ResetPasswordForm(data={"token": request.args.get("token", "")})
    if form.validate_on_submit():
        result = recovery.reset_password(db.session, form.token.data, form.password.data)
        if result is not None:
            user, taken = result
            audit.record(db.session, "PASSWORD_RESET", user_id=user.id, resource=("user", user.id),
                         sessions_ended=taken.sessions_ended)
            if current_app.config["RATELIMIT_ENABLED"]:
                _login_throttle(user.email).forget_account()
            response = _log_in(user)
            flash("Your password is changed, and every other device is signed out." + _feed_note(taken), "success")
            return response
    user = recovery.reset_user(db.session, form.token.data) if form.token.data else None
    if user is None:
        return render_page("auth/reset_password.html", "auth/_reset_password_form.html", status=400, form=None,
                           email=None)
    status = 422 if form.is_submitted() else 200
    return render_page("auth/reset_password.html", "auth/_reset_password_form.html", status=status, form=form,
                       email=user.email)


@bp.route("/dev/outbox")
def outbox():
    """Mail that would have been sent, for the local default (no SMTP_URL); never served in production."""
    if not _outbox_is_open():
        abort(404)
    return render_page("auth/outbox.html", "auth/_outbox.html", messages=mail.outbox(redis_client()))


def _outbox_is_open() -> bool:
    """The outbox lists live sign-up and reset links: whoever reads it can take over accounts. So only in
    development, and only to a browser on this machine (`make run` may listen on every interface)."""
    return mail.is_development() and is_loopback_client(request.environ, current_app.config["TRUSTED_PROXY_HOPS"])


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session(db.session, g.login_session.id)
    audit.record(db.session, "USER_LOGOUT", user_id=current_user.id, resource=("session", g.login_session.id))
    db.session.commit()
    flash("You are logged out.", "success")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(login_cookie_name())
    response.headers["Clear-Site-Data"] = '"cache"'  # calendar pages the browser kept (webapp.calendar.revisits)
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
    taken = recovery.sign_out_everywhere_else(db.session, current_user.id, g.login_session.id)
    count = taken.sessions_ended
    audit.record(
        db.session, "SESSION_REVOKE", user_id=current_user.id, resource=("user", current_user.id), revoked=count
    )
    db.session.commit()
    return _after_revoke(f"Signed out {count} other session{'s' if count != 1 else ''}." + _feed_note(taken))


def _feed_note(taken: recovery.TakenBack) -> str:
    if not taken.feed_revoked:
        return ""
    return " Your private calendar address stopped working too: make a new one under Subscribe elsewhere."


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
    """A fresh token on every login (no fixation); the Flask cookie session is reset too. The browser also gets
    (or keeps) a device cookie that exempts it from the throttles strangers can trip for this account."""
    cookie_session.clear()
    config = current_app.config
    token = start_session(
        db.session,
        user,
        absolute_days=config["SESSION_ABSOLUTE_DAYS"],
        user_agent=without_control_characters(request.headers.get("User-Agent")),
        ip_address=request.remote_addr,
    )
    db.session.commit()
    response = redirect(_safe_next() or url_for("calendar.home"))
    secure = config["SESSION_COOKIE_SECURE"] or request.is_secure
    response.set_cookie(
        login_cookie_name(),
        token,
        max_age=int(timedelta(days=config["SESSION_ABSOLUTE_DAYS"]).total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    response.set_cookie(
        config["COOKIE_PREFIX"] + DEVICE_COOKIE,
        device_token(config["SECRET_KEY"], user.email),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    return response


def _safe_next() -> str | None:
    """The `next` parameter if it is a path on this site, else None. "//evil.example" and "https://…" would be
    open redirects; browsers also read "\\" as "/" and drop tabs and newlines ("/\\t/evil.example" is
    "//evil.example" to them), so any of those is refused too."""
    target = request.args.get("next", "")
    if not target.startswith("/") or "\\" in target or any(character.isspace() for character in target):
        return None
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return None
    return target


def _check_your_inbox(email: str, purpose: str):
    """The one answer to "register" and "forgot password", whatever the email (the job decides what to send): a
    redirect to a page that a reload cannot send again."""
    cookie_session["inbox"] = {"email": email, "purpose": purpose}
    return redirect(url_for("auth.check_email"), 303)


def signup_policy() -> SignupPolicy:
    return SignupPolicy(current_app.config["SIGNUP"])


def _login_throttle(email: str) -> LoginThrottle | None:
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    config = current_app.config
    trusted = is_trusted_device(config["SECRET_KEY"], request.cookies.get(config["COOKIE_PREFIX"] + DEVICE_COOKIE),
                                email)
    return LoginThrottle.for_attempt(current_app, redis_client(), email, request.remote_addr, trusted)


def _refuse_when_throttled(throttle: LoginThrottle | None, email: str) -> None:
    wait = throttle.wait_seconds() if throttle else None
    if wait is None:
        return
    audit.record(db.session, "USER_LOGIN", user_id=None, status=AuditStatus.FAILURE, error="rate_limited", email=email)
    db.session.commit()
    raise TooManyRequests(description=SIGN_IN_PAUSED, retry_after=wait)


def _refuse_when_mailing_too_much(email: str) -> None:
    """Sign-up and reset mails: a few per email address (no mail-bombing) and some per client address."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    redis = redis_client()
    for key, rate in ((f"account-mail:address:{request.remote_addr}", config["ACCOUNT_MAIL_PER_ADDRESS"]),
                      (f"account-mail:email:{account_key(email)}", config["ACCOUNT_MAIL_PER_EMAIL"])):
        wait = ratelimit.take(redis, key, rate)
        if wait is not None:
            raise TooManyRequests(description=MAIL_PAUSED, retry_after=wait)
