"""Registration by mailed link. The request only stores what was typed (the password already hashed) and queues a
job; the job decides, with no one timing it, whether the address gets a link or a "you already have an account"
note. So the page, and the time it takes, are the same whether or not the email has an account, and an account
exists only once its owner opened the link."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from webapp.auth.accounts import hash_password, normalise_email, register_user
from webapp.auth.sessions import hash_token
from webapp.mail import Message, public_url
from webapp.models import SignupRequest, User

SIGNUP_LINK_LIFETIME = timedelta(hours=24)


def request_signup(session: Session, *, email: str, password: str, first_name: str | None,
                   last_name: str | None) -> SignupRequest:
    row = SignupRequest(
        email=normalise_email(email),
        password_hash=hash_password(password),
        first_name=(first_name or "").strip() or None,
        last_name=(last_name or "").strip() or None,
        expires_at=datetime.now(UTC) + SIGNUP_LINK_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row


def signup_mail(session: Session, signup_id: uuid.UUID) -> Message | None:
    """The mail for a stored registration (a new link each time, so a retried job leaves one working link);
    None when it was used or has expired. Also clears out expired registrations."""
    now = datetime.now(UTC)
    session.execute(delete(SignupRequest).where(SignupRequest.expires_at < now))
    row = session.get(SignupRequest, signup_id)
    if row is None or row.used_at is not None:
        return None
    if session.scalar(select(func.count()).select_from(User).where(User.email == row.email)):
        session.delete(row)
        return Message(
            to=row.email,
            subject="You already have an Almanac account",
            body=(f"Someone (probably you) tried to create an Almanac account for {row.email}, "
                  "but this address already has one.\n\n"
                  f"Log in: {public_url('auth.login')}\n"
                  f"Forgot your password? Choose a new one: {public_url('auth.forgot_password')}\n\n"
                  "If this was not you, you can ignore this mail; nothing was changed."),
        )
    token = secrets.token_urlsafe(32)
    row.token_hash = hash_token(token)
    return Message(
        to=row.email,
        subject="Finish creating your Almanac account",
        body=(f"Open this link within 24 hours to finish creating your Almanac account:\n\n"
              f"{public_url('auth.confirm_signup', token=token)}\n\n"
              "If you did not ask for an account, ignore this mail and none will be created."),
    )


def pending_signup(session: Session, token: str) -> SignupRequest | None:
    return session.scalar(select(SignupRequest).where(
        SignupRequest.token_hash == hash_token(token), SignupRequest.used_at.is_(None),
        SignupRequest.expires_at > datetime.now(UTC)))


def complete_signup(session: Session, token: str) -> User | None:
    """Create the account from a link, once. None when the link is unknown, used or expired; raises EmailTaken
    when the address got an account in the meantime (another link, or an admin)."""
    row = session.execute(
        update(SignupRequest)
        .where(SignupRequest.token_hash == hash_token(token), SignupRequest.used_at.is_(None),
               SignupRequest.expires_at > datetime.now(UTC))
        .values(used_at=datetime.now(UTC))
        .returning(SignupRequest.email, SignupRequest.password_hash, SignupRequest.first_name,
                   SignupRequest.last_name)
    ).first()
    if row is None:
        return None
    return register_user(session, email=row.email, password_hash=row.password_hash, first_name=row.first_name,
                         last_name=row.last_name)
