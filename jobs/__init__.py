"""RQ entry points: thin functions taking ids that open an app context and call domain code."""
from __future__ import annotations

from functools import cache

from flask import Flask


@cache
def job_app() -> Flask:
    """One app per worker process; each job opens its own app context and so gets a fresh DB session."""
    from webapp import create_app

    return create_app()
