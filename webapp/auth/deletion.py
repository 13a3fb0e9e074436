"""Deleting an account for good: by its owner (Settings → Your data), an admin, or `flask users delete`.

Everything of the account goes in one transaction: the user row, and with it (foreign keys, ON DELETE CASCADE)
its calendars, their events, sessions, private feed, OAuth states and reset links; a sign-up still waiting under
its email goes too. The provider grants are revoked after the commit (no transaction open meanwhile), best
effort: a provider that is down must not keep an account alive, and the failure is in the audit log.

The audit trail stays, unlinked from the account (user_id SET NULL), with one ACCOUNT_DELETE row that names the
account only by its former id. The trail keeps what happened and when; the addresses and browsers it was done
from are erased from the account's rows, so the only personal data left is the deletion request's own origin,
which the audit log keeps like every other row.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from webapp import audit
from webapp.admin.users import ensure_another_admin
from webapp.connections.service import Revocation, grant_of, revoke
from webapp.models import AuditLog, CalendarConnection, CalendarEvent, CalendarProvider, User
from webapp.models.accounts import SignupRequest
from webapp.models.maintenance import AuditLogArchive
from webapp.sync import watch


@dataclass(frozen=True)
class Deletion:
    user_id: uuid.UUID
    calendars: int
    events: int
    revocations: list[Revocation]  # to revoke once the deletion is committed (see finish_deletion)
    providers: frozenset[CalendarProvider]  # whose calendars were connected


def delete_account(session: Session, user: User, *, actor_id: uuid.UUID | None, via: str) -> Deletion:
    """Remove the account and everything it holds; the caller commits, then calls finish_deletion(). `actor_id` is
    the admin who did it (None for the owner or the console: the account itself will be gone). Raises LastAdmin
    for the last admin while other accounts remain: someone must be left to run the instance."""
    if session.scalar(select(User.id).where(User.id != user.id).limit(1)) is not None:
        ensure_another_admin(session, user.id)
    calendars = list(session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)))
    events = session.scalar(select(func.count()).select_from(CalendarEvent).where(
        CalendarEvent.calendar_connection_id.in_([calendar.id for calendar in calendars]))) if calendars else 0
    revocations = []
    accounts_seen = set()
    released: dict[tuple, list[uuid.UUID]] = {}
    for calendar in calendars:
        if calendar.deleted_at is None:
            # Kept (sealed, without the account) until they are stopped, before the grant is revoked.
            released.setdefault((calendar.provider, calendar.account_email), []).extend(
                watch.release(session, calendar, keep_token=True, account_leaves=True))
    for calendar in calendars:
        account = (calendar.provider, calendar.account_email)
        grant = grant_of(calendar) if calendar.deleted_at is None and account not in accounts_seen else None
        if grant is not None:
            accounts_seen.add(account)
            revocations.append(Revocation(None, grant.connection_id, grant.provider, grant.token,
                                          tuple(released.get(account, ()))))
    for table in (AuditLog, AuditLogArchive):
        session.execute(update(table).where(table.user_id == user.id).values(ip_address=None, user_agent=None))
    session.execute(delete(SignupRequest).where(SignupRequest.email == user.email))
    user_id = user.id
    session.execute(delete(User).where(User.id == user_id))
    session.expunge(user)
    audit.record(session, "ACCOUNT_DELETE", user_id=actor_id, resource=("user", user_id), via=via,
                 calendars=len(calendars), events=events, grants_to_revoke=len(revocations))
    session.flush()
    return Deletion(user_id, len(calendars), events, revocations,
                    frozenset(calendar.provider for calendar in calendars if calendar.deleted_at is None))


def finish_deletion(session: Session, deletion: Deletion) -> int:
    """Revoke the account's grants at their providers; returns how many failed (each has a TOKEN_REVOKE row)."""
    failed = sum(not revoke(session, revocation) for revocation in deletion.revocations)
    session.commit()
    return failed
