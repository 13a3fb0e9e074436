"""RQ entry points: thin functions taking ids that open an app context and call domain code."""
from __future__ import annotations

from functools import cache

from flask import Flask

# A job waits out a Redis stall of up to this long (releasing its lock, queueing follow-ups) where a web request
# gives up after a second: failing there would leave the lock held, and the next attempt would find it "running".
JOB_REDIS_TIMEOUT_SECONDS = 60


@cache
def job_app() -> Flask:
    """One app per worker process; each job opens its own app context and so gets a fresh DB session."""
    from webapp import create_app

    return create_app({"REDIS_TIMEOUT_SECONDS": JOB_REDIS_TIMEOUT_SECONDS})
