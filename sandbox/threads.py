"""The emulators serve threaded: their state objects guard every method with one lock."""
from __future__ import annotations

import functools


def locked(method):
    """Run the method while holding `self._lock`."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper
