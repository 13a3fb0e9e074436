"""Reading the audit log for admins: filters, keyset pages (newest first), rows for CSV, one entry in full.

Pages are keyed on (created_at, id) rather than OFFSET: page 500 costs the same index probe as page 1.
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, Table, literal, select, text, tuple_, union_all
from sqlalchemy.orm import Session

from webapp.models import AuditLog, AuditStatus, User
from webapp.models.maintenance import AuditLogArchive

PAGE_SIZE = 50
EXPORT_BATCH_SIZE = 1000
CSV_COLUMNS = ("created_at", "id", "user_email", "action", "status", "resource_type", "resource_id",
               "error_message", "ip_address", "user_agent", "metadata", "archived")
# A spreadsheet runs a cell starting with these as a formula; an exported audit row must never do that.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_CHARACTERS = 64_000


@dataclass(frozen=True)
class AuditFilters:
    email: str | None = None
    action: str | None = None
    status: AuditStatus | None = None
    resource_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    error_text: str | None = None
    include_archived: bool = False


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order: the (created_at, id) of a row."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor we made."""
        stamp, separator, row_id = value.partition("_")
        if not separator:
            raise ValueError("not a cursor")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("cursor without a time zone")
        return cls(created_at, uuid.UUID(row_id))


@dataclass(frozen=True)
class AuditRow:
    id: uuid.UUID
    created_at: datetime
    user_id: uuid.UUID | None
    user_email: str | None
    action: str
    status: AuditStatus
    resource_type: str | None
    resource_id: str | None
    error_message: str | None
    ip_address: str | None
    user_agent: str | None
    metadata: dict[str, Any] | None
    is_archived: bool

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at, self.id)

    @property
    def metadata_json(self) -> str:
        """Pretty-printed for the detail page; the template escapes it."""
        return json.dumps(self.metadata, indent=2, sort_keys=True, ensure_ascii=False) if self.metadata else ""


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    older: Cursor | None  # pass as `before` for the next page
    newer: Cursor | None  # pass as `after` for the previous page


