"""Settings → Your data: everything Almanac holds about an account, as one zip to download.

- `calendars/<name>.ics`: each calendar with its whole history, series with their overrides, guests included
  (the private feed's writer, without its window);
- `account.json`: the profile, settings and calendars (names, colours, providers, accounts; never a token);
- `audit-log.json`: every audit row about the account, the archived ones included;
- `README.txt`: what the files are.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from webapp.calendar.queries import user_calendars
from webapp.feeds.ical import export_calendar
from webapp.models import AuditLog, CalendarConnection, User
from webapp.models.maintenance import AuditLogArchive

README = """Your data from Almanac, as of {now}.

calendars/   one iCalendar file per calendar: every event Almanac holds, its whole history. Any calendar app
             can import them.
account.json your profile, your settings and your calendars (which provider and account each comes from).
             Sign-in secrets and provider tokens are not included.
audit-log.json  what Almanac recorded about your account: sign-ins, syncs, changes, with when and from where.
"""


def export_archive(session: Session, user: User, now: datetime) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(now=now.isoformat(timespec="seconds")))
        taken: set[str] = set()
        for calendar in user_calendars(session, user.id):
            archive.writestr(f"calendars/{_file_name(calendar.name, taken)}.ics",
                             export_calendar(session, calendar, user.time_zone, now))
        archive.writestr("account.json", _json(_account(session, user)))
        archive.writestr("audit-log.json", _json(_audit_rows(session, user)))
    return buffer.getvalue()


def _file_name(name: str, taken: set[str]) -> str:
    """A file name from a calendar's name: letters, digits, spaces, dots and dashes; never twice the same."""
    base = re.sub(r"[^\w .-]+", "_", name).strip(" ._")[:80] or "calendar"
    candidate, number = base, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{base} ({number})"
    taken.add(candidate.lower())
    return candidate


def _account(session: Session, user: User) -> dict:
    calendars = session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id, CalendarConnection.deleted_at.is_(None),
    ).order_by(CalendarConnection.provider, CalendarConnection.calendar_name))
    return {
        "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "created_at": user.created_at, "time_zone": user.time_zone, "week_start": user.week_start,
        "working_hours": {"from_minute": user.work_day_start, "until_minute": user.work_day_end},
        "mark_double_bookings": user.mark_double_bookings, "is_admin": user.is_admin,
        "calendars": [{
            "name": calendar.calendar_name, "provider": calendar.provider.value, "account": calendar.account_email,
            "colour": calendar.calendar_color, "primary": calendar.is_primary, "shown": calendar.is_visible,
            "connected": calendar.is_connected, "last_synced_at": calendar.last_synced_at,
        } for calendar in calendars],
    }


def _audit_rows(session: Session, user: User) -> list[dict]:
    columns = ("created_at", "action", "status", "resource_type", "resource_id", "error_message", "ip_address",
               "user_agent")
    live, archived = (select(*(getattr(table, name) for name in columns), table.metadata_.label("details"))
                      .where(table.user_id == user.id) for table in (AuditLog, AuditLogArchive))
    rows = session.execute(union_all(live, archived).order_by("created_at")).mappings()
    return [{**row, "status": row["status"].value} for row in rows]


def _json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=lambda item: item.isoformat())
