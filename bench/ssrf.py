"""The request forgery guard with ALLOW_PRIVATE_SOURCES off, as a deployment runs it: every address and trick in
REFUSED_ADDRESSES (decimal, octal, hex and short IPv4, IPv6 forms, names that resolve inside the network, schemes
that are not http) and every redirect in REDIRECTS must be refused, before anything is sent. Writes
bench/results/ssrf.txt. tests/providers/test_guard.py checks the same lists."""
from __future__ import annotations

from pathlib import Path

from bench.harness import row
from sandbox.feed_server import FeedServer
from sandbox.serve import serve_in_thread
from webapp.providers.guard import AddressRefused, GuardedSession, GuardSettings, check_url, system_resolver

# (what it is, URL): every one must be refused with ALLOW_PRIVATE_SOURCES off. bench/ssrf.py prints this list.
REFUSED_ADDRESSES = [
    ("loopback", "http://127.0.0.1/"),
    ("loopback, another of 127/8", "http://127.8.9.10:8080/"),
    ("loopback by name", "http://localhost/"),
    ("loopback, decimal", "http://2130706433/"),
    ("loopback, hex", "http://0x7f000001/"),
    ("loopback, dotted hex", "http://0x7f.0x0.0x0.0x1/"),
    ("loopback, octal", "http://0177.0.0.1/"),
    ("loopback, short form", "http://127.1/"),
    ("loopback, IPv6", "http://[::1]/"),
    ("loopback, IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/"),
    ("loopback, IPv4-mapped IPv6 in hex", "http://[::ffff:7f00:1]/"),
    ("loopback, IPv4-compatible IPv6", "http://[::127.0.0.1]/"),
    ("loopback, NAT64", "http://[64:ff9b::7f00:1]/"),
    ("loopback, 6to4", "http://[2002:7f00:1::]/"),
    ("private 10/8", "http://10.0.0.1/"),
    ("private 10/8, decimal", "http://167772161/"),
    ("private 172.16/12", "https://172.16.5.4/"),
    ("private 192.168/16", "http://192.168.1.1/"),
    ("private, IPv4-mapped IPv6", "http://[::ffff:192.168.1.1]/"),
    ("shared CGNAT 100.64/10", "http://100.64.0.1/"),
    ("link-local", "http://169.254.1.1/"),
    ("cloud metadata", "http://169.254.169.254/latest/meta-data/"),
    ("cloud metadata, decimal", "http://2852039166/"),
    ("cloud metadata, IPv4-mapped IPv6", "http://[::ffff:169.254.169.254]/"),
    ("link-local IPv6 with a zone", "http://[fe80::1%25eth0]/"),
    ("unique-local IPv6", "http://[fd00::1]/"),
    ("unspecified", "http://0.0.0.0/"),
    ("unspecified, short", "http://0/"),
    ("unspecified IPv6", "http://[::]/"),
    ("multicast", "http://224.0.0.1/"),
    ("multicast IPv6", "http://[ff02::1]/"),
    ("broadcast", "http://255.255.255.255/"),
    ("reserved 240/4", "http://240.0.0.1/"),
    ("not http", "ftp://calendar.example.org/feed.ics"),
    ("not http: file", "file:///etc/passwd"),
    ("not http: gopher", "gopher://127.0.0.1:6379/_INFO"),
    ("no host", "http:///feed.ics"),
]

# Names a (test) DNS answers with addresses inside the network: refused after the one lookup.
RESOLVED = {"calendar.internal.example": ["10.1.2.3"], "metadata.example": ["169.254.169.254"],
            "mixed.example": ["93.184.216.34", "192.168.0.7"], "v6.internal.example": ["fd12::5"],
            "public.example": ["93.184.216.34"]}


# Redirects from a feed on loopback (reachable only as the sandbox allows) to addresses refused whatever the setting.
REDIRECTS = [
    ("redirect to cloud metadata", "http://169.254.169.254/latest/meta-data/"),
    ("redirect to metadata, IPv4-mapped hex", "http://[::ffff:a9fe:a9fe]/"),
    ("redirect to unspecified", "http://0.0.0.0/"),
    ("redirect to a name resolving to metadata", "http://metadata.example/"),
    ("redirect to file://", "file:///etc/passwd"),
]


def _resolve(host: str, port: int) -> list[str]:
    return RESOLVED.get(host) or ["127.0.0.1"]


def run(quick: bool = False, scale: int = 1) -> dict:
    strict = GuardSettings(allow_private=False, resolver=lambda host, port: RESOLVED[host] if host in RESOLVED
                           else system_resolver(host, port))
    lines, refused = [], 0
    for what, url in REFUSED_ADDRESSES + [(f"name resolving to {RESOLVED[host][-1]}", f"https://{host}/cal.ics")
                                          for host in RESOLVED if host != "public.example"]:
        try:
            check_url(url, strict)
            outcome = "ALLOWED"
        except AddressRefused as error:
            outcome, refused = f"refused: {error.reason}", refused + 1
        lines.append(f"{what:<42} {url:<44} {outcome}")
    feed = FeedServer()
    server = serve_in_thread(feed)
    redirects_refused = 0
    try:
        for what, target in REDIRECTS:
            feed.put("/feed.ics", b"", location=target)
            try:
                with GuardedSession(GuardSettings(allow_private=True, resolver=_resolve)) as session:
                    session.get(server.url + "/feed.ics", timeout=5)
                outcome = "FOLLOWED"
            except Exception as error:  # the guard's refusal, or requests' for a scheme it has no adapter for
                outcome, redirects_refused = f"refused: {type(error).__name__}", redirects_refused + 1
            lines.append(f"{what:<42} {target:<44} {outcome}")
    finally:
        server.stop()
    total = len(REFUSED_ADDRESSES) + len(RESOLVED) - 1
    if not quick:
        (Path(__file__).parent / "results" / "ssrf.txt").write_text("\n".join(lines) + "\n")
    return {"title": "request forgery guard: addresses and tricks tried, ALLOW_PRIVATE_SOURCES off",
            "rows": [row("addresses and names refused", refused, "of " + str(total), f"= {total}", refused == total),
                     row("redirects refused", redirects_refused, f"of {len(REDIRECTS)}", f"= {len(REDIRECTS)}",
                         redirects_refused == len(REDIRECTS))],
            "notes": lines}
