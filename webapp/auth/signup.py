"""Registration by mailed link. The request only stores what was typed (the password already hashed) and queues a
job; the job decides, with no one timing it, whether the address gets a link or a "you already have an account"
note. So the page, and the time it takes, are the same whether or not the email has an account, and an account
exists only once its owner opened the link.

A registration waits (until it is used or expires) whether or not its email has an account: signing in with its
password says "open the link we mailed" either way, and may ask for the mail again (`resend_token`)."""
from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from webapp.auth.accounts import hash_password, normalise_email, register_user
from webapp.auth.sessions import hash_token
from webapp.mail import Message, public_url
from webapp.models import SignupRequest, User

SIGNUP_LINK_LIFETIME = timedelta(hours=24)
# How long the "send the link again" button on the sign-in page keeps working.
RESEND_TOKEN_SECONDS = 30 * 60


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
        row.token_hash = None
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


def newest_pending_signup(session: Session, email: str, *, now: datetime) -> SignupRequest | None:
    return session.scalar(
        select(SignupRequest)
        .where(SignupRequest.email == normalise_email(email), SignupRequest.used_at.is_(None),
               SignupRequest.expires_at > now)
        .order_by(SignupRequest.created_at.desc()).limit(1))


def renew_pending_signup(session: Session, email: str, *, now: datetime) -> SignupRequest | None:
    """The email's newest waiting registration, good for another SIGNUP_LINK_LIFETIME (its next mail carries a new
    link); None when none is waiting any more."""
    row = newest_pending_signup(session, email, now=now)
    if row is not None:
        row.expires_at = now + SIGNUP_LINK_LIFETIME
        session.flush()
    return row


def _resend_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="almanac-signup-resend")


def resend_token(secret_key: str, email: str) -> str:
    """Handed out only to someone who just typed the registration's password: it lets them ask for the mail again."""
    return _resend_serializer(secret_key).dumps(normalise_email(email))


def email_for_resend(secret_key: str, token: str) -> str | None:
    try:
        return _resend_serializer(secret_key).loads(token, max_age=RESEND_TOKEN_SECONDS)
    except BadSignature:
        return None
