"""Friendly error pages. No traceback, SQL, token or provider response ever reaches a response."""
from __future__ import annotations

import json
import logging
from contextlib import suppress

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.budget import BudgetExceeded
from webapp.extensions import db, login_manager
from webapp.htmx import is_partial_request

log = logging.getLogger(__name__)

TITLES = {
    400: "That request could not be understood",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "That cannot be done now",
    413: "That upload is too large",
    422: "Some input needs fixing",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Almanac is briefly unavailable",
}

# Redis or PostgreSQL not answering (refused, dropped, stalled past the client's timeout, restarting). A statement
# timeout is an OperationalError too: "try again shortly" is the honest answer to that as well.
UNAVAILABLE_ERRORS = {
    redis.exceptions.ConnectionError: "redis",  # includes BusyLoadingError: Redis still loading after a restart
    redis.exceptions.TimeoutError: "redis",
    sqlalchemy.exc.OperationalError: "database",
    sqlalchemy.exc.InterfaceError: "database",
    sqlalchemy.exc.TimeoutError: "database",  # no pooled connection freed up in time
}
RETRY_AFTER_SECONDS = 10
UNAVAILABLE_FALLBACK = (
    "<!doctype html><title>Almanac is briefly unavailable</title>"
    "<h1>Almanac is briefly unavailable</h1><p>Please try again in a moment.</p>"
)


def render_error(code: int, message: str | None = None, retry_after: int | None = None):
    template = "errors/_error.html" if is_partial_request() else "errors/error.html"
    headers = {"Vary": "HX-Request"}
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    body = render_template(
        template, code=code, title=TITLES.get(code, "Error"), message=message, retry_after=retry_after
    )
    return body, code, headers


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(BudgetExceeded, _over_budget)
    app.register_error_handler(HTTPException, _http_error)
    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, _dependency_unavailable)
    # Runs before Flask-SQLAlchemy's own teardown (teardowns run in reverse order of registration).
    app.teardown_appcontext(_end_session_despite_a_lost_connection)
    app.register_error_handler(Exception, _unexpected_error)


def _csrf_failed(error: CSRFError):
    return render_error(
        400, "The form had expired or did not come from this site. Go back, reload the page and try again."
    )


def _over_budget(error: BudgetExceeded):
    log.warning("request stopped: CPU budget used up path=%s", request.path)
    db.session.rollback()
    return render_error(503, "This page asked for more work than Almanac does for one page. Try a shorter "
                             "period, or hide the calendar that makes it heavy.")


def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    retry_after = getattr(error, "retry_after", None)
    seconds = int(retry_after) if isinstance(retry_after, int | float) else None
    # Only descriptions we wrote ourselves are shown; werkzeug's stock texts are replaced by our wording.
    message = error.description if error.description != type(error).description else None
    body, status, headers = render_error(error.code, message, seconds)
    if message and is_partial_request():
        # htmx swaps no error page: the reason we wrote reaches the user as a toast (static/app.js).
        headers["HX-Trigger"] = json.dumps({"toast": {"message": message, "level": "error"}})
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return body, status, headers


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error")
    db.session.rollback()
    return render_error(500)


def _dependency_unavailable(error: Exception):
    """A dependency is down: a friendly 503 with Retry-After, never a 500. Sign-in lands here too when the
    throttle store is unreachable, so an unthrottled attempt is never let through."""
    dependency = next(name for cls, name in UNAVAILABLE_ERRORS.items() if isinstance(error, cls))
    log.warning("dependency unavailable dependency=%s error=%s method=%s path=%s",
                dependency, type(error).__name__, request.method, request.path)
    with suppress(Exception):  # the connection may already be gone; there is nothing left to undo then
        db.session.rollback()
    if dependency == "database" or "_login_user" not in g:
        # The page header shows the signed-in user; loading (or refreshing) them needs the database.
        g._login_user = login_manager.anonymous_user()
    try:
        return render_error(503, "A service Almanac relies on is not answering. Please try again in a moment.",
                            RETRY_AFTER_SECONDS)
    except Exception:  # rendering needed the missing dependency after all: a plain page still beats a 500
        log.exception("503 page could not be rendered")
        return UNAVAILABLE_FALLBACK, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Content-Type": "text/html"}


def _end_session_despite_a_lost_connection(_error: BaseException | None) -> None:
    """Ending the request's session rolls back its transaction; when PostgreSQL has just gone away (a restart) that
    rollback fails too, after the response was already made. The connection is dead either way: drop the session,
    so the response the visitor got stands (otherwise the server turns it into a bare 500)."""
    try:
        db.session.remove()
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as error:
        log.warning("database connection lost while ending the request error=%s", type(error).__name__)
        db.session.registry.clear()
