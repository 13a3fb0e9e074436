"""Taking an account back. Forgotten passwords: a single-use link, valid for 30 minutes, stored like a session
token (SHA-256 only). The request for a link only queues a job; the job looks the email up, so the answer and its
timing are the same whether or not an account exists. Using a link sets the password, and it and "sign out
everywhere else" end what someone else may still hold: the account's (other) sessions and its private feed address.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from webapp import audit
from webapp.auth.accounts import hash_password, normalise_email
from webapp.auth.sessions import hash_token, revoke_other_sessions
from webapp.feeds import tokens as feed_tokens
from webapp.mail import Message, public_url
from webapp.models import AuditStatus, LoginSession, PasswordReset, User


@dataclass(frozen=True)
class TakenBack:
    sessions_ended: int
    feed_revoked: bool


def create_reset_link(session: Session, user: User, *, minutes: int) -> str:
    """A fresh link for `user`; any earlier unused link stops working. Returns the URL (the token is in it)."""
    now = datetime.now(UTC)
    session.execute(delete(PasswordReset).where(
        (PasswordReset.user_id == user.id) | (PasswordReset.expires_at < now)))
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(user_id=user.id, token_hash=hash_token(token), created_at=now,
                              expires_at=now + timedelta(minutes=minutes)))
    session.flush()
    return public_url("auth.reset_password", token=token)


def reset_mail(session: Session, email: str, *, minutes: int, origin: dict | None = None) -> Message | None:
    """The mail for a "forgot password" request, with its audit row; None (and a FAILURE row) when the email
    has no account that may sign in."""
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        audit.record(session, "PASSWORD_RESET_REQUEST", user_id=user.id if user else None,
                     status=AuditStatus.FAILURE, error="unknown_email" if user is None else "account_inactive",
                     origin=origin, email=email)
        return None
    link = create_reset_link(session, user, minutes=minutes)
    audit.record(session, "PASSWORD_RESET_REQUEST", user_id=user.id, resource=("user", user.id), origin=origin)
    return Message(
        to=user.email,
        subject="Choose a new Almanac password",
        body=(f"Someone (probably you) asked to reset the password of the Almanac account for {user.email}.\n\n"
              f"Choose a new password here; the link works once, for {minutes} minutes:\n\n{link}\n\n"
              "If this was not you, ignore this mail: your password stays as it is."),
    )


def reset_user(session: Session, token: str) -> User | None:
    """Whose password an unused, unexpired link resets (for showing the form); None otherwise."""
    return session.scalar(
        select(User).join(PasswordReset, PasswordReset.user_id == User.id).where(
            PasswordReset.token_hash == hash_token(token), PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > datetime.now(UTC), User.deleted_at.is_(None), User.disabled_at.is_(None)))


def reset_password(session: Session, token: str, new_password: str) -> tuple[User, TakenBack] | None:
    """Use a link: mark it used (once, atomically), set the password, end every session of the account and its
    private feed address. Returns the user and what ended, or None when the link is unknown, used or expired."""
    # Hashed before any statement: argon2 is deliberately slow, and no transaction should wait on it.
    new_hash = hash_password(new_password)
    user_id = session.scalar(
        update(PasswordReset)
        .where(PasswordReset.token_hash == hash_token(token), PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > datetime.now(UTC))
        .values(used_at=datetime.now(UTC))
        .returning(PasswordReset.user_id))
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.is_active:
        return None
    user.password_hash = new_hash
    ended = session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)))
    revoked = feed_tokens.revoke(session, user.id, reason="password_reset")
    session.flush()
    return user, TakenBack(ended, revoked)


def sign_out_everywhere_else(session: Session, user_id: uuid.UUID, keep_session_id: uuid.UUID) -> TakenBack:
    ended = revoke_other_sessions(session, user_id, keep_session_id)
    return TakenBack(ended, feed_tokens.revoke(session, user_id, reason="signed_out_everywhere"))
