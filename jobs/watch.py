"""Push notification jobs: make, renew and stop channels (webapp.sync.watch), follow an account's calendar list,
and the 15-minute maintenance that queues whatever is due. Each takes ids and is safe to run twice."""
from __future__ import annotations

import logging
import uuid

from flask import current_app

from jobs import job_app
from webapp.connections.service import refresh_calendar_list
from webapp.extensions import db
from webapp.sync import watch
from webapp.sync.queue import enqueue_calendars, enqueue_watch_jobs

log = logging.getLogger(__name__)


def _settings() -> watch.WatchSettings:
    return watch.WatchSettings.of(current_app.config)


def watch_calendar(connection_id: str) -> str:
    with job_app().app_context():
        return watch.watch_calendar(db.session, uuid.UUID(connection_id), _settings())


def watch_account(connection_id: str) -> str:
    with job_app().app_context():
        return watch.watch_account(db.session, uuid.UUID(connection_id), _settings())


def renew_channel(channel_row_id: str) -> str:
    with job_app().app_context():
        return watch.renew(db.session, uuid.UUID(channel_row_id), _settings())


def recreate_channel(channel_row_id: str) -> str:
    with job_app().app_context():
        return watch.recreate(db.session, uuid.UUID(channel_row_id), _settings())


def stop_channel(channel_row_id: str) -> str:
    with job_app().app_context():
        return watch.stop(db.session, uuid.UUID(channel_row_id))


def follow_calendar_list(channel_row_id: str) -> dict:
    """Google said an account's calendar list changed (on this calendar-list channel): add its new calendars (their
    first sync and channels follow) and notice the ones it lost."""
    with job_app().app_context():
        anchor = watch.account_calendar_of(db.session, uuid.UUID(channel_row_id))
        if anchor is None:
            return {"added": 0}
        added = refresh_calendar_list(db.session, anchor)
        db.session.commit()
        if added:
            enqueue_calendars(added)
            if current_app.config["PUSH_NOTIFICATIONS"]:
                watch.queue_watches(added)
        return {"added": len(added)}


def maintain() -> dict:
    """Every 15 minutes: queue a job for each calendar to watch, channel to renew and channel to stop."""
    with job_app().app_context():
        work = watch.due_work(db.session, _settings())
        jobs = [(f"watch-calendar-{item}", "jobs.watch.watch_calendar", (str(item),)) for item in work.calendars]
        jobs += [(f"watch-account-{item}", "jobs.watch.watch_account", (str(item),)) for item in work.accounts]
        jobs += [(f"watch-renew-{item}", "jobs.watch.renew_channel", (str(item),)) for item in work.renewals]
        jobs += [(f"watch-stop-{item}", "jobs.watch.stop_channel", (str(item),)) for item in work.stops]
        enqueue_watch_jobs(jobs)
        counts = {"calendars": len(work.calendars), "accounts": len(work.accounts), "renewals": len(work.renewals),
                  "stops": len(work.stops)}
        log.info("watch maintenance queued %s", counts)
        return counts
