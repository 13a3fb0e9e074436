"""Provider credentials, for connecting and syncing alike: sealed on write, unsealed for use, refreshed before
expiry (storing the rotated refresh token at once), re-encrypted under new keys.

A refresh calls the provider's token endpoint, so it runs with no transaction open and no row locked. One
refresh per account at a time is kept by an advisory lock; a worker that waited for it finds the fresh token
the other one stored instead of refreshing again. Functions that call a provider end the caller's transaction.
"""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.crypto import UndecryptableSecret, binding, secret_box
from webapp.locks import advisory_lock
from webapp.models import (
    AuditStatus,
    CalendarConnection,
    CalendarProvider,
    CalendarSubscription,
    OAuthState,
    WatchChannel,
)
from webapp.providers import get_provider
from webapp.providers.base import (
    Credentials,
    FeedValidators,
    InvalidGrant,
    ProviderError,
    ProviderUnreachable,
    TokenSet,
)

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
# How long a worker waits for another one's refresh of the same account (a token call, well under this).
REFRESH_LOCK_WAIT_SECONDS = 45
UNDECRYPTABLE_REASON = "Almanac could not read the stored credentials (key missing or data altered). Reconnect."
REVOKED_REASON = "The provider no longer accepts Almanac's access (revoked or expired). Reconnect to resume syncing."
PASSWORD_REJECTED_REASON = "iCloud no longer accepts the app-specific password. Reconnect to resume syncing."  # noqa: S105
CALDAV_REJECTED_REASON = "The CalDAV server no longer accepts the password. Reconnect to resume syncing."  # noqa: S105
# Providers whose credential is a password sealed in access_token, sent with the account's user name.
PASSWORD_PROVIDERS = (CalendarProvider.APPLE, CalendarProvider.CALDAV)


class NeedsReconnect(Exception):
    """The connection cannot be used until the user connects again; the reason is stored on the row."""


def seal(row_id: uuid.UUID, table: str, column: str, value: str | None) -> str | None:
    return None if value is None else secret_box().encrypt(value, bound_to=binding(table, column, row_id))


def unseal(row_id: uuid.UUID, table: str, column: str, value: str | None) -> str | None:
    return None if value is None else secret_box().decrypt(value, bound_to=binding(table, column, row_id))


def store_tokens(connection: CalendarConnection, tokens: TokenSet) -> None:
    connection.access_token = seal(connection.id, "calendar_connections", "access_token", tokens.access_token)
    connection.refresh_token = seal(connection.id, "calendar_connections", "refresh_token", tokens.refresh_token)
    connection.token_expires_at = tokens.expires_at


def store_password(connection: CalendarConnection, password: str) -> None:
    """CalDAV has no tokens: the app-specific password is the credential, sealed like a token."""
    connection.access_token = seal(connection.id, "calendar_connections", "access_token", password)
    connection.refresh_token = None
    connection.token_expires_at = None


def mark_needs_reconnect(session: Session, connections: list[CalendarConnection], reason: str, kind: str) -> None:
    for connection in connections:
        connection.is_connected = False
        connection.disconnect_reason = reason
        audit.record(session, "CONNECTION_NEEDS_RECONNECT", user_id=connection.user_id,
                     resource=("calendar_connection", connection.id), status=AuditStatus.FAILURE, error=kind)
    session.flush()


def reject_access(session: Session, connection_id: uuid.UUID) -> NeedsReconnect:
    """The provider refused credentials that were just fresh (a new token, or the stored iCloud password): every
    calendar of the account needs a reconnect. Commits; returns the exception to raise."""
    connection = session.get(CalendarConnection, connection_id)
    reason = {CalendarProvider.APPLE: PASSWORD_REJECTED_REASON,
              CalendarProvider.CALDAV: CALDAV_REJECTED_REASON}.get(connection.provider, REVOKED_REASON)
    mark_needs_reconnect(session, account_rows(session, connection), reason, "auth_rejected")
    session.commit()
    return NeedsReconnect(reason)


