"""Change notifications from Google (watch channels) and Microsoft Graph (subscriptions).

Each request costs at most one indexed lookup and a Redis round trip or two, and writes nothing but the Redis keys
that queue the work: the sync runs in the worker. An address that keeps sending notifications for channels we
do not have (or without their secret) is refused for a while before any lookup. Bodies are capped.
"""
from __future__ import annotations

from flask import abort, current_app, make_response, request
from werkzeug.exceptions import TooManyRequests

from webapp import ratelimit
from webapp.extensions import db, redis_client
from webapp.sync import notifications
from webapp.sync.notifications import Outcome, Verdict
from webapp.sync.queue import enqueue_notified, enqueue_watch_jobs
from webapp.webhooks import bp

# Google's notifications have an empty body; Graph batches items of about half a kilobyte.
BODY_LIMITS = {"webhooks.google": 4 * 1024, "webhooks.microsoft": 256 * 1024,
               "webhooks.microsoft_lifecycle": 256 * 1024}
MAX_ITEMS = 1000
VALIDATION_TOKEN_LIMIT = 1024
# Notifications for unknown channels, or without their secret, per client address. The providers' own never
# miss (apart from one arriving just after a stop).
REFUSED_RATE = "60 per minute"


@bp.before_request
def cap_body():
    request.max_content_length = BODY_LIMITS.get(request.endpoint or "", 4 * 1024)
    if request.content_length is not None and request.content_length > request.max_content_length:
        abort(413)
    if current_app.config["RATELIMIT_ENABLED"] and (
            wait := ratelimit.is_limited(redis_client(), _refusals_key(), ratelimit.parse_rate(REFUSED_RATE)[0])):
        raise TooManyRequests(retry_after=wait)


def _refusals_key() -> str:
    return f"webhook-refused:{request.remote_addr}"


@bp.post("/google")
def google():
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    if not channel_id or len(channel_id) > 255:
        abort(400)
    outcome = notifications.google_notification(db.session, channel_id, request.headers.get("X-Goog-Channel-Token"),
                                                request.headers.get("X-Goog-Resource-State"))
    return _answer(outcome, accepted=200)


@bp.post("/microsoft")
def microsoft():
    return _graph()


@bp.post("/microsoft/lifecycle")
def microsoft_lifecycle():
    return _graph()


def _graph():
    token = request.args.get("validationToken")
    if token is not None:
        # Graph checks the address before it makes a subscription: echo the token, as plain text, at once.
        if len(token) > VALIDATION_TOKEN_LIMIT:
            abort(400)
        response = make_response(token, 200)
        response.mimetype = "text/plain"
        return response
    body = request.get_json(silent=True)
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        abort(400)
    return _answer(notifications.graph_notifications(db.session, items), accepted=202)


def _answer(outcome: Outcome, *, accepted: int):
    if outcome.verdict is not Verdict.ACCEPTED:
        if current_app.config["RATELIMIT_ENABLED"]:
            ratelimit.count_hit(redis_client(), _refusals_key(), ratelimit.parse_rate(REFUSED_RATE)[1])
        return "", outcome.verdict.value
    _queue(outcome)
    return "", accepted


def _queue(outcome: Outcome) -> None:
    redis = redis_client()
    if outcome.syncs:
        due = notifications.owe_syncs(redis, outcome.syncs)
        if due:
            enqueue_notified(due)
    jobs = [(f"watch-list-{item}", "jobs.watch.follow_calendar_list", (str(item),))
            for item in outcome.calendar_lists if notifications.first_list_notice(redis, item)]
    jobs += [(f"watch-renew-{item}", "jobs.watch.renew_channel", (str(item),)) for item in outcome.renewals]
    jobs += [(f"watch-recreate-{item}", "jobs.watch.recreate_channel", (str(item),)) for item in outcome.recreate]
    if jobs:
        enqueue_watch_jobs(jobs)
