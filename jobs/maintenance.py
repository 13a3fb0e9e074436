"""Housekeeping jobs."""
from __future__ import annotations

import logging

from jobs import job_app
from webapp.auth.sessions import delete_expired_sessions
from webapp.extensions import db

log = logging.getLogger(__name__)


def purge_expired_sessions() -> int:
    with job_app().app_context():
        app = job_app()
        count = delete_expired_sessions(db.session, idle_days=app.config["SESSION_IDLE_DAYS"])
        db.session.commit()
        log.info("purged expired sessions count=%s", count)
        return count
