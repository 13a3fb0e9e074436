"""Fixed-window counters in Redis, shared by every web process. Redis errors are not caught here: a throttle
that cannot count must not quietly stop throttling."""
from __future__ import annotations

from redis import Redis

PREFIX = "ratelimit:"


def parse_rate(rate: str) -> tuple[int, int]:
    """'5 per 15 minutes' → (5, 900); '100 per hour' → (100, 3600)."""
    count, _, *amount, unit = rate.split()
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
    return int(count), int(amount[0] if amount else 1) * seconds


def is_limited(redis: Redis, key: str, limit: int) -> int | None:
    """Seconds until `key` may be tried again when it has reached `limit`, else None."""
    count = redis.get(PREFIX + key)
    if count is not None and int(count) >= limit:
        return max(int(redis.ttl(PREFIX + key)), 1)
    return None


def count_hit(redis: Redis, key: str, window_seconds: int) -> int:
    """Count one more hit in the key's window (which starts with its first hit); returns the count."""
    name = PREFIX + key
    with redis.pipeline() as pipe:
        # SET NX starts the window once; EXPIRE ... NX would need Redis 7 and the embedded server is 6.2.
        pipe.set(name, 0, ex=window_seconds, nx=True)
        pipe.incr(name)
        return int(pipe.execute()[1])


def take(redis: Redis, key: str, rate: str) -> int | None:
    """Count a hit against `rate`; seconds to wait when the hit is over the limit, else None."""
    limit, window = parse_rate(rate)
    retry_after = is_limited(redis, key, limit)
    if retry_after is None:
        count_hit(redis, key, window)
    return retry_after


def hold(redis: Redis, key: str, seconds: float) -> None:
    """Refuse `key` for the next `seconds` (see `held_for`)."""
    redis.set(PREFIX + key, 1, px=max(int(seconds * 1000), 1))


def held_for(redis: Redis, key: str) -> int | None:
    milliseconds = redis.pttl(PREFIX + key)
    return max(-(-milliseconds // 1000), 1) if milliseconds > 0 else None


def clear(redis: Redis, *keys: str) -> None:
    redis.delete(*(PREFIX + key for key in keys))
