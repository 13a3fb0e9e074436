"""A small ICS feed server for the sandbox, the tests and the bench: serves the corpus files in sandbox/feeds/ (or
any bytes put at a path) with ETag and Last-Modified, answers conditional GETs with 304, gzips when asked, can
redirect or fail on a path, and counts what it sent."""
from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "feeds"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/calendar; charset=utf-8"
    location: str | None = None  # a redirect
    validators: bool = True  # send ETag / Last-Modified and honour them
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer:
    """WSGI app: `routes[path]` answers a GET; `sent` counts requests, 304s and bytes (headers and body)."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.lock = threading.Lock()
        self.requests = self.not_modified = self.bytes_sent = 0

    def put(self, path: str, body: bytes, **options) -> Route:
        route = Route(body=body, **options)
        self.routes[path] = route
        return route

    def put_corpus(self, path: str, name: str, **options) -> Route:
        return self.put(path, (CORPUS / name).read_bytes(), **options)

    def __call__(self, environ, start_response):
        route = self.routes.get(environ["PATH_INFO"])
        headers: list[tuple[str, str]] = []
        if route is None:
            status, body = "404 Not Found", b"no such feed"
        elif route.location:
            status, body = "302 Found", b""
            headers.append(("Location", route.location))
        elif route.status != 200:
            status, body = f"{route.status} Error", route.body
            headers.append(("Content-Type", route.content_type))
        elif route.validators and (environ.get("HTTP_IF_NONE_MATCH") == route.etag if "HTTP_IF_NONE_MATCH" in environ
                                   else environ.get("HTTP_IF_MODIFIED_SINCE") == route.last_modified):
            status, body = "304 Not Modified", b""
            headers += [("ETag", route.etag), ("Last-Modified", route.last_modified)]
        else:
            status, body = "200 OK", route.body
            headers.append(("Content-Type", route.content_type))
            if route.validators:
                headers += [("ETag", route.etag), ("Last-Modified", route.last_modified)]
            if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
                body = gzip.compress(body)
                headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        with self.lock:
            self.requests += 1
            self.not_modified += status.startswith("304")
            self.bytes_sent += len(body) + sum(len(name) + len(value) + 4 for name, value in headers) + len(status)
        start_response(status, headers)
        return [body]