def account_rows(session: Session, connection: CalendarConnection) -> list[CalendarConnection]:
    """Every live calendar row of the same provider account: they share one grant."""
    return list(session.scalars(
        select(CalendarConnection).where(
            CalendarConnection.user_id == connection.user_id,
            CalendarConnection.provider == connection.provider,
            CalendarConnection.account_email.is_not_distinct_from(connection.account_email),
            CalendarConnection.server_url.is_not_distinct_from(connection.server_url),
            CalendarConnection.deleted_at.is_(None),
        )
    ))


def account_lock_key(connection: CalendarConnection) -> str:
    return (f"credentials:{connection.user_id}:{connection.provider.value}:{connection.account_email or ''}"
            f":{connection.server_url or ''}")


def credentials_for(session: Session, connection_id: uuid.UUID, *, refresh_margin=REFRESH_MARGIN) -> Credentials:
    """Usable credentials for one connection, refreshed first when the access token expires within
    `refresh_margin`. Ends the caller's transaction: what comes next is a provider call."""
    connection = session.get(CalendarConnection, connection_id)
    if connection is None or not connection.is_connected:
        reason = connection.disconnect_reason if connection is not None else None
        session.rollback()
        raise NeedsReconnect(reason or "not connected")
    if connection.provider == CalendarProvider.ICS:  # no secret: the validators of the copy we have
        subscription = session.get(CalendarSubscription, connection.id)
        session.commit()
        return Credentials(validators=FeedValidators(subscription.etag, subscription.last_modified)
                           if subscription else None)
    try:
        secret = unseal(connection.id, "calendar_connections", "access_token", connection.access_token)
    except UndecryptableSecret:
        mark_needs_reconnect(session, [connection], UNDECRYPTABLE_REASON, "undecryptable_token")
        session.commit()
        raise NeedsReconnect(UNDECRYPTABLE_REASON) from None
    if connection.provider in PASSWORD_PROVIDERS:
        credentials = Credentials(username=connection.account_email, password=secret,
                                  server_url=connection.server_url)
        session.commit()
        return credentials
    expires = connection.token_expires_at
    session.commit()
    if expires is not None and expires <= datetime.now(UTC) + refresh_margin:
        return Credentials(access_token=refresh_account(session, connection_id, refresh_margin=refresh_margin))
    return Credentials(access_token=secret)


def refresh_account(session: Session, connection_id: uuid.UUID, *, refresh_margin=REFRESH_MARGIN,
                    rejected_access_token: str | None = None) -> str:
    """Refresh the account's grant and store the result (a rotated refresh token included) on every calendar row
    of the account, committed at once; returns the new access token.

    Without `rejected_access_token` the refresh is skipped when another worker already got a token that lasts
    past `refresh_margin`; with it, only when the stored token is no longer the one the provider rejected.
    """
    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        session.rollback()
        raise NeedsReconnect("not connected")
    lock_key = account_lock_key(connection)
    session.commit()
    with advisory_lock(lock_key, wait=REFRESH_LOCK_WAIT_SECONDS) as held:
        if not held:
            raise ProviderUnreachable("another refresh of this account did not finish in time")
        connection = session.get(CalendarConnection, connection_id, populate_existing=True)
        if not connection.is_connected:
            reason = connection.disconnect_reason
            session.rollback()
            raise NeedsReconnect(reason or "not connected")
        rows = account_rows(session, connection)
        try:
            current = unseal(connection.id, "calendar_connections", "access_token", connection.access_token)
            refresh_token = unseal(connection.id, "calendar_connections", "refresh_token", connection.refresh_token)
        except UndecryptableSecret:
            mark_needs_reconnect(session, rows, UNDECRYPTABLE_REASON, "undecryptable_token")
            session.commit()
            raise NeedsReconnect(UNDECRYPTABLE_REASON) from None
        if _already_refreshed(connection, current, refresh_margin, rejected_access_token):
            session.commit()
            return current
        if not refresh_token:
            mark_needs_reconnect(session, rows, REVOKED_REASON, "no_refresh_token")
            session.commit()
            raise NeedsReconnect(REVOKED_REASON)
        user_id, kind = connection.user_id, connection.provider
        session.commit()  # nothing is open or locked while the token endpoint answers
        try:
            with get_provider(kind) as provider:
                tokens = provider.refresh(refresh_token)
        except InvalidGrant:
            rows = account_rows(session, connection)
            mark_needs_reconnect(session, rows, REVOKED_REASON, "invalid_grant")
            audit.record(session, "TOKEN_REFRESH", user_id=user_id, status=AuditStatus.FAILURE,
                         error="invalid_grant", resource=("calendar_connection", connection_id), provider=kind.value)
            session.commit()
            raise NeedsReconnect(REVOKED_REASON) from None
        rows = account_rows(session, connection)
        for row in rows:
            store_tokens(row, tokens)
        session.commit()
    log.info("refreshed tokens connection_id=%s rows=%s", connection_id, len(rows))
    return tokens.access_token