def audit_page(
    session: Session,
    filters: AuditFilters,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page newest first: the rows older than `before`, or the rows just newer than `after`."""
    if after is not None:
        rows = _fetch(session, filters, after=after, limit=limit + 1)
        has_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return AuditPage(rows, older=rows[-1].cursor if rows else None, newer=rows[0].cursor if has_newer else None)
    rows = _fetch(session, filters, before=before, limit=limit + 1)
    has_older = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        rows,
        older=rows[-1].cursor if has_older else None,
        newer=rows[0].cursor if rows and before is not None else None,
    )


def iter_audit_rows(session: Session, filters: AuditFilters, batch_size: int = EXPORT_BATCH_SIZE) -> Iterator[AuditRow]:
    """Every matching row newest first, fetched in keyset batches so memory stays flat for any size."""
    before = None
    while True:
        rows = _fetch(session, filters, before=before, limit=batch_size)
        yield from rows
        if len(rows) < batch_size:
            return
        before = rows[-1].cursor


def csv_chunks(session: Session, filters: AuditFilters) -> Iterator[str]:
    """The matching rows as CSV text, a chunk at a time, for a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in iter_audit_rows(session, filters):
        writer.writerow(_csv_cells(row))
        if buffer.tell() > CSV_CHUNK_CHARACTERS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_cells(row: AuditRow) -> list[str]:
    cells = [row.created_at.isoformat(), str(row.id), row.user_email or "", row.action, row.status.value,
             row.resource_type or "", row.resource_id or "", row.error_message or "", row.ip_address or "",
             row.user_agent or "", json.dumps(row.metadata, sort_keys=True) if row.metadata else "",
             "yes" if row.is_archived else "no"]
    return ["'" + cell if cell.startswith(FORMULA_PREFIXES) else cell for cell in cells]


def find_entry(session: Session, entry_id: uuid.UUID) -> AuditRow | None:
    for table, is_archived in ((AuditLog.__table__, False), (AuditLogArchive.__table__, True)):
        row = session.execute(_columns(table, is_archived).where(table.c.id == entry_id)).mappings().first()
        if row is not None:
            return AuditRow(**row)
    return None


def known_actions(session: Session) -> list[str]:
    """Distinct actions for the filter's suggestions, one index probe per action (a loose index scan),
    so it stays fast however many rows share an action."""
    return list(
        session.scalars(
            text(
                "WITH RECURSIVE actions(action) AS ("
                " SELECT min(action) FROM audit_logs"
                " UNION ALL"
                " SELECT (SELECT min(action) FROM audit_logs WHERE action > actions.action)"
                " FROM actions WHERE actions.action IS NOT NULL)"
                " SELECT action FROM actions WHERE action IS NOT NULL"
            )
        )
    )


def _fetch(
    session: Session, filters: AuditFilters, *, before: Cursor | None = None, after: Cursor | None = None, limit: int
) -> list[AuditRow]:
    ascending = after is not None
    tables = [(AuditLog.__table__, False)]
    if filters.include_archived:
        tables.append((AuditLogArchive.__table__, True))
    parts = [_ordered(_filtered(table, is_archived, filters, before, after), table, ascending, limit)
             for table, is_archived in tables]
    if len(parts) == 1:
        statement = parts[0]
    else:
        # Each table walks its own (created_at, id) index; the union only merges two short lists.
        merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
        statement = _ordered(select(merged), merged, ascending, limit)
    return [AuditRow(**row) for row in session.execute(statement).mappings()]


def _columns(table: Table, is_archived: bool) -> Select:
    users = User.__table__
    return select(
        table.c.id,
        table.c.created_at,
        table.c.user_id,
        users.c.email.label("user_email"),
        table.c.action,
        table.c.status,
        table.c.resource_type,
        table.c.resource_id,
        table.c.error_message,
        table.c.ip_address,
        table.c.user_agent,
        table.c.metadata.label("metadata"),
        literal(is_archived).label("is_archived"),
    ).select_from(table.outerjoin(users, users.c.id == table.c.user_id))


def _filtered(
    table: Table, is_archived: bool, filters: AuditFilters, before: Cursor | None, after: Cursor | None
) -> Select:
    statement = _columns(table, is_archived)
    if filters.email:
        # Emails are stored lower-case (a check constraint).
        statement = statement.where(User.__table__.c.email.contains(filters.email.lower(), autoescape=True))
    if filters.action:
        statement = statement.where(table.c.action == filters.action)
    if filters.status:
        statement = statement.where(table.c.status == filters.status)
    if filters.resource_type:
        statement = statement.where(table.c.resource_type == filters.resource_type)
    if filters.date_from:
        statement = statement.where(table.c.created_at >= _start_of_day(filters.date_from))
    if filters.date_to:
        statement = statement.where(table.c.created_at <= _end_of_day(filters.date_to))
    if filters.error_text:
        statement = statement.where(table.c.error_message.icontains(filters.error_text, autoescape=True))
    position = tuple_(table.c.created_at, table.c.id)
    if before is not None:
        statement = statement.where(position < tuple_(literal(before.created_at), literal(before.id)))
    if after is not None:
        statement = statement.where(position > tuple_(literal(after.created_at), literal(after.id)))
    return statement


def _ordered(statement: Select, source, ascending: bool, limit: int) -> Select:
    """`source` is the table or the merged subquery whose columns the order refers to."""
    columns = source.c
    if ascending:
        return statement.order_by(columns.created_at.asc(), columns.id.asc()).limit(limit)
    return statement.order_by(columns.created_at.desc(), columns.id.desc()).limit(limit)


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _end_of_day(day: date) -> datetime:
    """The day's last representable instant: the next day's start does not exist after 9999-12-31."""
    return datetime.combine(day, time.max, UTC)
