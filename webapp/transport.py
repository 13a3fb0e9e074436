"""How requests reach us: through reverse proxies we trust for a known number of hops, and, with FORCE_HTTPS,
only over TLS. Both are WSGI middleware because the scheme and client address must be right before Flask
builds the request (cookies, `url_for(_external=True)`, the audit log and the login throttle all read them)."""
from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import redirect
from werkzeug.wsgi import get_current_url

# Everything the browser could let a page use that Almanac never does.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "bluetooth", "browsing-topics", "camera", "display-capture", "encrypted-media",
    "fullscreen", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer", "microphone", "midi",
    "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial", "usb",
    "xr-spatial-tracking",
))
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def wrap(wsgi_app, *, trusted_proxy_hops: int, force_https: bool):
    if force_https:
        wsgi_app = HttpsOnly(wsgi_app, proxied=trusted_proxy_hops > 0)
    if trusted_proxy_hops:
        wsgi_app = TrustedProxies(wsgi_app, trusted_proxy_hops)
    return wsgi_app


def is_ip_address(value: str | None) -> bool:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def is_loopback_client(environ, trusted_proxy_hops: int) -> bool:
    """The client itself runs on this machine: it is the first of exactly `trusted_proxy_hops` X-Forwarded-For
    entries (none without proxies) and a loopback address. More entries than trusted proxies mean a client or an
    unknown proxy wrote some; fewer, that the request bypassed a proxy or came through one we were not told of (a
    tunnel or reverse proxy on this machine connects from loopback itself)."""
    header = environ.get("HTTP_X_FORWARDED_FOR")
    forwarded = [part.strip() for part in header.split(",")] if header else []
    if len(forwarded) != trusted_proxy_hops:
        return False
    client = forwarded[0] if forwarded else environ.get("REMOTE_ADDR")  # without proxies, the socket's peer
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


class TrustedProxies:
    """Werkzeug's ProxyFix for X-Forwarded-For and X-Forwarded-Proto over `hops` proxies. The Host header is
    left alone: proxies pass it through, and a forwarded host would let a client pick our links' host.

    A forwarded value that is not an address or scheme (a broken proxy, or a header the outermost proxy let
    through) is ignored in favour of the connection's own."""

    def __init__(self, app, hops: int):
        self.app = app
        self.proxy_fix = ProxyFix(self._checked, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)

    def __call__(self, environ, start_response):
        return self.proxy_fix(environ, start_response)

    def _checked(self, environ, start_response):
        original = environ.get("werkzeug.proxy_fix.orig", {})
        if not is_ip_address(environ.get("REMOTE_ADDR")):
            environ["REMOTE_ADDR"] = original.get("REMOTE_ADDR")
        if environ.get("wsgi.url_scheme") not in ("http", "https"):
            environ["wsgi.url_scheme"] = original.get("wsgi.url_scheme", "http")
        return self.app(environ, start_response)


class HttpsOnly:
    """TLS ends before us, so every request is an https one: cookies are Secure and built URLs say https. When a
    trusted proxy says the client came over plain http, the client is sent to the https address first."""

    def __init__(self, app, *, proxied: bool):
        self.app = app
        self.proxied = proxied

    def __call__(self, environ, start_response):
        if self.proxied and environ.get("HTTP_X_FORWARDED_PROTO") and environ.get("wsgi.url_scheme") == "http":
            url = "https://" + get_current_url(environ).split("://", 1)[1]
            return redirect(url, 308)(environ, start_response)
        environ["wsgi.url_scheme"] = "https"
        return self.app(environ, start_response)
