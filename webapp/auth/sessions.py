"""Database-backed login sessions: the cookie holds a random token, the table only its SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.models import LoginSession, User

COOKIE_NAME = "almanac_session"
# Writing last_seen_at on every request would turn each page view into a write; this is precise enough
# for a 14-day idle limit.
LAST_SEEN_PRECISION = timedelta(minutes=5)


def login_cookie_name() -> str:
    """`__Host-almanac_session` over HTTPS (FORCE_HTTPS), else `almanac_session`."""
    return current_app.config["COOKIE_PREFIX"] + COOKIE_NAME


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def start_session(
    db: Session, user: User, *, absolute_days: int, user_agent: str | None, ip_address: str | None
) -> str:
    """Create a session row and return the token for the cookie (32 random bytes = 256 bits)."""
    token = secrets.token_urlsafe(32)
    current = now()
    db.add(
        LoginSession(
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=current,
            last_seen_at=current,
            expires_at=current + timedelta(days=absolute_days),
            user_agent=(user_agent or "")[:1000] or None,
            ip_address=ip_address,
        )
    )
    db.flush()
    return token


def load_session(db: Session, token: str, *, idle_days: int) -> tuple[LoginSession, User] | None:
    """The live session for a cookie token and its user (one query), or None: unknown, expired, idle too long, or
    its user gone or disabled."""
    current = now()
    row = db.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(
            LoginSession.token_hash == hash_token(token),
            LoginSession.expires_at > current,
            LoginSession.last_seen_at > current - timedelta(days=idle_days),
            User.deleted_at.is_(None),
            User.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    session, user = row
    if current - session.last_seen_at > LAST_SEEN_PRECISION:
        session.last_seen_at = current
    return session, user


def active_sessions(db: Session, user_id: uuid.UUID, *, idle_days: int) -> list[LoginSession]:
    current = now()
    return list(
        db.scalars(
            select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.expires_at > current,
                LoginSession.last_seen_at > current - timedelta(days=idle_days),
            )
            .order_by(LoginSession.last_seen_at.desc())
        )
    )


def end_session(db: Session, session_id: uuid.UUID) -> None:
    db.execute(delete(LoginSession).where(LoginSession.id == session_id))


def revoke_session(db: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Delete one of the user's sessions; False when it is not theirs or already gone."""
    result = db.execute(delete(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user_id))
    return result.rowcount == 1


def revoke_other_sessions(db: Session, user_id: uuid.UUID, keep_session_id: uuid.UUID) -> int:
    result = db.execute(delete(LoginSession).where(LoginSession.user_id == user_id, LoginSession.id != keep_session_id))
    return result.rowcount


def describe_device(user_agent: str | None) -> str:
    """A short "Browser on OS" label; good enough to recognise one's own devices."""
    ua = user_agent or ""
    browser = next(
        (name for marker, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                   ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))
         if marker in ua),
        "Unknown browser",
    )
    system = next(
        (name for marker, name in (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
                                   ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                   ("Linux", "Linux"))
         if marker in ua),
        "unknown system",
    )
    return f"{browser} on {system}"


def delete_expired_sessions(db: Session, *, idle_days: int) -> int:
    current = now()
    result = db.execute(
        delete(LoginSession).where(
            (LoginSession.expires_at <= current) | (LoginSession.last_seen_at <= current - timedelta(days=idle_days))
        )
    )
    return result.rowcount
