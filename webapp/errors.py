"""Friendly error pages. No traceback, SQL, token or provider response ever reaches a response."""
from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.extensions import db
from webapp.htmx import is_partial_request

log = logging.getLogger(__name__)

TITLES = {
    400: "That request could not be understood",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "That upload is too large",
    422: "Some input needs fixing",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


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
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _csrf_failed(error: CSRFError):
    return render_error(
        400, "The form had expired or did not come from this site. Go back, reload the page and try again."
    )


def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    retry_after = getattr(error, "retry_after", None)
    seconds = int(retry_after) if isinstance(retry_after, int | float) else None
    # Only descriptions we wrote ourselves are shown; werkzeug's stock texts are replaced by our wording.
    message = error.description if error.description != type(error).description else None
    body, status, headers = render_error(error.code, message, seconds)
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return body, status, headers


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error")
    db.session.rollback()
    return render_error(500)
