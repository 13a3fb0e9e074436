"""Fault injection for the provider stand-ins: wrap an emulator (or the Radicale proxy) and script what goes wrong.

Faults, each for the next request(s) whose path starts with a prefix (and method, if given):
  status   answer with an HTTP status instead (429 with Retry-After, 500, 503, 410, ...)
  hold     answer normally, but stream the response slowly over `seconds` (a slow listing)
  stall    say nothing for `seconds`, then answer (longer than the client's timeout: a read timeout)
  reset    drop the connection without an answer (TCP RST)
  lost     carry the request out, then drop the connection before the answer leaves (it took effect; the client
           only sees the connection reset, as when a response is lost on the way back)
  cookie   answer normally with a Set-Cookie header (a provider's session cookie)
`FaultPlan.randomly()` injects them at a rate instead, for the chaos benchmark. The plan also counts what it
injected and the most requests it saw in flight at once per listing key (one calendar's sync requests).
"""
from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urljoin

import requests

KINDS = ("status", "hold", "stall", "reset", "lost", "cookie")


@dataclass
class Fault:
    kind: str
    path_prefix: str = "/"
    method: str | None = None
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    times: int = 1


@dataclass
class RandomFaults:
    rate: float
    faults: list[Fault]  # templates: one is picked at random for an unlucky request
    path_prefixes: tuple[str, ...]
    rng: random.Random


class FaultPlan:
    """Thread-safe: the test or benchmark scripts it while the server's threads consult it."""

    def __init__(self, listing_key: Callable[[str, str], str | None] | None = None):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random: RandomFaults | None = None
        self.injected: Counter[str] = Counter()
        self._listing_key = listing_key
        self._in_flight: Counter[str] = Counter()
        self.max_in_flight = 0

    def add(self, kind: str, path_prefix: str = "/", **options) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(kind, path_prefix, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def randomly(self, rate: float, faults: Iterable[Fault], path_prefixes: tuple[str, ...] = ("/",),
                 seed: int = 0) -> None:
        with self._lock:
            self._random = RandomFaults(rate, list(faults), path_prefixes, random.Random(seed))

    def calm(self) -> None:
        """No more faults, scripted or random."""
        with self._lock:
            self._faults.clear()
            self._random = None

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    self.injected[fault.kind] += 1
                    return fault
            chaos = self._random
            if chaos and path.startswith(chaos.path_prefixes) and chaos.rng.random() < chaos.rate:
                fault = chaos.rng.choice(chaos.faults)
                self.injected[f"{fault.kind} {fault.status}" if fault.kind == "status" else fault.kind] += 1
                return fault
        return None

    def enter(self, method: str, path: str) -> str | None:
        key = self._listing_key(method, path) if self._listing_key else None
        if key:
            with self._lock:
                self._in_flight[key] += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight[key])
        return key

    def leave(self, key: str | None) -> None:
        if key:
            with self._lock:
                self._in_flight[key] -= 1


class FaultInjector:
    """WSGI middleware applying a FaultPlan in front of any app."""

    def __init__(self, app, plan: FaultPlan):
        self.app = app
        self.plan = plan

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        if path.startswith("/_emulator/"):
            return self.app(environ, start_response)
        fault = self.plan.take(method, path)
        # A stalled or dropped request has a client that gives up: it does not count as a sync in flight.
        key = self.plan.enter(method, path) if fault is None or fault.kind not in ("stall", "reset", "lost") else None
        try:
            if fault is None or fault.kind == "cookie":
                return self._passed_through(environ, start_response, fault)
            if fault.kind == "status":
                return self._status(start_response, fault)
            if fault.kind in ("reset", "lost"):
                if fault.kind == "lost":
                    b"".join(self.app(environ, lambda status, headers, exc_info=None: None))
                _reset(environ)
                start_response("500 Internal Server Error", [("Content-Length", "0")])
                return [b""]
            if fault.kind == "stall":
                time.sleep(fault.seconds)
                return self._passed_through(environ, start_response, None)
            return self._held(environ, start_response, fault)
        finally:
            self.plan.leave(key)

    def _passed_through(self, environ, start_response, fault: Fault | None):
        def respond(status, headers, exc_info=None):
            if fault is not None:
                headers = [*headers, ("Set-Cookie", "provider_session=abc123; Path=/")]
            return start_response(status, headers, exc_info)

        return list(self.app(environ, respond))

    @staticmethod
    def _status(start_response, fault: Fault):
        body = fault.body or f'{{"error": {{"code": {fault.status}, "message": "injected"}}}}'.encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   *fault.headers.items()]
        start_response(f"{fault.status} {HTTPStatus(fault.status).phrase}", headers)
        return [body]

    def _held(self, environ, start_response, fault: Fault):
        """The real answer, dribbled out over `seconds`: every byte arrives, just slowly."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        body = b"".join(self.app(environ, capture))
        headers = [(name, value) for name, value in captured["headers"] if name.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        steps = max(1, min(len(body), int(fault.seconds * 2)))
        size = -(-len(body) // steps) if body else 0

        def dribble():
            for step in range(steps):
                time.sleep(fault.seconds / steps)
                yield body[step * size:(step + 1) * size]

        return dribble()


def _reset(environ) -> None:
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


class ReverseProxy:
    """Forward every request to `upstream` (Radicale), so a FaultInjector can stand in front of it."""

    _HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/") + "/"
        self.session = requests.Session()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_CONNECTION")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        target = urljoin(self.upstream, environ.get("RAW_URI") or environ.get("PATH_INFO", "/"))
        answer = self.session.request(environ["REQUEST_METHOD"], target, data=body, headers=headers,
                                      allow_redirects=False, timeout=60)
        reply = [(name, value) for name, value in answer.headers.items() if name.lower() not in self._HOP_BY_HOP]
        start_response(f"{answer.status_code} {answer.reason}", [*reply, ("Content-Length", str(len(answer.content)))])
        return [answer.content]


def listing_key(method: str, path: str) -> str | None:
    """Which calendar a sync's listing request reads, for Google, Graph and CalDAV alike (None: not a listing)."""
    if method == "GET" and path.startswith("/calendar/v3/calendars/") and path.endswith("/events"):
        return "google:" + path.split("/")[4]
    if method == "GET" and path.startswith("/v1.0/me/calendars/") and path.endswith("/calendarView/delta"):
        return "microsoft:" + path.split("/")[4]
    if method in ("REPORT", "PROPFIND") and path.endswith("/") and path.count("/") == 3:
        return "caldav:" + path
    return None
