"""Page-or-partial rendering for htmx requests, and toasts."""
from __future__ import annotations

import json

from flask import make_response, render_template, request
from werkzeug.wrappers import Response


def is_partial_request() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render_page(page: str, partial: str, status: int = 200, **context) -> Response:
    template = partial if is_partial_request() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def toast(response: Response, message: str, level: str = "success", undo: str | None = None) -> Response:
    """`undo`: a token the toast's Undo button posts to /calendar/undo while the toast shows (app.js)."""
    detail = {"message": message, "level": level} | ({"undo": undo} if undo else {})
    response.headers["HX-Trigger"] = json.dumps({"toast": detail})
    return response
