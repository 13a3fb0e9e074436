"""Connecting calendars: the OAuth authorization-code flow with PKCE for Google and Microsoft, Apple over CalDAV,
and disconnecting.

Functions that call a provider end the caller's transaction before the call and write in a new one after it:
no transaction (and no row lock) is open while a provider answers.
"""
from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import groupby
from urllib.parse import urlsplit

from sqlalchemy import Row, and_, select, update
from sqlalchemy.orm import Session

from webapp import audit, changes
from webapp.calendar.colours import distinct_colour
from webapp.credentials import credentials_for, seal, store_password, store_tokens, unseal
from webapp.crypto import UndecryptableSecret
from webapp.models import (
    AuditStatus,
    CalendarConnection,
    CalendarEvent,
    CalendarProvider,
    CalendarSubscription,
    OAuthState,
)
from webapp.providers import LABELS, OAUTH_PROVIDERS, get_provider
from webapp.providers.base import (
    AuthRejected,
    Credentials,
    ProviderError,
    ProviderUnreachable,
    RemoteCalendar,
    TokenSet,
)
from webapp.providers.caldav import ForeignHost, NotCalDav, server_address
from webapp.providers.guard import AddressRefused
from webapp.providers.ics import FeedError, feed_url
from webapp.sync import policy, watch
from webapp.sync.events import LOCAL_CHANGES

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=15)


class ConnectFailed(Exception):
    """A connect attempt that failed in a way the user should hear about; `kind` goes to the audit row."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def begin_oauth(session: Session, user_id: uuid.UUID, kind: CalendarProvider, redirect_uri: str) -> str:
    """The consent page to send the user to. The state (256 random bits, single use, 15 minutes) ties the callback
    to this user and provider; the PKCE verifier stays here, sealed, so a stolen code is useless on its own.
    Raises ConnectFailed, after a FAILURE audit row, when the provider's settings cannot make that address."""
    now = datetime.now(UTC)
    state = OAuthState(id=uuid.uuid4(), user_id=user_id, provider=kind, state=secrets.token_urlsafe(32),
                       created_at=now, expires_at=now + STATE_LIFETIME)
    try:
        with get_provider(kind) as provider:
            url, verifier = provider.authorization_url(state=state.state, redirect_uri=redirect_uri)
    except ProviderError as failure:  # a plain-http endpoint: Config refuses those at start-up, this is the backstop
        log.error("cannot start the %s sign-in: %s", LABELS[kind], failure)
        _fail(session, user_id, kind, f"authorization_url:{failure.kind}")
        raise ConnectFailed("authorization_url", f"{LABELS[kind]} cannot be connected: this server's "
                            f"{LABELS[kind]} settings do not work. An administrator needs to fix them.") from None
    state.code_verifier = seal(state.id, "oauth_states", "code_verifier", verifier)
    session.add(state)
    session.flush()
    return url


def consume_state(session: Session, user_id: uuid.UUID, kind: CalendarProvider, state: str) -> Row | None:
    """Check and use up the callback's state in one statement: only an unexpired, unconsumed state of this user and
    provider matches, and it is marked consumed as it is read, so a replayed callback finds nothing.
    Returns (id, sealed code_verifier)."""
    return session.execute(
        update(OAuthState)
        .where(OAuthState.state == state, OAuthState.user_id == user_id, OAuthState.provider == kind,
               OAuthState.consumed.is_(False), OAuthState.expires_at > datetime.now(UTC))
        .values(consumed=True)
        .returning(OAuthState.id, OAuthState.code_verifier)
    ).first()


def _state_failure_kind(session: Session, user_id: uuid.UUID, kind: CalendarProvider, state: str) -> str:
    """Why a state did not match; for the audit row only (the user sees one message)."""
    found = session.scalar(select(OAuthState).where(OAuthState.state == state))
    if found is None:
        return "unknown_state"
    if found.user_id != user_id or found.provider != kind:
        return "foreign_state"
    if found.consumed:
        return "replayed_state"
    return "expired_state"