def _already_refreshed(connection: CalendarConnection, current: str | None, refresh_margin: timedelta,
                       rejected_access_token: str | None) -> bool:
    if not current:
        return False
    if rejected_access_token is not None:
        return current != rejected_access_token
    expires = connection.token_expires_at
    return expires is not None and expires > datetime.now(UTC) + refresh_margin


def refresh_expiring(session: Session, window: timedelta) -> dict[str, int]:
    """The hourly job: refresh every account whose access token runs out within `window`, one account at a time
    (one dead grant does not stop the others)."""
    refreshed = failed = 0
    connection_ids = [connection.id for connection in connections_expiring_within(session, window)]
    session.commit()
    for connection_id in connection_ids:
        try:
            refresh_account(session, connection_id, refresh_margin=window)
            refreshed += 1
        except (NeedsReconnect, ProviderError) as failure:
            session.rollback()
            failed += 1
            log.warning("token refresh failed connection_id=%s kind=%s", connection_id,
                        getattr(failure, "kind", "needs_reconnect"))
    return {"refreshed": refreshed, "failed": failed}


ROTATION_BATCH = 200


def rotate_keys(session: Session, batch_size: int = ROTATION_BATCH) -> dict[str, int]:
    """Re-encrypt every stored secret under the current key, one committed batch at a time.

    Only rows still under another key are touched, so an interrupted run simply continues when run again.
    """
    box = secret_box()
    counts = {"rotated": 0, "undecryptable": 0}
    targets = (
        (CalendarConnection, "calendar_connections", ("access_token", "refresh_token")),
        (OAuthState, "oauth_states", ("code_verifier",)),
        (WatchChannel, "watch_channels", ("access_token",)),
    )
    for model, table, columns in targets:
        last_id = None
        while True:
            query = select(model).order_by(model.id).limit(batch_size).with_for_update(skip_locked=True)
            if last_id is not None:
                query = query.where(model.id > last_id)
            rows = list(session.scalars(query))
            if not rows:
                break
            for row in rows:
                _rotate_row(session, box, row, table, columns, counts)
            last_id = rows[-1].id
            session.commit()
    return counts


def _rotate_row(session, box, row, table: str, columns: tuple[str, ...], counts: dict[str, int]) -> None:
    for column in columns:
        stored = getattr(row, column)
        if stored is None or box.key_id_of(stored) == box.current_key_id:
            continue
        try:
            plaintext = box.decrypt(stored, bound_to=binding(table, column, row.id))
        except UndecryptableSecret:
            counts["undecryptable"] += 1
            if isinstance(row, CalendarConnection) and row.is_connected:
                mark_needs_reconnect(session, [row], UNDECRYPTABLE_REASON, "undecryptable_token")
            continue
        setattr(row, column, box.encrypt(plaintext, bound_to=binding(table, column, row.id)))
        counts["rotated"] += 1


def connections_expiring_within(session: Session, window: timedelta) -> list[CalendarConnection]:
    """One row per OAuth account whose access token runs out within `window` (rows of an account share it)."""
    rows = session.scalars(
        select(CalendarConnection)
        .where(CalendarConnection.is_connected.is_(True), CalendarConnection.deleted_at.is_(None),
               CalendarConnection.provider.not_in(PASSWORD_PROVIDERS + (CalendarProvider.ICS,)),
               CalendarConnection.token_expires_at < datetime.now(UTC) + window)
        .order_by(CalendarConnection.user_id, CalendarConnection.provider, CalendarConnection.account_email)
    ).all()
    by_account = {}
    for row in rows:
        by_account.setdefault((row.user_id, row.provider, row.account_email), row)
    return list(by_account.values())
