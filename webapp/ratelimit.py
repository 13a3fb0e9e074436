"""Fixed-window counters in Redis, shared by every web process."""
from __future__ import annotations

from redis import Redis


def is_limited(redis: Redis, key: str, limit: int) -> int | None:
    """Seconds until `key` may be tried again when it has reached `limit`, else None."""
    count = redis.get(f"ratelimit:{key}")
    if count is not None and int(count) >= limit:
        return max(int(redis.ttl(f"ratelimit:{key}")), 1)
    return None


def count_hit(redis: Redis, key: str, window_seconds: int) -> None:
    name = f"ratelimit:{key}"
    with redis.pipeline() as pipe:
        # SET NX starts the window once; EXPIRE ... NX would need Redis 7 and the embedded server is 6.2.
        pipe.set(name, 0, ex=window_seconds, nx=True)
        pipe.incr(name)
        pipe.execute()


def parse_rate(rate: str) -> tuple[int, int]:
    """'5 per 15 minutes' → (5, 900)."""
    count, _, amount, unit = rate.split()
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
    return int(count), int(amount) * seconds
