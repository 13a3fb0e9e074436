"""HTTP plumbing the providers share: one Retry-After parser, one way to open a session, and where credentials
may go."""
from __future__ import annotations

import functools
import ipaddress
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from publicsuffixlist import PublicSuffixList

# However long a provider asks us to wait, we look again within the hour.
RETRY_AFTER_CAP_SECONDS = 3600.0


def parse_retry_after(value: str | None, now: datetime | None = None,
                      cap: float = RETRY_AFTER_CAP_SECONDS) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds ("120", and the "1.5" some servers send) or an
    HTTP date. Never negative, never more than `cap`; None when the header is missing or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), cap)


def new_session() -> requests.Session:
    """A session for one job or one request of one user: cookies a provider sets never reach another user."""
    return requests.Session()


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """"p42-caldav.icloud.com" -> "icloud.com"; an IP address or a name without a public suffix stays itself."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    return _public_suffixes().privatesuffix(host) or host


def is_within(url: str, home: str) -> bool:
    """Whether `url` may receive the credentials meant for `home`: the same registrable domain, and never a step
    down from https to http."""
    target, origin = urlsplit(url), urlsplit(home)
    if target.scheme not in ("http", "https") or not target.hostname or not origin.hostname:
        return False
    if origin.scheme == "https" and target.scheme != "https":
        return False
    return registrable_domain(target.hostname) == registrable_domain(origin.hostname)
