"""Accounts: registration and password checks."""
from __future__ import annotations

import functools
from datetime import UTC, datetime

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp import audit
from webapp.config import Config
from webapp.models import SignupRequest, User

# pg_advisory_xact_lock key that makes "is this the first account?" and its insert one step.
FIRST_ACCOUNT_LOCK = 24_001


def _hasher() -> PasswordHasher:
    """argon2id with the app's profile (ARGON2_PROFILE); outside an app, the production default."""
    name = current_app.config["ARGON2_PROFILE"] if has_app_context() else Config.ARGON2_PROFILE
    return hasher_for_profile(name)


@functools.cache
def hasher_for_profile(profile: str) -> PasswordHasher:
    """argon2id at one of argon2.profiles' named costs."""
    return PasswordHasher.from_parameters(getattr(profiles, profile))


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the email is unknown, so both failures take the same time. Made on first use:
    nothing is hashed at import time."""
    return hasher.hash("almanac-timing-equaliser")


class EmailTaken(Exception):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def register_user(
    session: Session, *, email: str, password_hash: str, first_name: str | None = None, last_name: str | None = None
) -> User:
    """Create the account (the password arrives hashed: it was typed when the sign-up link was asked for). The first
    account of an empty instance is its admin: someone has to be, and nobody else is there to say who."""
    email = normalise_email(email)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise EmailTaken(email)
    first = is_empty_instance(session, lock=True)
    user = User(
        email=email,
        password_hash=password_hash,
        first_name=(first_name or "").strip() or None,
        last_name=(last_name or "").strip() or None,
        is_admin=first,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race for the unique email
        raise EmailTaken(email) from exc
    if first:
        audit.record(session, "ADMIN_GRANT", user_id=user.id, resource=("user", user.id), reason="first_account")
    return user


def is_empty_instance(session: Session, *, lock: bool = False) -> bool:
    """No account at all yet. With `lock`, a True answer holds until the transaction ends: two first sign-ups at the
    same moment cannot both become admin."""
    if session.scalar(select(exists().select_from(User))):
        return False
    if not lock:
        return True
    session.execute(select(func.pg_advisory_xact_lock(FIRST_ACCOUNT_LOCK)))
    return not session.scalar(select(exists().select_from(User)))


def authenticate(session: Session, email: str, password: str, *,
                 pending_signups: bool = False) -> tuple[User | None, str]:
    """The user and "ok", or None and the kind of failure (for the audit row; only "signup_pending" is shown).

    With `pending_signups`, a failed password is also tried against the newest sign-up of the email still waiting
    for its link: "signup_pending" when it matches. That second check runs after every failure, whether or not the
    email has an account (a sign-up for a taken email waits like any other; its mail says so), so the answer and its
    time say nothing about which emails have accounts, only that the caller knows the password they registered with.

    The lookup's read transaction ends before the password check: argon2 is deliberately slow, and a burst of
    sign-ins must not hold transactions (and pooled connections) open while it runs. Nothing is pending then:
    the caller has written nothing yet."""
    email = normalise_email(email)
    found = session.execute(select(User.id, User.password_hash).where(User.email == email)).one_or_none()
    pending_hash = session.scalar(
        select(SignupRequest.password_hash)
        .where(SignupRequest.email == email, SignupRequest.used_at.is_(None),
               SignupRequest.expires_at > datetime.now(UTC))
        .order_by(SignupRequest.created_at.desc()).limit(1)
    ) if pending_signups else None
    session.rollback()
    dummy = _dummy_hash(_hasher())
    if not (_verify(found.password_hash if found else dummy, password) and found is not None):
        if pending_signups and _verify(pending_hash or dummy, password) and pending_hash:
            return None, "signup_pending"
        return None, "unknown_email" if found is None else "wrong_password"
    user = session.get(User, found.id)
    if user is None:  # deleted for good while we hashed
        return None, "unknown_email"
    if user.deleted_at is not None:
        return None, "account_deleted"
    if user.disabled_at is not None:
        return None, "account_disabled"
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user, "ok"


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the account's own (for actions that ask for it again, such as deleting it)."""
    return _verify(user.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
