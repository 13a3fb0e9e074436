"""Accounts as admins see them: the searchable list, disable and re-enable, granting and revoking admin rights.
The admin pages and `flask users …` both act through these.

The list pages by email (unique, so the order is total): a page is "the next `limit` emails after this one" (or
before it), which stays right while accounts come and go, unlike an OFFSET."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from webapp.feeds import tokens as feed_tokens
from webapp.models import AuditLog, AuditStatus, CalendarConnection, LoginSession, User

PAGE_SIZE = 50
# Audit actions that start a session: a sign-in, and the sign-ins that finish a registration or a password reset.
SIGN_IN_ACTIONS = ("USER_LOGIN", "USER_REGISTER", "PASSWORD_RESET")


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
    next_after: str | None  # the last email on this page, when there are more after it
    previous_before: str | None  # the first email on this page, when there are more before it


def list_users(session: Session, search: str | None = None, after: str | None = None, before: str | None = None,
               limit: int = PAGE_SIZE) -> UserPage:
    """Users by email, `limit` at a time: those after the email `after`, or just before the email `before` (for
    the previous page); `search` matches email or name."""
    statement = _user_rows().limit(limit + 1)
    if search:
        statement = statement.where(
            or_(*(column.icontains(search.strip(), autoescape=True)
                  for column in (User.email, User.first_name, User.last_name)))
        )
    if before:
        statement = statement.where(User.email < before).order_by(User.email.desc())
    else:
        statement = statement.where(User.email > after) if after else statement
        statement = statement.order_by(User.email)
    rows = [UserRow(**row) for row in session.execute(statement).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
        return UserPage(rows, next_after=rows[-1].email if rows else None,
                        previous_before=rows[0].email if more else None)
    return UserPage(rows, next_after=rows[-1].email if more else None,
                    previous_before=rows[0].email if after and rows else None)


def user_row(session: Session, user_id: uuid.UUID) -> UserRow | None:
    row = session.execute(_user_rows().where(User.id == user_id)).mappings().first()
    return UserRow(**row) if row else None


def disable_user(session: Session, user: User, *, now: datetime) -> int:
    """Block the account and end at once what it could still use: its sessions and its private feed address (which
    would read the calendar again the moment the account is enabled). Returns how many sessions ended. Idempotent.
    Raises LastAdmin for the last admin who can sign in."""
    ensure_another_admin(session, user.id)
    if user.disabled_at is None:
        user.disabled_at = now
    ended = session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    feed_tokens.revoke(session, user.id, reason="account_disabled")
    session.flush()
    return ended


def enable_user(session: Session, user: User) -> None:
    user.disabled_at = None
    session.flush()


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def grant_admin(session: Session, user: User) -> bool:
    """Make the user an admin; False when they already were."""
    if user.is_admin:
        return False
    user.is_admin = True
    session.flush()
    return True


def revoke_admin(session: Session, user: User) -> bool:
    """Take the admin rights back; False when the user had none. Raises LastAdmin rather than leave nobody."""
    if not user.is_admin:
        return False
    ensure_another_admin(session, user.id)
    user.is_admin = False
    session.flush()
    return True


def is_last_admin(session: Session, user_id: uuid.UUID) -> bool:
    """Whether this account is the only admin who can sign in (for showing the refusal before anyone asks)."""
    return _active_admins(session) == [user_id]


def ensure_another_admin(session: Session, user_id: uuid.UUID) -> None:
    """Raises LastAdmin when `user_id` is the only admin who can sign in. Locks the admins' rows until the
    transaction ends, so two admins revoking each other at the same moment cannot both succeed."""
    if _active_admins(session, lock=True) == [user_id]:
        raise LastAdmin(user_id)


def _active_admins(session: Session, *, lock: bool = False) -> list[uuid.UUID]:
    statement = select(User.id).where(User.is_admin, User.disabled_at.is_(None), User.deleted_at.is_(None))
    return list(session.scalars(statement.order_by(User.id).with_for_update() if lock else statement))


def _user_rows():
    # Correlated subqueries: one statement for the page, whatever its length (no query per row).
    connection_count = (
        select(func.count())
        .where(CalendarConnection.user_id == User.id, CalendarConnection.deleted_at.is_(None))
        .scalar_subquery()
    )
    last_login = (
        select(func.max(AuditLog.created_at))
        .where(AuditLog.user_id == User.id, AuditLog.action.in_(SIGN_IN_ACTIONS),
               AuditLog.status == AuditStatus.SUCCESS)
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
