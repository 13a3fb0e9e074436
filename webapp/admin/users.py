"""Accounts as admins see them: the searchable list, disable and re-enable, granting and revoking admin rights.
The admin pages and `flask users …` both act through these."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session as DbSession

from webapp.feeds import tokens as feed_tokens
from webapp.models import AuditLog, AuditStatus, CalendarConnection, Session, User

PAGE_SIZE = 50


class LastAdmin(Exception):
    """The change would leave no admin who can sign in."""


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    is_admin: bool
    disabled_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime
    connection_count: int
    # From the audit log, so "none" once the last login has been archived (after 90 days).
    last_login_at: datetime | None

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.email


@dataclass(frozen=True)
class UserPage:
    rows: list[UserRow]
    next_after: str | None  # the last email on this page, when there are more


def list_users(session: DbSession, search: str | None = None, after: str | None = None,
               limit: int = PAGE_SIZE) -> UserPage:
    """Users by email, `limit` at a time after the email `after`; `search` matches email or name."""
    statement = _user_rows().order_by(User.email).limit(limit + 1)
    if search:
        statement = statement.where(
            or_(*(column.icontains(search.strip(), autoescape=True)
                  for column in (User.email, User.first_name, User.last_name)))
        )
    if after:
        statement = statement.where(User.email > after)
    rows = [UserRow(**row) for row in session.execute(statement).mappings()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(rows, next_after=rows[-1].email if has_more else None)


def user_row(session: DbSession, user_id: uuid.UUID) -> UserRow | None:
    row = session.execute(_user_rows().where(User.id == user_id)).mappings().first()
    return UserRow(**row) if row else None


def disable_user(session: DbSession, user: User, *, now: datetime) -> int:
    """Block the account and end its sessions and private feed address at once (the feed reads the calendar without
    a session); returns how many sessions ended. Idempotent. Raises LastAdmin for the last admin who can sign in."""
    require_another_admin(session, user)
    if user.disabled_at is None:
        user.disabled_at = now
    ended = session.execute(delete(Session).where(Session.user_id == user.id)).rowcount
    feed_tokens.revoke(session, user.id, reason="account_disabled")
    session.flush()
    return ended


def enable_user(session: DbSession, user: User) -> None:
    user.disabled_at = None
    session.flush()


def find_by_email(session: DbSession, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def grant_admin(session: DbSession, user: User) -> bool:
    """Make the user an admin; False when they already were."""
    if user.is_admin:
        return False
    user.is_admin = True
    session.flush()
    return True


def revoke_admin(session: DbSession, user: User) -> bool:
    """Take the user's admin rights away; False when they had none. Raises LastAdmin for the last admin who can
    sign in."""
    if not user.is_admin:
        return False
    require_another_admin(session, user)
    user.is_admin = False
    session.flush()
    return True


def require_another_admin(session: DbSession, user: User) -> None:
    """Raises LastAdmin when `user` is the last admin who can sign in."""
    if not (user.is_admin and user.is_active):
        return
    # The admins' rows stay locked until commit, so two revocations at once cannot each count the other.
    admins = session.scalars(select(User.id).where(
        User.is_admin, User.disabled_at.is_(None), User.deleted_at.is_(None)).with_for_update()).all()
    if not set(admins) - {user.id}:
        raise LastAdmin(user.email)


def _user_rows():
    # Correlated subqueries: one statement for the page, whatever its length (no query per row).
    connection_count = (
        select(func.count())
        .where(CalendarConnection.user_id == User.id, CalendarConnection.deleted_at.is_(None))
        .scalar_subquery()
    )
    last_login = (
        select(func.max(AuditLog.created_at))
        .where(AuditLog.user_id == User.id, AuditLog.action == "USER_LOGIN", AuditLog.status == AuditStatus.SUCCESS)
        .scalar_subquery()
    )
    return select(
        User.id,
        User.email,
        User.first_name,
        User.last_name,
        User.is_admin,
        User.disabled_at,
        User.deleted_at,
        User.created_at,
        connection_count.label("connection_count"),
        last_login.label("last_login_at"),
    )
