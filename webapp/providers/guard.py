"""The server-side request forgery guard for every address a user gives us (a CalDAV server, an ICS feed) and
every redirect or href such a server answers with.

Each request's host is resolved once, every address it resolves to is checked, and the connection goes to the
checked address (the Host header and TLS name stay the host's): a DNS answer that changes between the check and
the connection (rebinding) is never asked for. Refused: loopback, private (RFC 1918), shared (CGNAT), link-local
(169.254.169.254 among them), unique-local, multicast, unspecified, reserved and documentation ranges, and the
IPv4-mapped, -compatible, NAT64 and 6to4 forms of these; IPv4 literals in every spelling inet_aton reads
(decimal, octal, hex, short forms) are read as the address they are. Only http and https; redirects are followed
by requests itself, at most MAX_REDIRECTS, each through `GuardedSession.send` and so checked again.

`allow_private` (ALLOW_PRIVATE_SOURCES=1) lets an operator reach a LAN server or a local Radicale: loopback,
private, shared and unique-local addresses are then allowed. Link-local (cloud metadata), multicast, unspecified
and reserved addresses never are.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from webapp.providers.base import ProviderError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
SCHEMES = ("http", "https")
_PIN = "almanac_checked_address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Ranges refused whatever the operator says: nothing a calendar lives on, and the cloud metadata service.
_ALWAYS = [(ipaddress.ip_network(net), reason) for net, reason in (
    ("0.0.0.0/8", "an unspecified address"), ("169.254.0.0/16", "a link-local address"),
    ("192.0.0.0/24", "a reserved address"), ("192.0.2.0/24", "a documentation address"),
    ("198.18.0.0/15", "a reserved address"), ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"), ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"), ("::/128", "an unspecified address"),
    ("fe80::/10", "a link-local address"), ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"), ("100::/64", "a reserved address"),
    ("2001:db8::/32", "a documentation address"), ("2001::/32", "a Teredo tunnel address"),
)]
# Ranges of the operator's own network: refused unless ALLOW_PRIVATE_SOURCES.
_PRIVATE = [(ipaddress.ip_network(net), reason) for net, reason in (
    ("127.0.0.0/8", "a loopback address"), ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"), ("192.168.0.0/16", "a private address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"), ("::1/128", "a loopback address"),
    ("fc00::/7", "a unique-local address"),
)]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class AddressRefused(ProviderError):
    """The address (or a redirect's) is not one Almanac may fetch from; nothing was sent there."""

    kind = "address_refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.reason = message + "."


@dataclass(frozen=True)
class GuardSettings:
    allow_private: bool = False
    resolver: Resolver | None = field(default=None, compare=False)  # None: the system's (getaddrinfo)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"The name {host} could not be resolved") from error
    return list(dict.fromkeys(info[4][0] for info in found))


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself: an IPv6 literal, or IPv4 in any form inet_aton reads ("2130706433",
    "0x7f.1", "0177.0.0.1", "127.1"), which is how the system resolver would read it too."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(part for part in host.split(".")) and all(
            ch in "0123456789abcdefxABCDEFX." for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the address may not be fetched from (plain words), or None when it may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded, allow_private=allow_private)
        return f"{reason} (in an IPv6 form)" if reason else None
    for network, reason in _ALWAYS:
        if address.version == network.version and address in network:
            return reason
    for network, reason in _PRIVATE:
        if address.version == network.version and address in network:
            return None if allow_private else reason
    if address == ipaddress.IPv4Address("255.255.255.255"):
        return "a broadcast address"
    if not address.is_global:
        return "an address that is not on the public internet"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    address: str  # the checked address the connection goes to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str, settings: GuardSettings) -> Destination:
    """Resolve the URL's host once and check every address; raises AddressRefused with the plain reason."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise AddressRefused(f"Only http and https addresses can be used, not {scheme or 'this'}")
    try:
        host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("The address has an unreadable port") from None
    if not host:
        raise AddressRefused("The address names no server")
    literal = literal_address(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        addresses = (settings.resolver or system_resolver)(host.rstrip("."), port)
        if not addresses:
            raise AddressRefused(f"The name {host} could not be resolved")
    for text in addresses:
        reason = refusal(ipaddress.ip_address(text.split("%", 1)[0]), allow_private=settings.allow_private)
        if reason:
            log.warning("refused an address host=%s reason=%s", host, reason)
            shown = host if literal is not None or host == text else f"{host} ({text})"
            raise AddressRefused(f"{shown} is {reason}; Almanac does not fetch from there")
    return Destination(scheme, host, port, addresses[0])


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address GuardedSession checked for this request, never to a fresh lookup of its host."""

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        destination: Destination | None = getattr(request, _PIN, None)
        if destination is None:
            raise AddressRefused("An unchecked request was stopped")
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if destination.scheme == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": destination.host,
                           "assert_hostname": destination.host}
        return self.poolmanager.connection_from_host(
            scheme=destination.scheme, host=destination.address, port=destination.port, pool_kwargs=pool_kwargs)


class GuardedSession(requests.Session):
    """A requests session whose every request (redirects included) passes `check_url` first and connects to the
    checked address. It ignores proxy and .netrc settings of the environment, and follows at most MAX_REDIRECTS."""

    def __init__(self, settings: GuardSettings):
        super().__init__()
        self.guard = settings
        self.trust_env = False
        self.max_redirects = MAX_REDIRECTS
        adapter = _PinnedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request, **kwargs):
        destination = check_url(request.url, self.guard)
        setattr(request, _PIN, destination)
        request.headers["Host"] = destination.host_header
        return super().send(request, **kwargs)

    def rebuild_auth(self, prepared_request, response):
        """Credentials never follow a redirect to another origin (scheme, host and port): stricter than requests,
        which lets them follow to another port of the same host."""
        previous, target = urlsplit(response.request.url), urlsplit(prepared_request.url)
        if (previous.scheme, previous.hostname, previous.port) != (target.scheme, target.hostname, target.port):
            prepared_request.headers.pop("Authorization", None)


def same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    default = {"http": 80, "https": 443}
    return (a.scheme, (a.hostname or "").lower(), a.port or default.get(a.scheme)) == (
        b.scheme, (b.hostname or "").lower(), b.port or default.get(b.scheme))
