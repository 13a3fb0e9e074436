"""How many jobs each RQ queue holds, by state: for the sync-health page and the health samples."""
from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from webapp.maintenance.metrics import Measurement

# Every RQ queue the workers listen on (see the Procfile).
QUEUES = ("live", "sync", "default")


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


def queue_stats(redis: Redis, queues: tuple[str, ...] = QUEUES) -> list[QueueStats]:
    stats = []
    for name in queues:
        queue = Queue(name, connection=redis)
        stats.append(
            QueueStats(
                name=name,
                queued=queue.count,
                started=StartedJobRegistry(queue=queue).count,
                scheduled=ScheduledJobRegistry(queue=queue).count,
                deferred=DeferredJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
            )
        )
    return stats


def queue_measurements(redis: Redis) -> list[Measurement]:
    measurements = []
    for stats in queue_stats(redis):
        measurements += [
            Measurement("queue_length", stats.name, stats.queued),
            Measurement("failed_jobs", stats.name, stats.failed),
        ]
    return measurements
