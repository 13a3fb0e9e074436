"""Provider events ↔ calendar_events rows: the mapping both ways, and bulk writes by the natural key."""
from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Column, MetaData, Table, and_, bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from webapp.models import CalendarEvent, EventStatus, RecurrenceFrequency, SyncStatus
from webapp.providers.base import RemoteEvent
from webapp.recurrence import SeriesMaster, expansion_limit, parse_rule_summary, series_end

TITLE_LIMIT = LOCATION_LIMIT = 500
# What a push hands back to the provider module from the stored metadata: the CalDAV href, whether the times
# float, the X- properties to keep, Outlook's body type and free/busy.
PROVIDER_FACTS_SENT_BACK = ("href", "floating", "x_props", "bodyContentType", "showAs")

# Everything a pull may overwrite; local-only state (visibility, created_at, id) stays.
SYNCED_COLUMNS = (
    "title", "description", "location", "start_time", "end_time", "is_all_day", "timezone", "status",
    "sync_status", "is_recurring", "recurrence_rule", "recurrence_frequency", "recurrence_interval",
    "recurrence_end_date", "recurrence_count", "series_until", "series_limit", "parent_event_id", "attendees",
    "reminders",
    "provider_metadata", "html_link", "last_synced_at", "deleted_at",
)


def safe_link(url: str | None) -> str | None:
    """Only http(s) links are kept: a provider's `javascript:` URL must never become a link."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def as_row(event: RemoteEvent, parent_id: uuid.UUID | None, now: datetime) -> dict:
    summary = parse_rule_summary(event.recurrence_rule) if event.recurrence_rule else {}
    frequency = summary.get("frequency")
    metadata: dict[str, Any] = {
        key: value for key, value in {
            "etag": event.etag, "ical_uid": event.ical_uid, "sequence": event.sequence,
            "original_timezone": event.timezone,
            "original_start_time": event.original_start_time.astimezone(UTC).isoformat()
            if event.original_start_time else None,
            "parent_provider_event_id": event.parent_provider_event_id,
        }.items() if value is not None
    }
    metadata.update(event.metadata or {})
    end_time = max(event.end_time, event.start_time)  # a provider's negative duration becomes an instant
    timezone = (event.timezone or "UTC")[:100]
    master = SeriesMaster(event.provider_event_id, event.start_time, end_time, event.is_all_day, timezone,
                          event.recurrence_rule) if event.is_recurring else None
    return {
        "provider_event_id": event.provider_event_id,
        "title": (event.title or "(No title)")[:TITLE_LIMIT],
        "description": event.description,
        "location": event.location[:LOCATION_LIMIT] if event.location else None,
        "start_time": event.start_time,
        "end_time": end_time,
        "is_all_day": event.is_all_day,
        "timezone": timezone,
        "status": EventStatus(event.status),
        "sync_status": SyncStatus.SYNCED,
        "is_recurring": event.is_recurring,
        "recurrence_rule": event.recurrence_rule,
        "recurrence_frequency": RecurrenceFrequency(frequency) if frequency else None,
        "recurrence_interval": summary.get("interval") if event.recurrence_rule else None,
        "recurrence_end_date": summary.get("until"),
        "recurrence_count": summary.get("count"),
        "series_until": series_end(master) if master else None,
        "series_limit": expansion_limit(master) if master else None,
        "parent_event_id": parent_id,
        "attendees": event.attendees,
        "reminders": event.reminders,
        "provider_metadata": metadata,
        "html_link": safe_link(event.html_link),
        "last_synced_at": now,
        "deleted_at": None,
    }


def remote_from_row(row: CalendarEvent) -> RemoteEvent:
    """Our row as the provider-neutral value a push sends."""
    metadata = row.provider_metadata or {}
    original = metadata.get("original_start_time")
    return RemoteEvent(
        provider_event_id=row.provider_event_id, title=row.title, start_time=row.start_time, end_time=row.end_time,
        is_all_day=row.is_all_day, timezone=row.timezone, status=row.status.value, description=row.description,
        location=row.location, recurrence_rule=row.recurrence_rule,
        parent_provider_event_id=metadata.get("parent_provider_event_id"),
        original_start_time=datetime.fromisoformat(original) if original else None,
        attendees=row.attendees, reminders=row.reminders, html_link=row.html_link, etag=metadata.get("etag"),
        ical_uid=metadata.get("ical_uid"), sequence=metadata.get("sequence"),
        metadata={key: value for key, value in metadata.items() if key in PROVIDER_FACTS_SENT_BACK},
    )


LOCAL_CHANGES = (SyncStatus.PENDING, SyncStatus.FAILED)
LIVE_IDS_BATCH = 2000


# The pull's rows arrive by COPY into this session-local table, then go in with one INSERT … SELECT: far fewer
# round trips and far less parsing than a multi-row VALUES list. Emptied after each use, gone with the connection.
INCOMING = "incoming_events"
COPIED_COLUMNS = ("provider_event_id", *SYNCED_COLUMNS)
_JSON_COLUMNS = frozenset({"attendees", "reminders", "provider_metadata"})
_CREATE_INCOMING = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {INCOMING} AS "  # noqa: S608 - our own names only
                    f"SELECT {', '.join(COPIED_COLUMNS)} FROM calendar_events WITH NO DATA")
_COPY_INCOMING = f"COPY {INCOMING} ({', '.join(COPIED_COLUMNS)}) FROM STDIN"
_incoming = Table(INCOMING, MetaData(), *(Column(column.name, column.type) for column in
                                          CalendarEvent.__table__.c if column.name in COPIED_COLUMNS))


def _replaces(current, incoming):
    """When an incoming row overwrites the stored one: it changed (etag), was deleted here, or moved series — and
    never while a local change has not reached the provider yet (PENDING or FAILED): the pull records a conflict
    for those instead."""
    return and_(
        current.c.sync_status != SyncStatus.PENDING, current.c.sync_status != SyncStatus.FAILED,
        or_(
            current.c.provider_metadata["etag"].astext.is_distinct_from(incoming.provider_metadata["etag"].astext),
            current.c.deleted_at.is_not(None),
            current.c.parent_event_id.is_distinct_from(incoming.parent_event_id),
        ),
    )


def upsert_statement():
    """INSERT … SELECT from the incoming rows ON CONFLICT (connection, provider id) DO UPDATE, counting what it did.

    A row the stored version keeps is only probed in the unique index: the conflict clause's rule leaves it alone.
    (No anti-join on the stored rows before the INSERT: planned generically over a calendar still filling up, it
    compared each page with every row stored before it.)
    """
    table = CalendarEvent.__table__
    connection_id = bindparam("connection_id", type_=table.c.calendar_connection_id.type)
    stmt = insert(table).from_select(
        ("calendar_connection_id", *COPIED_COLUMNS),
        select(connection_id, *(_incoming.c[name] for name in COPIED_COLUMNS)))
    written = stmt.on_conflict_do_update(
        index_elements=[table.c.calendar_connection_id, table.c.provider_event_id],
        set_={column: stmt.excluded[column] for column in SYNCED_COLUMNS},
        where=_replaces(table, stmt.excluded),
    ).returning(literal_column("xmax = 0").label("inserted")).cte("written")
    return select(func.count().filter(written.c.inserted), func.count().filter(~written.c.inserted))


UPSERT = upsert_statement()


def _copy_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _JSON_COLUMNS:
        return Jsonb(value)
    return value.value if isinstance(value, enum.Enum) else value


def upsert_events(session: Session, connection_id: uuid.UUID, rows: list[dict]) -> tuple[int, int]:
    """Store rows made by `as_row` in the connection's calendar; returns (created, updated), unchanged rows
    counting as neither. A provider id listed twice keeps its last version."""
    if not rows:
        return 0, 0
    latest = {row["provider_event_id"]: row for row in rows}
    connection = session.connection()
    connection.exec_driver_sql(_CREATE_INCOMING)
    raw = connection.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(_COPY_INCOMING) as copy:
            for row in latest.values():
                copy.write_row([_copy_value(column, row[column]) for column in COPIED_COLUMNS])
    except psycopg.Error as error:
        # The same exception types a statement would raise, so callers handle one kind of refusal.
        raise DBAPIError.instance(_COPY_INCOMING, None, error, psycopg.Error) from error
    created, updated = session.execute(UPSERT, {"connection_id": connection_id}).one()
    session.execute(delete(_incoming))
    return created, updated


def ids_by_provider_id(session: Session, connection_id: uuid.UUID, provider_ids: set[str]) -> dict[str, uuid.UUID]:
    if not provider_ids:
        return {}
    return dict(session.execute(
        select(CalendarEvent.provider_event_id, CalendarEvent.id).where(
            CalendarEvent.calendar_connection_id == connection_id,
            CalendarEvent.provider_event_id.in_(provider_ids),
        )
    ).all())


def soft_delete(session: Session, connection_id: uuid.UUID, event_ids: list[uuid.UUID], now: datetime) -> int:
    """Mark events (and their overrides) deleted at the provider; returns how many were live. A local change
    that has not reached the provider is never among them."""
    if not event_ids:
        return 0
    result = session.execute(
        update(CalendarEvent)
        .where(
            CalendarEvent.calendar_connection_id == connection_id,
            CalendarEvent.deleted_at.is_(None),
            CalendarEvent.sync_status.not_in(LOCAL_CHANGES),
            or_(CalendarEvent.id.in_(bindparam("ids", expanding=True)),
                CalendarEvent.parent_event_id.in_(bindparam("ids", expanding=True))),
        )
        .values(deleted_at=now, sync_status=SyncStatus.DELETED),
        {"ids": event_ids},
    )
    return result.rowcount


def live_event_ids(session: Session, connection_id: uuid.UUID, *,
                   among: set[str] | None = None) -> Iterator[tuple[str, uuid.UUID]]:
    """(provider id, row id) of every live event a pull may delete (or of those `among` these provider ids): local
    changes not yet pushed excluded. Streamed from a server-side cursor: a calendar of any size is never held in
    memory at once."""
    if among is not None and not among:
        return iter(())
    query = select(CalendarEvent.provider_event_id, CalendarEvent.id).where(
        CalendarEvent.calendar_connection_id == connection_id,
        CalendarEvent.deleted_at.is_(None),
        CalendarEvent.sync_status.not_in(LOCAL_CHANGES),
    )
    if among is not None:
        query = query.where(CalendarEvent.provider_event_id.in_(among))
    return iter(session.execute(query.execution_options(yield_per=LIVE_IDS_BATCH)))


def local_changes(session: Session, connection_id: uuid.UUID, provider_ids: set[str]) -> list[CalendarEvent]:
    """The rows among these provider ids whose local change has not reached the provider (PENDING or FAILED)."""
    if not provider_ids:
        return []
    return list(session.scalars(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection_id,
        CalendarEvent.provider_event_id.in_(provider_ids),
        CalendarEvent.sync_status.in_(LOCAL_CHANGES),
    )))


def children_of(session: Session, parent_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    """(row id, provider id) of the live, synced overrides of these series."""
    if not parent_ids:
        return []
    return list(session.execute(
        select(CalendarEvent.id, CalendarEvent.provider_event_id).where(
            CalendarEvent.parent_event_id.in_(parent_ids), CalendarEvent.deleted_at.is_(None),
            CalendarEvent.sync_status.not_in(LOCAL_CHANGES),
        )
    ).all())
