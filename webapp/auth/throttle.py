"""Sign-in throttling that an attacker cannot turn against the account's owner.

Failures are counted three ways. Per (account, client address) the limit is tight: one source guessing one
account stops after a few tries. Per address it is broad: one source guessing many accounts. Per account there
is only a high ceiling, and past a threshold a delay that doubles with each failure: many sources guessing one
account are slowed down, yet a stranger's failures never lock the owner out for long. A browser that has signed
in to the account before carries a signed device cookie and is counted apart, per account only: its failures and
those of the account's other such browsers, never anyone else's, so people sharing its address (an office NAT)
cannot lock it out, and a stolen cookie still guesses slowly. Unknown emails are throttled exactly like real ones,
so throttling tells nobody which accounts exist.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Flask
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis import Redis

from webapp import ratelimit

DEVICE_COOKIE = "almanac_device"
DEVICE_COOKIE_DAYS = 365


def account_key(email: str) -> str:
    """Redis keys name accounts by a digest of the normalised email."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


@dataclass
class LoginThrottle:
    redis: Redis
    email: str
    address: str | None
    trusted_device: bool
    per_account_and_address: str
    per_address: str
    per_account: str
    per_account_on_known_browsers: str
    delay_after: int
    max_delay_seconds: int

    @classmethod
    def for_attempt(cls, app: Flask, redis: Redis, email: str, address: str | None,
                    trusted_device: bool) -> LoginThrottle:
        config = app.config
        return cls(redis, email, address, trusted_device,
                   per_account_and_address=config["LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS"],
                   per_address=config["LOGIN_FAILURES_PER_ADDRESS"], per_account=config["LOGIN_FAILURES_PER_ACCOUNT"],
                   per_account_on_known_browsers=config["LOGIN_FAILURES_PER_ACCOUNT_ON_KNOWN_BROWSERS"],
                   delay_after=config["LOGIN_ACCOUNT_DELAY_AFTER"],
                   max_delay_seconds=config["LOGIN_ACCOUNT_DELAY_MAX_SECONDS"])

    @property
    def _account(self) -> str:
        return account_key(self.email)

    @property
    def _counts(self) -> list[tuple[str, str]]:
        """(key, rate) of each count this attempt is checked against and adds to."""
        if self.trusted_device:
            return [(f"login:known:{self._account}", self.per_account_on_known_browsers)]
        return [(f"login:pair:{self._account}:{self.address}", self.per_account_and_address),
                (f"login:address:{self.address}", self.per_address),
                (f"login:account:{self._account}", self.per_account)]

    def wait_seconds(self) -> int | None:
        """Seconds this attempt must wait before it may be checked at all, or None."""
        waits = [ratelimit.is_limited(self.redis, key, ratelimit.parse_rate(rate)[0]) for key, rate in self._counts]
        if not self.trusted_device:
            waits.append(ratelimit.held_for(self.redis, f"login:delay:{self._account}"))
        return max((wait for wait in waits if wait), default=None)

    def failed(self) -> None:
        counted = {key: ratelimit.count_hit(self.redis, key, ratelimit.parse_rate(rate)[1])
                   for key, rate in self._counts}
        if self.trusted_device:
            return
        beyond = counted[f"login:account:{self._account}"] - self.delay_after
        if beyond > 0:
            ratelimit.hold(self.redis, f"login:delay:{self._account}",
                           min(2 ** min(beyond - 1, 30), self.max_delay_seconds))

    def succeeded(self) -> None:
        """The owner's own typos (from this address, or on the account's known browsers) are forgiven; strangers'
        failures elsewhere still count."""
        own = f"login:known:{self._account}" if self.trusted_device else f"login:pair:{self._account}:{self.address}"
        ratelimit.clear(self.redis, own)

    def forget_account(self) -> None:
        """After a password reset the account starts afresh."""
        ratelimit.clear(self.redis, f"login:account:{self._account}", f"login:delay:{self._account}",
                        f"login:known:{self._account}")


def _devices(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="almanac-device")


def device_token(secret_key: str, email: str) -> str:
    """The device cookie's value: this browser signed in to this account (named by digest, not by address)."""
    return _devices(secret_key).dumps(account_key(email))


def is_trusted_device(secret_key: str, token: str | None, email: str) -> bool:
    if not token:
        return False
    try:
        return _devices(secret_key).loads(token, max_age=DEVICE_COOKIE_DAYS * 86400) == account_key(email)
    except BadSignature:
        return False