def complete_oauth(
    session: Session, user_id: uuid.UUID, kind: CalendarProvider, *, state: str | None, code: str | None,
    error: str | None, redirect_uri: str,
) -> list[CalendarConnection]:
    """The callback: check the state, exchange the code for tokens, read the account and its calendars, store them.
    Raises ConnectFailed after recording a FAILURE audit row; writes no connection then."""
    label = LABELS[kind]
    stored = consume_state(session, user_id, kind, state or "") if state else None
    if stored is None:
        reason = _state_failure_kind(session, user_id, kind, state) if state else "missing_state"
        _fail(session, user_id, kind, reason)
        raise ConnectFailed(reason, "This sign-in link has expired or was already used. Start connecting again.")
    if error:
        kind_of_error = "access_denied" if error == "access_denied" else f"provider_error:{error[:60]}"
        _fail(session, user_id, kind, kind_of_error)
        message = (f"You declined access at {label}, so nothing was connected." if error == "access_denied"
                   else f"{label} reported an error ({error[:60]}). Nothing was connected; try again.")
        raise ConnectFailed(kind_of_error, message)
    if not code:
        _fail(session, user_id, kind, "missing_code")
        raise ConnectFailed("missing_code", f"{label} did not send an authorization code. Try again.")
    try:
        verifier = unseal(stored.id, "oauth_states", "code_verifier", stored.code_verifier)
    except UndecryptableSecret:
        _fail(session, user_id, kind, "undecryptable_verifier")
        raise ConnectFailed("undecryptable_verifier", "This sign-in could not be verified. Start again.") from None
    session.commit()  # the state is used up for good, and nothing stays open while the provider answers
    try:
        with get_provider(kind) as provider:
            tokens = provider.exchange_code(code=code, code_verifier=verifier, redirect_uri=redirect_uri)
            credentials = Credentials(access_token=tokens.access_token)
            account = provider.account_email(credentials)
            calendars = provider.list_calendars(credentials)
    except ProviderUnreachable:
        _fail(session, user_id, kind, "network_error")
        raise ConnectFailed("network_error", f"Almanac could not reach {label}. Try again in a moment.") from None
    except ProviderError as failure:
        _fail(session, user_id, kind, f"token_exchange_failed:{failure.kind}")
        raise ConnectFailed("token_exchange_failed",
                            f"{label} did not accept the sign-in. Nothing was connected; try again.") from None
    connections = upsert_calendars(session, user_id, kind, account, calendars, tokens=tokens)
    audit.record(session, "OAUTH_CONNECT", user_id=user_id, resource=("calendar_connection", connections[0].id)
                 if connections else None, provider=kind.value, account=account, calendars=len(connections))
    return connections


def connect_apple(session: Session, user_id: uuid.UUID, apple_id: str, password: str) -> list[CalendarConnection]:
    """iCloud: a CalDAV account whose server is the preset APPLE_CALDAV_URL."""
    return connect_caldav(session, user_id, apple_id, password, server=None, kind=CalendarProvider.APPLE)


