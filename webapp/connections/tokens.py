"""Provider secrets on connection rows: encrypt on write, decrypt on use, refresh before expiry, rotate keys."""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.crypto import UndecryptableSecret, binding, secret_box
from webapp.models import AuditStatus, CalendarConnection, CalendarProvider, OAuthState
from webapp.providers import get_provider
from webapp.providers.base import Credentials, InvalidGrant, TokenSet

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
UNDECRYPTABLE_REASON = "Almanac could not read the stored credentials (key missing or data altered). Reconnect."
REVOKED_REASON = "The provider no longer accepts Almanac's access (revoked or expired). Reconnect to resume syncing."


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


def account_rows(session: Session, connection: CalendarConnection) -> list[CalendarConnection]:
    """Every live calendar row of the same provider account: they share one grant."""
    return list(session.scalars(
        select(CalendarConnection).where(
            CalendarConnection.user_id == connection.user_id,
            CalendarConnection.provider == connection.provider,
            CalendarConnection.account_email.is_not_distinct_from(connection.account_email),
            CalendarConnection.deleted_at.is_(None),
        ).with_for_update()
    ))


def credentials_for(session: Session, connection: CalendarConnection, *, refresh_margin=REFRESH_MARGIN) -> Credentials:
    """Usable credentials, refreshed first when the access token expires within `refresh_margin`."""
    if not connection.is_connected:
        raise NeedsReconnect(connection.disconnect_reason or "not connected")
    try:
        secret = unseal(connection.id, "calendar_connections", "access_token", connection.access_token)
    except UndecryptableSecret:
        mark_needs_reconnect(session, [connection], UNDECRYPTABLE_REASON, "undecryptable_token")
        raise NeedsReconnect(UNDECRYPTABLE_REASON) from None
    if connection.provider == CalendarProvider.APPLE:
        return Credentials(username=connection.account_email, password=secret)
    expires = connection.token_expires_at
    if expires is not None and expires <= datetime.now(UTC) + refresh_margin:
        return Credentials(access_token=refresh_account(session, connection))
    return Credentials(access_token=secret)


def refresh_account(session: Session, connection: CalendarConnection) -> str:
    """Refresh the account's grant once and store the result (including a rotated refresh token) on every row."""
    rows = account_rows(session, connection)
    try:
        refresh_token = unseal(connection.id, "calendar_connections", "refresh_token", connection.refresh_token)
    except UndecryptableSecret:
        mark_needs_reconnect(session, rows, UNDECRYPTABLE_REASON, "undecryptable_token")
        raise NeedsReconnect(UNDECRYPTABLE_REASON) from None
    if not refresh_token:
        mark_needs_reconnect(session, rows, REVOKED_REASON, "no_refresh_token")
        raise NeedsReconnect(REVOKED_REASON)
    try:
        tokens = get_provider(connection.provider).refresh(refresh_token)
    except InvalidGrant:
        mark_needs_reconnect(session, rows, REVOKED_REASON, "invalid_grant")
        audit.record(session, "TOKEN_REFRESH", user_id=connection.user_id, status=AuditStatus.FAILURE,
                     error="invalid_grant", resource=("calendar_connection", connection.id),
                     provider=connection.provider.value)
        raise NeedsReconnect(REVOKED_REASON) from None
    for row in rows:
        store_tokens(row, tokens)
    session.flush()
    log.info("refreshed tokens connection_id=%s rows=%s", connection.id, len(rows))
    return tokens.access_token


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
               CalendarConnection.provider != CalendarProvider.APPLE,
               CalendarConnection.token_expires_at < datetime.now(UTC) + window)
        .order_by(CalendarConnection.user_id, CalendarConnection.provider, CalendarConnection.account_email)
    ).all()
    by_account = {}
    for row in rows:
        by_account.setdefault((row.user_id, row.provider, row.account_email), row)
    return list(by_account.values())
