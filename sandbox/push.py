"""Delivering push notifications from the emulators, as Google and Microsoft do: POSTs to the subscriber's address
from a pool of background threads (never while the emulator's state lock is held), retried by the provider's rule.

Addresses must be https, as both providers require; plain http is accepted only to a loopback address, so the
sandbox and the tests can run the app without TLS (`require_https=True` refuses it too, like the real services).
Tests and benchmarks can lose every notification (`lose_notifications`) to exercise the fallbacks, and wait until
every delivery has been attempted (`wait_idle`).
"""
from __future__ import annotations

import ipaddress
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

WORKERS = 4
TIMEOUT_SECONDS = 10.0


def is_loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def address_allowed(address: str, *, require_https: bool) -> bool:
    parts = urlsplit(address)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and not require_https and is_loopback(parts.hostname)


@dataclass
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    retry: Callable[[int | None], bool]  # status (None: no answer) -> try again?
    delays: tuple[float, ...]  # before each retry
    outcome: list = field(default_factory=list)  # (status | error name) per attempt


@dataclass
class Stats:
    sent: int = 0  # attempts
    delivered: int = 0
    failed: int = 0  # given up
    lost: int = 0  # dropped on purpose (lose_notifications)


class Deliveries:
    """A queue of notifications to send and the threads that send them. Thread-safe."""

    def __init__(self, workers: int = WORKERS):
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.lose_notifications = False
        self.stats = Stats()
        self.log: list[Delivery] = []
        self._threads = [threading.Thread(target=self._work, name=f"push-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def send(self, delivery: Delivery) -> None:
        with self._lock:
            if self.lose_notifications:
                self.stats.lost += 1
                return
            self._pending += 1
        self._queue.put(delivery)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until every queued notification has been delivered or given up (False when `timeout` passed)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _work(self) -> None:
        session = requests.Session()
        while True:
            delivery = self._queue.get()
            try:
                self._deliver(session, delivery)
            finally:
                with self._idle:
                    self._pending -= 1
                    self.log.append(delivery)
                    del self.log[:-2000]
                    self._idle.notify_all()

    def _deliver(self, session: requests.Session, delivery: Delivery) -> None:
        for attempt in range(len(delivery.delays) + 1):
            if attempt:
                time.sleep(delivery.delays[attempt - 1])
            status = None
            try:
                response = session.post(delivery.url, data=delivery.body, headers=delivery.headers,
                                        timeout=TIMEOUT_SECONDS, allow_redirects=False)
                status = response.status_code
                delivery.outcome.append(status)
            except requests.RequestException as error:
                delivery.outcome.append(type(error).__name__)
            with self._lock:
                self.stats.sent += 1
            if status is not None and 200 <= status < 300 or status == 102:
                with self._lock:
                    self.stats.delivered += 1
                return
            if not delivery.retry(status):
                break
        with self._lock:
            self.stats.failed += 1
        log.info("notification not delivered url=%s outcome=%s", delivery.url, delivery.outcome)


def validate(url: str, token: str, timeout: float = 10.0) -> bool:
    """Graph's check of a notification URL: POST ?validationToken=…, expect 200, text/plain, the token itself, in
    time."""
    try:
        response = requests.post(url, params={"validationToken": token}, headers={"Content-Type": "text/plain"},
                                 timeout=timeout, allow_redirects=False)
    except requests.RequestException:
        return False
    return (response.status_code == 200 and response.headers.get("Content-Type", "").startswith("text/plain")
            and response.text == token)


class PushSender:
    """For an emulator's state: its deliveries, started when first needed (under the state's own `_lock`)."""

    _lock: threading.Lock
    _deliveries: Deliveries | None = None

    def wait_for_deliveries(self, timeout: float = 30.0) -> bool:
        return self.deliveries.wait_idle(timeout)

    @property
    def deliveries(self) -> Deliveries:
        with self._lock:
            if self._deliveries is None:
                self._deliveries = Deliveries()
            return self._deliveries