def connect_caldav(session: Session, user_id: uuid.UUID, username: str, password: str, *, server: str | None,
                   kind: CalendarProvider = CalendarProvider.CALDAV) -> list[CalendarConnection]:
    """Discover the account's calendars (RFC 6764 from `server`, or the preset server of `kind`) and store them.
    Raises ConnectFailed with a plain reason for each way it can fail, after a FAILURE audit row."""
    is_apple = kind == CalendarProvider.APPLE
    action = "APPLE_CONNECT" if is_apple else "CALDAV_CONNECT"
    address = None if is_apple else server_address(server or "")
    where = "iCloud's calendar server" if is_apple else (urlsplit(address).hostname or address)
    credentials = Credentials(username=username, password=password, server_url=address)
    session.commit()  # nothing stays open while the server answers
    try:
        with get_provider(kind) as provider:
            calendars = provider.list_calendars(credentials)
    except AuthRejected:
        _fail(session, user_id, kind, "auth_rejected", action=action)
        raise ConnectFailed("auth_rejected", "Apple rejected this app-specific password." if is_apple else
                            f"{where} did not accept this user name and password.") from None
    except AddressRefused as refused:
        _fail(session, user_id, kind, "address_refused", action=action)
        raise ConnectFailed("address_refused", refused.reason) from None
    except NotCalDav:
        _fail(session, user_id, kind, "not_caldav", action=action)
        raise ConnectFailed("not_caldav", f"No CalDAV server answered at {address}. Check the address: your "
                            "provider's help names it (for example caldav.fastmail.com, or "
                            "https://cloud.example.org/remote.php/dav for Nextcloud).") from None
    except ForeignHost:
        _fail(session, user_id, kind, "foreign_host", action=action)
        raise ConnectFailed("foreign_host", f"{where} pointed Almanac at another site, so your password was not "
                                            "sent there and nothing was connected.") from None
    except ProviderUnreachable:
        _fail(session, user_id, kind, "network_error", action=action)
        raise ConnectFailed("network_error", f"Almanac could not reach {where}. Check the address, or try again "
                                             "in a moment.") from None
    except ProviderError as failure:
        _fail(session, user_id, kind, f"provider_error:{failure.kind}", action=action)
        raise ConnectFailed("provider_error", f"{where} answered unexpectedly. Try again later.") from None
    if not calendars:
        _fail(session, user_id, kind, "no_calendars", action=action)
        raise ConnectFailed("no_calendars", f"{username} has no event calendars at {where}: create one there "
                                            "first, then connect again.")
    connections = upsert_calendars(session, user_id, kind, username, calendars, password=password,
                                   server_url=address)
    audit.record(session, action, user_id=user_id, provider=kind.value, account=username, calendars=len(connections),
                 **({} if is_apple else {"server": where}))
    return connections


def subscribe(session: Session, user_id: uuid.UUID, typed_url: str, *, name: str | None, color: str | None,
              refresh_minutes: int) -> CalendarConnection:
    """Check that the address serves an iCalendar feed (through the request forgery guard, no transaction open),
    then store it as a read-only calendar, named and coloured as the feed says unless the user said otherwise.
    Its events arrive with the first refresh. Raises ConnectFailed with the plain reason."""
    try:
        url = feed_url(typed_url)
    except FeedError as error:
        _fail(session, user_id, CalendarProvider.ICS, error.kind, action="SUBSCRIPTION_CREATE")
        raise ConnectFailed(error.kind, error.reason) from None
    host = urlsplit(url).hostname
    session.commit()
    try:
        with get_provider(CalendarProvider.ICS) as provider:
            copy = provider.fetch(url)
    except ProviderError as error:
        kind = error.kind
        _fail(session, user_id, CalendarProvider.ICS, kind, action="SUBSCRIPTION_CREATE", host=host)
        message = error.reason or (f"Almanac could not reach {host}. Check the address, or try again in a moment."
                                   if isinstance(error, ProviderUnreachable) else f"{host} answered unexpectedly.")
        raise ConnectFailed(kind, message) from None
    contents = copy.contents
    calendar = RemoteCalendar(calendar_id=url, name=name or (contents.name if contents else None) or host,
                              color=color or (contents.color if contents else None), can_write=False)
    (connection,) = upsert_calendars(session, user_id, CalendarProvider.ICS, host, [calendar])
    if color:
        connection.calendar_color = color
    subscription = session.get(CalendarSubscription, connection.id)
    if subscription is None:
        subscription = CalendarSubscription(connection_id=connection.id)
        session.add(subscription)
    subscription.refresh_minutes = refresh_minutes
    audit.record(session, "SUBSCRIPTION_CREATE", user_id=user_id, resource=("calendar_connection", connection.id),
                 provider="ICS", host=host, events=len(contents.events) if contents else 0)
    session.flush()
    return connection


def update_subscription(session: Session, connection: CalendarConnection, *, name: str,
                        refresh_minutes: int) -> None:
    connection.calendar_name = name
    subscription = session.get(CalendarSubscription, connection.id)
    if subscription is None:
        subscription = CalendarSubscription(connection_id=connection.id)
        session.add(subscription)
    subscription.refresh_minutes = refresh_minutes
    session.flush()


