"""One log line per request with id, method, path, status and duration; JSON on request; secrets masked."""
from __future__ import annotations

import json
import logging
import sys

import pytest
from flask import g

from tests.factories import build_app
from webapp.observability import JsonFormatter, TextFormatter, configure_log_handler, redact


def request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "almanac.request"]


@pytest.fixture
def request_log(caplog):
    caplog.set_level(logging.INFO, logger="almanac.request")
    return caplog


def test_each_request_logs_one_line_with_its_id(ops_app, request_log):
    response = ops_app.test_client().get("/healthz?token=abc123")
    [record] = request_records(request_log)
    assert (record.method, record.path, record.status) == ("GET", "/healthz", 200)
    assert isinstance(record.duration_ms, float) and record.duration_ms >= 0
    assert len(record.request_id) == 32 and response.headers["X-Request-ID"] == record.request_id
    line = TextFormatter().format(record)
    assert f"GET /healthz 200 {record.duration_ms}ms request_id={record.request_id}" in line
    assert "abc123" not in line  # the query string is never logged


def test_a_proxys_request_id_is_kept_when_it_is_safe(ops_app, request_log):
    client = ops_app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.b_9"}).headers["X-Request-ID"] == "edge-7f3a.b_9"
    for unsafe in ("two words", "x" * 65, "id<script>"):
        assert client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"] != unsafe


def test_log_lines_inside_a_request_carry_its_id(ops_app):
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_almanac", False))
    record = logging.LogRecord("webapp.test", logging.INFO, __file__, 1, "inside", (), None)
    with ops_app.test_request_context("/"):
        g.request_id = "req-42"
        assert handler.filter(record)
    assert handler.format(record).endswith("inside request_id=req-42")


def test_json_format(app, request_log):
    json_app = build_app(app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"], LOG_FORMAT="json")
    try:
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "_almanac", False))
        assert isinstance(handler.formatter, JsonFormatter)
        json_app.test_client().get("/missing-page")
        [record] = request_records(request_log)
        entry = json.loads(handler.format(record))
    finally:
        configure_log_handler("text", app.config["LOG_LEVEL"])  # the handler is process-wide: back to text
    assert entry["logger"] == "almanac.request" and entry["level"] == "INFO"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/missing-page", 404)
    assert entry["request_id"] == record.request_id and "duration_ms" in entry and "time" in entry


def test_json_exceptions_are_one_line_and_masked():
    try:
        raise ValueError("refresh failed: refresh_token=r-123")
    except ValueError:
        record = logging.LogRecord("jobs", logging.ERROR, __file__, 1, "refresh failed password=%s", ("hunter2",),
                                   exc_info=sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "refresh failed password=[redacted]"
    assert "r-123" not in entry["exception"] and "refresh_token=[redacted]" in entry["exception"]


@pytest.mark.parametrize(("raw", "masked"), [
    ("login failed password=hunter2 email=a@b.c", "login failed password=[redacted] email=a@b.c"),
    ("token refresh access_token: ya29.abc", "token refresh access_token: [redacted]"),
    ('{"refresh_token": "1//0g", "expires_in": 3599}', '{"refresh_token": "[redacted]", "expires_in": 3599}'),
    ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: [redacted]"),
    ("sent Bearer eyJhbGciOi.x.y upstream", "sent Bearer [redacted] upstream"),
    ("callback code=4/0AY0e-g7 state=xyz", "callback code=[redacted] state=xyz"),
    ("GET /healthz 200 1.2ms status_code=200 request_id=abc", "GET /healthz 200 1.2ms status_code=200 request_id=abc"),
])
def test_secrets_are_masked(raw, masked):
    assert redact(raw) == masked


def test_logging_in_never_logs_the_password(app, client, login, user, caplog):
    caplog.set_level(logging.DEBUG)
    login(user, password="correct horse battery")
    formatter = TextFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any("POST /login 302" in line for line in lines)
    assert not any("correct horse battery" in line for line in lines)
