"""The private feed (/feeds/<token>.ics, no login: calendar apps have no cookies) and Settings → Subscribe elsewhere."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import TooManyRequests
from werkzeug.http import is_resource_modified

from webapp import audit
from webapp.extensions import db, redis_client
from webapp.feeds import access, bp, tokens
from webapp.feeds.forms import BUSY_ISSUE, BUSY_OFF, GUESTS, ISSUE, TURN_OFF, SubscribeForm
from webapp.feeds.ical import build_feed, feed_version
from webapp.htmx import is_partial_request, render_page, toast
from webapp.models import User


def _now() -> datetime:
    return datetime.now(UTC)


@bp.route("/feeds/<token>.ics")
def feed(token: str):
    redis = redis_client()
    limited = current_app.config["RATELIMIT_ENABLED"]
    if limited and (wait := access.refused_address(redis, request.remote_addr)):
        raise TooManyRequests(retry_after=wait)
    found = tokens.feed_for_token(db.session, token)
    if found is None:
        if limited:
            access.count_miss(redis, request.remote_addr)
        abort(404)
    now = _now()
    if limited and (wait := access.refused_feed(redis, found.id)):
        access.count_request(redis, found.id, found.user_id, now, not_modified=False, refused=True)
        raise TooManyRequests(retry_after=wait)
    owner = db.session.get(User, found.user_id)
    version = feed_version(db.session, found, owner, now)
    modified = access.last_modified(redis, found.id, version.etag, version.newest_change, now)
    unchanged = not is_resource_modified(request.environ, etag=version.etag, last_modified=modified)
    body = b""
    if not unchanged:
        body = access.cached_body(redis, found.id, version.etag)
        if body is None:
            body = build_feed(db.session, found, owner, now)
            access.keep_body(redis, found.id, version.etag, body)
    tokens.note_use(db.session, found, now)
    db.session.commit()
    access.count_request(redis, found.id, found.user_id, now, not_modified=unchanged)
    response = make_response(body, 304 if unchanged else 200)
    response.mimetype = "text/calendar"
    response.set_etag(version.etag)
    response.last_modified = modified
    # The address is a secret: no shared cache may keep it; clients revalidate with the validators above.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Disposition"] = 'inline; filename="almanac.ics"'
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/settings/subscribe", methods=["GET", "POST"])
@login_required
def subscribe():
    form = SubscribeForm()
    current = tokens.user_feed(db.session, current_user.id)
    if request.method == "GET":
        form.include_attendees.data = bool(current and current.include_attendees)
        return _render(form, current)
    if not form.validate_on_submit():
        return _render(form, current, status=422)
    now = _now()
    if form.action.data in (BUSY_ISSUE, BUSY_OFF):
        return _busy_action(form, current, now)
    if form.action.data == ISSUE:
        token = tokens.issue_token(db.session, current_user.id, now)
        audit.record(db.session, "FEED_REGENERATE" if current else "FEED_CREATE", user_id=current_user.id,
                     resource=("user", current_user.id))
        db.session.commit()
        # Shown this once: only the token's hash is kept. Rendered, not redirected, so it never sits in a URL.
        current = tokens.user_feed(db.session, current_user.id)
        form.include_attendees.data = current.include_attendees
        response = _render(form, current, new_url=url_for("feeds.feed", token=token, _external=True))
        return toast(response, "Your new private address is ready.") if is_partial_request() else response
    if current is None:
        abort(409, description="There is no private address to change; create one first.")
    if form.action.data == TURN_OFF:
        tokens.turn_off(db.session, current_user.id, tokens.FULL)
        audit.record(db.session, "FEED_DISABLE", user_id=current_user.id, resource=("user", current_user.id))
        message, current = "Your private address no longer works.", None
    elif form.action.data == GUESTS:
        tokens.set_include_attendees(db.session, current, form.include_attendees.data, now)
        audit.record(db.session, "FEED_UPDATE", user_id=current_user.id, resource=("user", current_user.id),
                     include_attendees=current.include_attendees)
        message = "Guests are now included." if current.include_attendees else "Guests are now left out."
    db.session.commit()
    if is_partial_request():
        return toast(_render(form, current), message)
    flash(message, "success")
    return redirect(url_for("feeds.subscribe"), 303)


def _busy_action(form: SubscribeForm, current, now: datetime):
    """Share your availability: make (or make anew) or turn off the busy-only address; the full one is untouched."""
    busy = tokens.user_feed(db.session, current_user.id, tokens.BUSY)
    if form.action.data == BUSY_ISSUE:
        token = tokens.issue_token(db.session, current_user.id, now, tokens.BUSY)
        audit.record(db.session, "FEED_REGENERATE" if busy else "FEED_CREATE", user_id=current_user.id,
                     resource=("user", current_user.id), variant=tokens.BUSY)
        db.session.commit()
        response = _render(form, current, new_busy_url=url_for("feeds.feed", token=token, _external=True))
        return toast(response, "Your availability address is ready.") if is_partial_request() else response
    if busy is None:
        abort(409, description="There is no availability address to turn off.")
    tokens.turn_off(db.session, current_user.id, tokens.BUSY)
    audit.record(db.session, "FEED_DISABLE", user_id=current_user.id, resource=("user", current_user.id),
                 variant=tokens.BUSY)
    db.session.commit()
    message = "Your availability address no longer works."
    if is_partial_request():
        return toast(_render(form, current), message)
    flash(message, "success")
    return redirect(url_for("feeds.subscribe"), 303)


def _render(form: SubscribeForm, current, status: int = 200, new_url: str | None = None,
            new_busy_url: str | None = None):
    busy = tokens.user_feed(db.session, current_user.id, tokens.BUSY)
    return render_page("feeds/subscribe.html", "feeds/_subscribe.html", status=status, form=form, feed=current,
                       new_url=new_url, webcal_url=_webcal(new_url), busy=busy, new_busy_url=new_busy_url)


def _webcal(url: str | None) -> str | None:
    """The same address with the scheme calendar apps register for, so a click subscribes."""
    if not url:
        return None
    return "webcal://" + url.split("://", 1)[1]
