"""Exponential backoff for restarting and reconnecting: 1 s, 2 s, 4 s … capped (30 s by default), and back to the
first delay once the thing ran healthily for a while, so a crash after a long good run is retried at once."""
from __future__ import annotations


class Backoff:
    def __init__(self, first: float = 1.0, cap: float = 30.0, healthy_after: float = 60.0):
        self.first, self.cap, self.healthy_after = first, cap, healthy_after
        self.failures = 0

    def next_delay(self, ran_for: float = 0.0) -> float:
        """The wait before the next attempt, after one that lasted `ran_for` seconds."""
        if ran_for >= self.healthy_after:
            self.failures = 0
        delay = min(self.first * 2 ** self.failures, self.cap)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