def calendars_by_account(session: Session, user_id: uuid.UUID) -> list[tuple[tuple, list[CalendarConnection]]]:
    """The user's live calendars grouped by (provider, account), primary calendar first."""
    rows = session.scalars(
        select(CalendarConnection)
        .where(CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None))
        .order_by(CalendarConnection.provider, CalendarConnection.account_email, CalendarConnection.server_url,
                  CalendarConnection.is_primary.desc(),
                  CalendarConnection.calendar_name)
    ).all()
    return [(key, list(group)) for key, group in groupby(rows, key=lambda row: (row.provider, account_label(row)))]


def account_label(connection: CalendarConnection) -> str | None:
    """How the connections page names a calendar's account: a CalDAV account by its user name and server."""
    if connection.server_url:
        return f"{connection.account_email} on {urlsplit(connection.server_url).hostname}"
    return connection.account_email


@dataclass(frozen=True)
class LimitedSeries:
    event_id: uuid.UUID
    title: str
    reason: str  # webapp.recurrence.expansion_limit


def series_shown_in_part(session: Session, connection_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[LimitedSeries]]:
    """Per calendar, the series that cannot be shown in full (on calendar_events_series_limit_idx)."""
    if not connection_ids:
        return {}
    rows = session.execute(
        select(CalendarEvent.calendar_connection_id, CalendarEvent.id, CalendarEvent.title, CalendarEvent.series_limit)
        .where(CalendarEvent.calendar_connection_id.in_(connection_ids), CalendarEvent.series_limit.is_not(None),
               CalendarEvent.deleted_at.is_(None))
        .order_by(CalendarEvent.title, CalendarEvent.id)
    )
    found: dict[uuid.UUID, list[LimitedSeries]] = {}
    for row in rows:
        found.setdefault(row.calendar_connection_id, []).append(LimitedSeries(row.id, row.title, row.series_limit))
    return found


def upsert_calendars(
    session: Session, user_id: uuid.UUID, kind: CalendarProvider, account: str | None,
    calendars: list[RemoteCalendar], *, tokens: TokenSet | None = None, password: str | None = None,
    server_url: str | None = None,
) -> list[CalendarConnection]:
    """One row per calendar, keyed by (user, provider, calendar id): a reconnect updates and revives rows."""
    existing = {
        row.calendar_id: row
        for row in session.scalars(select(CalendarConnection).where(
            CalendarConnection.user_id == user_id, CalendarConnection.provider == kind,
            CalendarConnection.calendar_id.in_([calendar.calendar_id for calendar in calendars]),
        ).with_for_update())
    }
    rows = []
    # Each new calendar's colour stays clearly apart from the user's other calendars (webapp.calendar.colours).
    taken = [colour for colour in session.scalars(select(CalendarConnection.calendar_color).where(
        CalendarConnection.user_id == user_id, CalendarConnection.deleted_at.is_(None),
        CalendarConnection.calendar_color.is_not(None))) if colour]
    for calendar in calendars:
        row = existing.get(calendar.calendar_id)
        if row is None:
            # The id is chosen here because the sealed tokens are bound to it.
            colour = distinct_colour(calendar.color, taken)
            row = CalendarConnection(id=uuid.uuid4(), user_id=user_id, provider=kind, calendar_id=calendar.calendar_id,
                                     calendar_color=colour)
            session.add(row)
            taken.append(colour)
        elif row.deleted_at is not None:
            # Disconnected earlier: start over with a full sync that brings the events back.
            row.deleted_at, row.sync_token = None, None
            row.calendar_color = distinct_colour(calendar.color, taken)
            taken.append(row.calendar_color)
        if row.provider_removed_at is not None:
            # The provider lists it again (shared anew): sync it from scratch.
            row.provider_removed_at, row.sync_token = None, None
        row.calendar_name = calendar.name or "(unnamed calendar)"
        row.is_primary, row.can_write, row.account_email = calendar.is_primary, calendar.can_write, account
        row.is_connected, row.disconnect_reason, row.server_url = True, None, server_url
        if tokens is not None:
            store_tokens(row, tokens)
        elif password is not None:
            store_password(row, password)
        rows.append(row)
    changes.note_change(session, user_id)
    session.flush()
    return rows


