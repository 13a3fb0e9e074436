"""What a change notification from Google or Microsoft sets in motion, cheaply: check it names a channel we made
and carries its secret (one indexed lookup), then owe the calendar a sync, coalesced in Redis.

A notification only says "something changed": the sync that follows learns what. Every notification marks the
calendar as owed a sync (`sync:owed:<id>`); only the first while none is waiting queues a job (the gate,
`sync:notified:<id>`), so a burst of a hundred notifications queues one. Any sync of the calendar takes the debt
before it reads the provider and, when it ends, opens the gate and looks again: a notification that came while it
ran gets another round, one that comes after it opened the gate queues a new job. So no change is left waiting
for the sweep, and none is synced twice for nothing.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import WatchChannel, WatchKind

log = logging.getLogger(__name__)

OWED = "sync:owed:{}"
GATE = "sync:notified:{}"
# Longer than a queued sync waits in a busy queue; a job that never runs (lost with Redis) frees it by then.
GATE_SECONDS = 120
OWED_SECONDS = 3600
LIST_GATE = "sync:calendar-list:{}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def owe_syncs(redis: Redis, connection_ids: list[uuid.UUID | str]) -> list[str]:
    """Mark the calendars as owed a sync; returns those for which no sync job is waiting yet (the caller queues
    one for each). One round trip."""
    ids = [str(connection_id) for connection_id in dict.fromkeys(connection_ids)]
    if not ids:
        return []
    with redis.pipeline(transaction=False) as pipeline:
        for connection_id in ids:
            pipeline.set(OWED.format(connection_id), 1, ex=OWED_SECONDS)
            pipeline.set(GATE.format(connection_id), 1, ex=GATE_SECONDS, nx=True)
        answers = pipeline.execute()
    return [connection_id for connection_id, opened in zip(ids, answers[1::2], strict=True) if opened]


def take_debt(redis: Redis, connection_id: uuid.UUID | str) -> bool:
    """A sync is about to read the provider: whatever was notified until now, it will see."""
    return bool(redis.delete(OWED.format(connection_id)))


def settle(redis: Redis, connection_id: uuid.UUID | str) -> bool:
    """A sync ended: let the next notification queue a job again, and say whether one came meanwhile (then the
    caller runs another round). Opening the gate first is what leaves no notification behind."""
    with redis.pipeline(transaction=False) as pipeline:
        pipeline.delete(GATE.format(connection_id))
        pipeline.exists(OWED.format(connection_id))
        return bool(pipeline.execute()[1])


def open_gate(redis: Redis, connection_id: uuid.UUID | str) -> None:
    redis.delete(GATE.format(connection_id))


def first_list_notice(redis: Redis, channel_id: uuid.UUID) -> bool:
    """Coalesce calendarList notifications of one account: True for the first in a few seconds."""
    return bool(redis.set(LIST_GATE.format(channel_id), 1, ex=5, nx=True))


class Verdict(enum.Enum):
    ACCEPTED = 200
    UNKNOWN = 404  # no such channel (forged, or stopped a moment ago)
    FORGED = 403  # a channel we know, without its secret


@dataclass
class Outcome:
    verdict: Verdict
    syncs: list[uuid.UUID] = field(default_factory=list)  # calendars owed a sync
    calendar_lists: list[uuid.UUID] = field(default_factory=list)  # channel rows: an account's list changed
    renewals: list[uuid.UUID] = field(default_factory=list)  # channel rows to renew now
    recreate: list[uuid.UUID] = field(default_factory=list)  # channel rows the provider removed


@dataclass(frozen=True)
class _Known:
    id: uuid.UUID
    kind: WatchKind
    connection_id: uuid.UUID | None
    token_hash: str


def _known(session: Session, channel_ids: list[str]) -> dict[str, _Known]:
    rows = session.execute(
        select(WatchChannel.channel_id, WatchChannel.id, WatchChannel.kind, WatchChannel.connection_id,
               WatchChannel.token_hash)
        .where(WatchChannel.channel_id.in_(channel_ids))
    ).all()
    session.rollback()
    return {row.channel_id: _Known(row.id, row.kind, row.connection_id, row.token_hash) for row in rows}


def _proves(known: _Known, secret: str | None) -> bool:
    return secret is not None and hmac.compare_digest(token_hash(secret), known.token_hash)


def google_notification(session: Session, channel_id: str, token: str | None, state: str | None) -> Outcome:
    """One Google notification (the X-Goog-* headers). `sync` (the channel's first message) asks nothing;
    `exists` and `not_exists` mean the calendar (or the account's calendar list) changed."""
    known = _known(session, [channel_id]).get(channel_id)
    if known is None:
        return Outcome(Verdict.UNKNOWN)
    if not _proves(known, token):
        return Outcome(Verdict.FORGED)
    if state not in ("exists", "not_exists"):
        return Outcome(Verdict.ACCEPTED)
    if known.kind == WatchKind.CALENDAR_LIST:
        return Outcome(Verdict.ACCEPTED, calendar_lists=[known.id])
    return Outcome(Verdict.ACCEPTED, syncs=[known.connection_id] if known.connection_id else [])


def graph_notifications(session: Session, items: list[dict]) -> Outcome:
    """A Graph POST: change notifications or lifecycle events, possibly of several subscriptions. Each item must
    carry its subscription's clientState; those that do not are dropped (and decide the answer if none does)."""
    wanted = [str(item.get("subscriptionId")) for item in items if isinstance(item, dict)]
    known = _known(session, list(dict.fromkeys(wanted))) if wanted else {}
    outcome, forged = Outcome(Verdict.UNKNOWN), False
    for item in items:
        if not isinstance(item, dict):
            continue
        channel = known.get(str(item.get("subscriptionId")))
        if channel is None:
            continue
        if not _proves(channel, item.get("clientState") if isinstance(item.get("clientState"), str) else None):
            forged = True
            continue
        outcome.verdict = Verdict.ACCEPTED
        event = item.get("lifecycleEvent")
        if event == "reauthorizationRequired":
            outcome.renewals.append(channel.id)
        elif event == "subscriptionRemoved":
            outcome.recreate.append(channel.id)
        elif channel.connection_id is not None:  # a change, or "missed": either way the sync finds out what
            outcome.syncs.append(channel.connection_id)
    if outcome.verdict is Verdict.UNKNOWN and forged:
        outcome.verdict = Verdict.FORGED
    return outcome
