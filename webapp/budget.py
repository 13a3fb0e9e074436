"""A CPU budget for one request's work in Python: SQL has its statement timeout, and this bounds the rest.

The web layer opens a budget when a request starts; loops whose length comes from outside (series expansion,
entries built from rows, search results) call `check()`, which raises BudgetExceeded once the thread has used
more CPU than allowed. The request then ends with a friendly 503 and its thread is free for the next one.
Without an open budget (jobs, the command line) `check()` does nothing. CPU time, not wall time: a request
waiting on the database or on a busy machine uses none.
"""
from __future__ import annotations

import time
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("request_cpu_deadline", default=None)


class BudgetExceeded(Exception):
    """The request used up its CPU budget."""


def open_budget(seconds: float) -> None:
    _deadline.set(time.thread_time() + seconds)


def close_budget() -> None:
    _deadline.set(None)


def check() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.thread_time() > deadline:
        raise BudgetExceeded