def refresh_calendar_list(session: Session, connection_id: uuid.UUID) -> list[uuid.UUID]:
    """Read the account's calendars again (Google told us its list changed): a calendar new to Almanac is added
    with the account's grant, one the account no longer lists is marked removed at the provider. A calendar the
    user disconnected here stays disconnected. Returns the new calendars (the caller queues their first sync).
    Ends the caller's transaction (the provider is asked with none open); the caller commits the result."""
    connection = session.get(CalendarConnection, connection_id)
    if connection is None or connection.deleted_at is not None or not connection.is_connected:
        session.rollback()
        return []
    user_id, kind, account = connection.user_id, connection.provider, connection.account_email
    credentials = credentials_for(session, connection_id)
    with get_provider(kind) as provider:
        calendars = provider.list_calendars(credentials)
    connection = session.get(CalendarConnection, connection_id)
    # The grant as it is now (credentials_for may just have refreshed it), for the new calendars' rows.
    tokens = TokenSet(unseal(connection.id, "calendar_connections", "access_token", connection.access_token),
                      unseal(connection.id, "calendar_connections", "refresh_token", connection.refresh_token),
                      connection.token_expires_at)
    rows = list(session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user_id, CalendarConnection.provider == kind,
        CalendarConnection.account_email.is_not_distinct_from(account))))
    known = {row.calendar_id for row in rows}
    listed = {calendar.calendar_id for calendar in calendars}
    added = []
    for calendar in calendars:
        if calendar.calendar_id in known:
            continue
        row = CalendarConnection(id=uuid.uuid4(), user_id=user_id, provider=kind, calendar_id=calendar.calendar_id,
                                 calendar_color=calendar.color, calendar_name=calendar.name or "(unnamed calendar)",
                                 is_primary=calendar.is_primary, can_write=calendar.can_write, account_email=account)
        store_tokens(row, tokens)
        session.add(row)
        added.append(row.id)
    for row in rows:
        if row.deleted_at is None and row.provider_removed_at is None and row.calendar_id not in listed:
            policy.record_removed(session, row.id, found_by="calendar_list")
    if added:
        audit.record(session, "CALENDARS_ADDED", user_id=user_id, provider=kind.value, account=account,
                     calendars=len(added), found_by="calendar_list")
        changes.note_change(session, user_id)
    session.flush()
    return added


@dataclass(frozen=True)
class Revocation:
    """A grant to revoke at the provider once the disconnect is committed."""

    user_id: uuid.UUID | None  # None once the account itself is gone
    connection_id: uuid.UUID
    provider: CalendarProvider
    token: str
    # Notification channels of the account to stop first, while the grant still works (webapp.sync.watch).
    channels: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class LocalChange:
    """A change made here that never reached the provider: what removing the calendar from Almanac loses."""

    event_id: uuid.UUID
    title: str
    start: datetime
    is_all_day: bool
    kind: str  # "created" | "changed" | "deleted"


def unpushed_changes(session: Session, connection_id: uuid.UUID) -> list[LocalChange]:
    """The calendar's local changes not yet at the provider (waiting, failed or in a conflict), oldest first."""
    rows = session.scalars(
        select(CalendarEvent)
        .where(CalendarEvent.calendar_connection_id == connection_id, CalendarEvent.deleted_at.is_(None),
               CalendarEvent.sync_status.in_(LOCAL_CHANGES))
        .order_by(CalendarEvent.start_time, CalendarEvent.id)
    )
    changes = []
    for event in rows:
        metadata = event.provider_metadata or {}
        kind = ("deleted" if event.deletion_requested_at is not None
                else "changed" if metadata.get("etag") or metadata.get("pushed") else "created")
        changes.append(LocalChange(event.id, event.title, event.start_time, event.is_all_day, kind))
    return changes


