"""The request forgery guard (webapp.providers.guard) with ALLOW_PRIVATE_SOURCES off, as a deployment runs: every
spelling of an address inside the operator's network is refused before anything is sent; then, with it on (as the
sandbox), that redirects are checked hop by hop, that the connection goes to the address that was checked, and
that credentials stay with their origin. No test sends a packet anywhere but 127.0.0.1."""
from __future__ import annotations

import threading

import pytest
import requests

from bench.ssrf import REFUSED_ADDRESSES, RESOLVED
from sandbox.serve import serve_in_thread
from webapp.providers.guard import (
    AddressRefused,
    GuardedSession,
    GuardSettings,
    check_url,
    literal_address,
)

STRICT = GuardSettings(allow_private=False)

def resolver(host: str, port: int) -> list[str]:
    return RESOLVED[host]


@pytest.mark.parametrize(("what", "url"), REFUSED_ADDRESSES, ids=[what for what, _ in REFUSED_ADDRESSES])
def test_every_spelling_of_an_inside_address_is_refused(what, url):
    with pytest.raises(AddressRefused):
        check_url(url, STRICT)


@pytest.mark.parametrize("host", ["calendar.internal.example", "metadata.example", "mixed.example",
                                  "v6.internal.example"])
def test_names_that_resolve_inside_the_network_are_refused(host):
    with pytest.raises(AddressRefused, match=host):
        check_url(f"https://{host}/cal.ics", GuardSettings(resolver=resolver))


def test_a_public_address_passes_and_is_the_one_connected_to():
    destination = check_url("https://public.example:8443/cal.ics", GuardSettings(resolver=resolver))
    assert (destination.address, destination.host_header) == ("93.184.216.34", "public.example:8443")


def test_ipv4_literals_are_read_as_the_system_reads_them():
    assert [str(literal_address(host)) for host in ("2130706433", "0x7f.1", "0177.0.0.1", "10.1")] == [
        "127.0.0.1", "127.0.0.1", "127.0.0.1", "10.0.0.1"]
    assert literal_address("calendar.example.org") is None and literal_address("deadbeef") is None


def test_the_strict_guard_sends_nothing_to_a_loopback_server():
    seen = []
    server = serve_in_thread(lambda environ, start: seen.append(environ["PATH_INFO"]) or start("200 OK", []) or [b""])
    try:
        with GuardedSession(STRICT) as session, pytest.raises(AddressRefused):
            session.get(server.url + "/feed.ics", timeout=5)
    finally:
        server.stop()
    assert seen == []


def test_the_operator_setting_allows_the_network_but_never_link_local_or_multicast():
    allowed = GuardSettings(allow_private=True)
    for url in ("http://127.0.0.1/", "http://10.0.0.1/", "http://[fd00::1]/", "http://100.64.0.1/"):
        check_url(url, allowed)
    for url in ("http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/",
                "http://224.0.0.1/", "http://[fe80::1]/"):
        with pytest.raises(AddressRefused):
            check_url(url, allowed)


class Redirector:
    """A loopback server answering each path from a table: (status, headers, body); records what it was sent."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.seen: list[tuple[str, str, bool]] = []  # (path, Host header, had credentials)
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        with self.lock:
            self.seen.append((path, environ.get("HTTP_HOST", ""), bool(environ.get("HTTP_AUTHORIZATION"))))
        status, headers, body = self.routes.get(path, (404, {}, b"no"))
        start_response(f"{status} X", list(headers.items()))
        return [body]


@pytest.fixture
def redirector():
    app = Redirector()
    server = serve_in_thread(app)
    app.url = server.url
    yield app
    server.stop()


LOCAL = GuardSettings(allow_private=True)


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/",
                                    "http://0.0.0.0:80/", "http://metadata.example/", "file:///etc/passwd"])
def test_each_redirect_is_checked_before_it_is_followed(redirector, target):
    redirector.routes["/feed.ics"] = (302, {"Location": target}, b"")
    settings = GuardSettings(allow_private=True, resolver=lambda host, port: RESOLVED.get(host) or ["127.0.0.1"])

    with GuardedSession(settings) as session, pytest.raises((AddressRefused, requests.exceptions.InvalidSchema)):
        session.get(redirector.url + "/feed.ics", timeout=5)

    assert [path for path, _, _ in redirector.seen] == ["/feed.ics"]


def test_at_most_five_redirects(redirector):
    for hop in range(7):
        redirector.routes[f"/{hop}"] = (302, {"Location": f"/{hop + 1}"}, b"")
    redirector.routes["/7"] = (200, {}, b"end")
    with GuardedSession(LOCAL) as session:
        assert session.get(redirector.url + "/2", timeout=5).text == "end"  # five hops
        with pytest.raises(requests.TooManyRedirects):
            session.get(redirector.url + "/0", timeout=5)


def test_the_connection_goes_to_the_address_checked_not_a_second_answer(redirector):
    """DNS rebinding: the name answers a harmless address to the check and an inside one afterwards."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return next(answers)

    redirector.routes["/cal.ics"] = (200, {}, b"BEGIN:VCALENDAR")
    port = redirector.url.rsplit(":", 1)[1]
    with GuardedSession(GuardSettings(allow_private=True, resolver=rebinding)) as session:
        response = session.get(f"http://rebind.example:{port}/cal.ics", timeout=5)
        assert (response.status_code, calls) == (200, ["rebind.example"])
        assert redirector.seen[-1][1] == f"rebind.example:{port}"  # the Host header names the host, not the address
        with pytest.raises(AddressRefused):  # the next request asks again, and is refused on the new answer
            session.get(f"http://rebind.example:{port}/cal.ics", timeout=5)


def test_credentials_do_not_follow_a_redirect_to_another_origin(redirector):
    port = int(redirector.url.rsplit(":", 1)[1])
    redirector.routes["/a"] = (302, {"Location": f"http://localhost:{port}/b"}, b"")  # another host
    redirector.routes["/b"] = (302, {"Location": f"http://127.0.0.1:{port}/c"}, b"")
    redirector.routes["/c"] = (200, {}, b"ok")
    with GuardedSession(LOCAL) as session:
        assert session.get(redirector.url + "/a", auth=("user", "secret"), timeout=5).text == "ok"
    assert [(path, auth) for path, _, auth in redirector.seen] == [("/a", True), ("/b", False), ("/c", False)]
