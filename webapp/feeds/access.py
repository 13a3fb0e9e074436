"""Who may fetch a feed how often, and its audit trail as one row per feed and day (not one per poll).

Everything here lives in Redis: rate windows (webapp.ratelimit), a hash of request counts per day that the
nightly job turns into audit rows, the moment each version of a feed was first served (its Last-Modified), and the
last file served, so a client without the ETag does not cost a rebuild.
"""
from __future__ import annotations

import json
import uuid
import zlib
from datetime import UTC, date, datetime, timedelta

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.models import AuditLog
from webapp.ratelimit import count_hit, is_limited, parse_rate

# A phone polls every 15 minutes or so; a few devices and some impatience fit well within this.
REQUESTS_PER_FEED = "120 per 1 hour"
# Guessing addresses: unknown tokens per client address.
MISSES_PER_ADDRESS = "20 per 15 minutes"
COUNTS_KEPT = timedelta(days=8)
BODY_KEPT = timedelta(hours=6)
ACCESS_ACTION = "FEED_ACCESS"


def _day_key(kind: str, day: date) -> str:
    return f"feed:{kind}:{day.isoformat()}"


def refused_address(redis: Redis, address: str | None) -> int | None:
    """Seconds to wait when this client has tried too many unknown addresses, else None."""
    return is_limited(redis, f"feed-miss:{address}", parse_rate(MISSES_PER_ADDRESS)[0])


def count_miss(redis: Redis, address: str | None) -> None:
    count_hit(redis, f"feed-miss:{address}", parse_rate(MISSES_PER_ADDRESS)[1])


def refused_feed(redis: Redis, feed_id: uuid.UUID) -> int | None:
    limit, window = parse_rate(REQUESTS_PER_FEED)
    retry_after = is_limited(redis, f"feed:{feed_id}", limit)
    if retry_after is None:
        count_hit(redis, f"feed:{feed_id}", window)
    return retry_after


def count_request(redis: Redis, feed_id: uuid.UUID, user_id: uuid.UUID, now: datetime, *,
                  not_modified: bool, refused: bool = False) -> None:
    """One more request today; the field names the feed and its owner, so the nightly job needs no lookup."""
    field = f"{feed_id}:{user_id}"
    kinds = ["requests"] + (["not_modified"] if not_modified else []) + (["refused"] if refused else [])
    with redis.pipeline() as pipe:
        for kind in kinds:
            key = _day_key(kind, now.astimezone(UTC).date())
            pipe.hincrby(key, field, 1)
            pipe.expire(key, COUNTS_KEPT)
        pipe.execute()


def last_modified(redis: Redis, feed_id: uuid.UUID, etag: str, newest_change: datetime, now: datetime) -> datetime:
    """When this version of the feed came to be, for Last-Modified.

    The newest event change covers most changes, but not a calendar hidden or renamed; a version whose ETag we
    have not seen before is dated now (never earlier than the newest change), and keeps that date after.
    """
    key = f"feed:version:{feed_id}"
    seen = redis.get(key)
    if seen:
        stored = json.loads(seen)
        if stored["etag"] == etag:
            return datetime.fromisoformat(stored["since"])
    since = newest_change if not seen else max(newest_change, now)
    redis.set(key, json.dumps({"etag": etag, "since": since.isoformat()}), ex=COUNTS_KEPT * 4)
    return since


def cached_body(redis: Redis, feed_id: uuid.UUID, etag: str) -> bytes | None:
    """The file last built for this feed, if it is still this version."""
    stored = redis.get(f"feed:body:{feed_id}")
    prefix = etag.encode() + b"\n"
    return zlib.decompress(stored[len(prefix):]) if stored and stored.startswith(prefix) else None


def keep_body(redis: Redis, feed_id: uuid.UUID, etag: str, body: bytes) -> None:
    redis.set(f"feed:body:{feed_id}", etag.encode() + b"\n" + zlib.compress(body), ex=BODY_KEPT)


def record_daily_counts(session: Session, redis: Redis, today: date) -> int:
    """An audit row per feed for each finished day still counted in Redis; returns how many were written.

    Safe to run twice: a (feed, day) already audited is skipped, and a day's counts go only after the commit.
    """
    written = 0
    for key in sorted(redis.scan_iter(match="feed:requests:*")):
        day = date.fromisoformat(key.decode().rsplit(":", 1)[1])
        if day >= today:
            continue
        requests = redis.hgetall(key)
        not_modified = redis.hgetall(_day_key("not_modified", day))
        refused = redis.hgetall(_day_key("refused", day))
        done = set(session.scalars(
            select(AuditLog.resource_id).where(AuditLog.action == ACCESS_ACTION,
                                               AuditLog.metadata_["day"].astext == day.isoformat())
        ))
        for field, count in sorted(requests.items()):
            feed_id, user_id = field.decode().split(":")
            if feed_id in done:
                continue
            audit.record(session, ACCESS_ACTION, user_id=uuid.UUID(user_id), resource=("calendar_feed", feed_id),
                         day=day.isoformat(), requests=int(count), not_modified=int(not_modified.get(field, 0)),
                         refused=int(refused.get(field, 0)))
            written += 1
        session.commit()
        redis.delete(key, _day_key("not_modified", day), _day_key("refused", day))
    return written