def remove_from_almanac(session: Session, connection: CalendarConnection) -> Revocation | None:
    """A calendar removed at the provider leaves Almanac too, with its local changes (the user saw them listed).
    As `disconnect`, which it is, with its own audit row naming what was lost."""
    lost = unpushed_changes(session, connection.id)
    return disconnect(session, connection, action="CONNECTION_REMOVE", removed_at_provider=True,
                      discarded_changes=len(lost),
                      discarded_events=[{"id": str(change.event_id), "kind": change.kind} for change in lost[:50]])


def disconnect(session: Session, connection: CalendarConnection, *, action: str = "CONNECTION_DISCONNECT",
               **details) -> Revocation | None:
    """Forget one calendar: soft-delete the row and its events. When it was the account's last calendar, returns
    the grant to revoke: the caller commits, then calls revoke() (the provider call is best effort: a provider
    that is down must not keep the user connected)."""
    now = datetime.now(UTC)
    siblings = session.scalar(select(CalendarConnection.id).where(
        CalendarConnection.user_id == connection.user_id, CalendarConnection.provider == connection.provider,
        CalendarConnection.account_email.is_not_distinct_from(connection.account_email),
        CalendarConnection.id != connection.id, CalendarConnection.deleted_at.is_(None),
    ).limit(1))
    revocation = grant_of(connection) if siblings is None else None
    released = watch.release(session, connection, keep_token=True, now=now)
    if revocation is not None:
        revocation = replace(revocation, channels=tuple(released))
    session.execute(update(CalendarEvent).where(and_(
        CalendarEvent.calendar_connection_id == connection.id, CalendarEvent.deleted_at.is_(None),
    )).values(deleted_at=now))
    connection.deleted_at, connection.is_connected = now, False
    connection.access_token = connection.refresh_token = connection.token_expires_at = None
    connection.sync_token = None
    audit.record(session, action, user_id=connection.user_id,
                 resource=("calendar_connection", connection.id), provider=connection.provider.value,
                 revokes_grant=revocation is not None, **details)
    changes.note_change(session, connection.user_id)
    session.flush()
    return revocation


def grant_of(connection: CalendarConnection) -> Revocation | None:
    """What revoking the calendar's account at its provider takes (CalDAV has app passwords, nothing to revoke)."""
    if connection.provider not in OAUTH_PROVIDERS or not connection.refresh_token:
        return None
    try:
        token = unseal(connection.id, "calendar_connections", "refresh_token", connection.refresh_token)
    except UndecryptableSecret:
        log.warning("cannot revoke an undecryptable grant connection_id=%s", connection.id)
        return None
    return Revocation(connection.user_id, connection.id, connection.provider, token)


def revoke(session: Session, revocation: Revocation) -> bool:
    """Revoke the grant at the provider (no transaction open meanwhile) and record the outcome. The account's
    notification channels are stopped first: once the grant is revoked, nothing could stop them."""
    session.commit()
    for channel_id in revocation.channels:
        try:
            watch.stop(session, channel_id)
        except ProviderError:
            session.rollback()  # it runs out by itself; the revocation goes ahead
    try:
        with get_provider(revocation.provider) as provider:
            provider.revoke(revocation.token)
        failure = None
    except ProviderError as error:
        failure = error.kind
        log.warning("revoke failed connection_id=%s kind=%s", revocation.connection_id, failure)
    audit.record(session, "TOKEN_REVOKE", user_id=revocation.user_id, error=failure,
                 status=AuditStatus.FAILURE if failure else AuditStatus.SUCCESS,
                 resource=("calendar_connection", revocation.connection_id), provider=revocation.provider.value)
    session.flush()
    return failure is None


def _fail(session: Session, user_id: uuid.UUID, kind: CalendarProvider, reason: str,
          action: str = "OAUTH_CONNECT", **details) -> None:
    audit.record(session, action, user_id=user_id, status=AuditStatus.FAILURE, error=reason, provider=kind.value,
                 **details)
    session.flush()
