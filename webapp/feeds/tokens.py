"""The private feed address: one per user, a random token in the URL and only its hash in the table."""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from webapp import audit
from webapp.auth.sessions import hash_token
from webapp.models import CalendarFeed, User

# Writing last_used_at on every poll would turn each phone's poll into a write.
LAST_USED_PRECISION = timedelta(hours=1)


FULL, BUSY = "full", "busy"
VARIANTS = (FULL, BUSY)


def user_feed(session: Session, user_id: uuid.UUID, variant: str = FULL) -> CalendarFeed | None:
    return session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user_id, CalendarFeed.variant == variant))


def issue_token(session: Session, user_id: uuid.UUID, now: datetime, variant: str = FULL) -> str:
    """A new address of this variant for the user, replacing any earlier one of it (which stops working with this
    commit); the other variant's address is left as it is."""
    token = secrets.token_urlsafe(32)
    stmt = insert(CalendarFeed).values(user_id=user_id, variant=variant, token_hash=hash_token(token), created_at=now,
                                       changed_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[CalendarFeed.user_id, CalendarFeed.variant],
        set_={"token_hash": stmt.excluded.token_hash, "created_at": now, "changed_at": now, "last_used_at": None},
    ))
    session.expire_all()
    return token


def set_include_attendees(session: Session, feed: CalendarFeed, include: bool, now: datetime) -> None:
    if feed.include_attendees != include:
        feed.include_attendees = include
        feed.changed_at = now
        session.flush()


def turn_off(session: Session, user_id: uuid.UUID, variant: str | None = None) -> bool:
    """End the user's address of `variant`, or (None) every address of the user."""
    condition = [CalendarFeed.variant == variant] if variant else []
    return session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id, *condition)).rowcount > 0


def revoke(session: Session, user_id: uuid.UUID, *, reason: str) -> bool:
    """End the address when the account is taken back (a password reset, signing out everywhere else): it reads
    the calendar without any session, so whoever copied it meanwhile would keep reading. True when there was one;
    its audit row says why, never which address."""
    if not turn_off(session, user_id):
        return False
    audit.record(session, "FEED_REVOKE", user_id=user_id, resource=("user", user_id), reason=reason)
    return True


def feed_for_token(session: Session, token: str) -> CalendarFeed | None:
    """The feed a URL names, if its owner can still sign in."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(CalendarFeed).join(User, User.id == CalendarFeed.user_id).where(
            CalendarFeed.token_hash == hash_token(token), User.deleted_at.is_(None), User.disabled_at.is_(None))
    )


def note_use(session: Session, feed: CalendarFeed, now: datetime) -> None:
    if feed.last_used_at is None or now - feed.last_used_at >= LAST_USED_PRECISION:
        feed.last_used_at = now
        session.flush()
