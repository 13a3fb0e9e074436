"""Accounts: registration and password checks."""
from __future__ import annotations

import functools

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.models import User


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
    """Create the account (the password arrives hashed: it was typed when the sign-up link was asked for)."""
    email = normalise_email(email)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=password_hash,
        first_name=(first_name or "").strip() or None,
        last_name=(last_name or "").strip() or None,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race for the unique email
        raise EmailTaken(email) from exc
    return user


def authenticate(session: Session, email: str, password: str) -> tuple[User | None, str]:
    """The user and "ok", or None and the kind of failure (for the audit row, never shown).

    The lookup's read transaction ends before the password check: argon2 is deliberately slow, and a burst of
    sign-ins must not hold transactions (and pooled connections) open while it runs. Nothing is pending then:
    the caller has written nothing yet."""
    found = session.execute(
        select(User.id, User.password_hash).where(User.email == normalise_email(email))
    ).one_or_none()
    session.rollback()
    if found is None:
        _verify(_dummy_hash(_hasher()), password)
        return None, "unknown_email"
    if not _verify(found.password_hash, password):
        return None, "wrong_password"
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
