"""Invitations: a single-use link an admin makes for one email, valid for 7 days; only a SHA-256 of its token is
stored. Opening it lets that person choose a password and creates the account at once: the admin vouched for the
address, and the link reaches them however the admin sends it, so no mail server is needed. Only the newest
invitation of an email works. Times come in as `now`, so tests move the clock instead of waiting."""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from webapp.auth.accounts import EmailTaken, normalise_email, register_user
from webapp.auth.sessions import hash_token
from webapp.mail import public_url
from webapp.models import Invitation, User

INVITATION_LIFETIME = timedelta(days=7)


def create_invitation(session: Session, email: str, *, invited_by: uuid.UUID | None,
                      now: datetime) -> tuple[Invitation, str]:
    """A new invitation and its link (the only place the token ever appears). Earlier unused invitations of the
    email, and every expired one, stop working. Raises EmailTaken when the email already has an account."""
    email = normalise_email(email)
    if session.scalar(select(exists().where(User.email == email))):
        raise EmailTaken(email)
    session.execute(delete(Invitation).where(
        ((Invitation.email == email) & Invitation.used_at.is_(None)) | (Invitation.expires_at <= now)))
    token = secrets.token_urlsafe(32)
    invitation = Invitation(email=email, token_hash=hash_token(token), invited_by_id=invited_by, created_at=now,
                            expires_at=now + INVITATION_LIFETIME)
    session.add(invitation)
    session.flush()
    return invitation, public_url("auth.accept_invitation", token=token)


def invitation_for(session: Session, token: str, *, now: datetime) -> Invitation | None:
    """The invitation a link stands for while it can still be used, else None."""
    return session.scalar(select(Invitation).where(
        Invitation.token_hash == hash_token(token), Invitation.used_at.is_(None), Invitation.expires_at > now))


def accept_invitation(session: Session, token: str, *, password_hash: str, first_name: str | None,
                      last_name: str | None, now: datetime) -> tuple[User, uuid.UUID] | None:
    """Use the link, once (atomically), and create its account. Returns the user and the invitation's id; None when
    the link is unknown, used or expired. Raises EmailTaken when the email got an account in the meantime."""
    row = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == hash_token(token), Invitation.used_at.is_(None), Invitation.expires_at > now)
        .values(used_at=now)
        .returning(Invitation.id, Invitation.email)
    ).first()
    if row is None:
        return None
    user = register_user(session, email=row.email, password_hash=password_hash, first_name=first_name,
                         last_name=last_name)
    return user, row.id
