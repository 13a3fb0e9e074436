"""Asking Google and Microsoft to tell us when a calendar changes: one watch channel (Google events.watch) or
subscription (Graph, on the calendar's events) per synced calendar, one calendarList.watch per Google account;
renewed before they run out, stopped when the calendar leaves Almanac.

Push is an optimisation: the 5-minute sweep stays the safety net. A calendar whose channel could not be made keeps
the reason (`watch_unavailable_reason`, shown as "updates every 5 minutes — push unavailable: …") and is tried
again an hour later. Like every provider call here, none is made with a transaction open: what the call needs is
read and committed first, and its answer is written in a new transaction.
"""
from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from webapp import audit
from webapp.credentials import NeedsReconnect, credentials_for, seal, unseal
from webapp.crypto import UndecryptableSecret
from webapp.models import AuditStatus, CalendarConnection, CalendarProvider, WatchChannel, WatchKind
from webapp.providers import LABELS, get_provider
from webapp.providers.base import (
    AuthRejected,
    CalendarGone,
    Channel,
    Credentials,
    NotFound,
    ProviderError,
    ProviderUnreachable,
    WatchRefused,
)
from webapp.sync.notifications import token_hash
from webapp.sync.queue import enqueue_watch_jobs
from webapp.transactions import after_commit

log = logging.getLogger(__name__)

WATCHED_PROVIDERS = (CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT)
# What we ask for. Google's default and usual maximum is 7 days; for Graph on Outlook events the documented
# maximum has been 4,230 minutes and later 10,080 (the service refusing more than 10,070): 4,230 is good under
# both. Either way the provider's answer is the expiry we keep.
GOOGLE_TTL = timedelta(days=7)
GRAPH_LIFETIME = timedelta(minutes=4230)
# Renewed once two thirds of the granted lifetime have passed, and never later than this before it ends (the
# maintenance job runs every 15 minutes).
RENEW_FRACTION = 2 / 3
RENEW_AT_LATEST = timedelta(minutes=45)
# A calendar whose channel could not be made is tried again after this long.
RETRY_AFTER = timedelta(hours=1)
# A channel row the provider never answered for (its job died midway) is forgotten after this long.
UNANSWERED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class WatchSettings:
    """What the watch code needs from the configuration: whether push is on, and the base of our addresses."""

    enabled: bool
    public_url: str

    @classmethod
    def of(cls, config) -> WatchSettings:
        return cls(bool(config["PUSH_NOTIFICATIONS"]), config["PUBLIC_URL"].rstrip("/"))

    @property
    def google_address(self) -> str:
        return f"{self.public_url}/webhooks/google"

    @property
    def microsoft_address(self) -> str:
        return f"{self.public_url}/webhooks/microsoft"

    @property
    def lifecycle_address(self) -> str:
        return f"{self.public_url}/webhooks/microsoft/lifecycle"


def is_due_for_renewal(channel: WatchChannel, now: datetime) -> bool:
    if channel.expires_at is None:
        return False
    began = channel.renewed_at or channel.created_at or now
    due = began + (channel.expires_at - began) * RENEW_FRACTION
    return now >= min(due, channel.expires_at - RENEW_AT_LATEST)


# ---------------------------------------------------------------------------------------------- making channels


def watch_calendar(session: Session, connection_id: uuid.UUID, settings: WatchSettings,
                   now: datetime | None = None) -> str:
    """Make the calendar's channel unless it has a live one. Returns what happened: started, exists, skipped,
    refused (recorded on the calendar). Transient trouble is recorded, then raised for the job's retry."""
    now = now or datetime.now(UTC)
    connection = _watchable(session, connection_id)
    if connection is None or not settings.enabled:
        session.rollback()
        return "skipped"
    live = session.scalar(select(WatchChannel).where(
        WatchChannel.connection_id == connection_id, WatchChannel.kind == WatchKind.EVENTS,
        WatchChannel.stop_requested_at.is_(None), WatchChannel.expires_at > now))
    if live is not None and not is_due_for_renewal(live, now):
        session.rollback()
        return "exists"
    target = (connection.user_id, connection.provider, connection.calendar_id, connection.account_email)
    try:
        credentials = credentials_for(session, connection_id)
    except NeedsReconnect:
        return "skipped"
    if target[1] == CalendarProvider.GOOGLE:
        return _start_google(session, connection_id, target, credentials, settings, now)
    return _start_graph(session, connection_id, target, credentials, settings, now)


def _start_google(session: Session, connection_id: uuid.UUID, target: tuple, credentials: Credentials,
                  settings: WatchSettings, now: datetime) -> str:
    user_id, kind, calendar_id, account = target
    token = secrets.token_urlsafe(32)
    # Stored before asking: Google's first message ("sync") may arrive before its answer does.
    row = WatchChannel(id=uuid.uuid4(), user_id=user_id, provider=kind, kind=WatchKind.EVENTS,
                       connection_id=connection_id, account_email=account, channel_id=uuid.uuid4().hex,
                       token_hash=token_hash(token))
    session.add(row)
    session.commit()
    try:
        with get_provider(kind) as provider:
            channel = provider.watch_events(credentials, calendar_id, channel_id=row.channel_id,
                                            address=settings.google_address, token=token,
                                            ttl_seconds=int(GOOGLE_TTL.total_seconds()))
    except ProviderError as error:
        session.execute(delete(WatchChannel).where(WatchChannel.id == row.id))
        session.commit()
        return _failed(session, connection_id, error, now)
    return _started(session, row.id, connection_id, channel, now)


def _start_graph(session: Session, connection_id: uuid.UUID, target: tuple, credentials: Credentials,
                 settings: WatchSettings, now: datetime) -> str:
    user_id, kind, calendar_id, account = target
    client_state = secrets.token_urlsafe(32)
    try:
        with get_provider(kind) as provider:
            channel = provider.create_subscription(
                credentials, calendar_id, notification_url=settings.microsoft_address,
                lifecycle_url=settings.lifecycle_address, client_state=client_state,
                expires_at=now + GRAPH_LIFETIME)
    except ProviderError as error:
        return _failed(session, connection_id, error, now)
    row = WatchChannel(id=uuid.uuid4(), user_id=user_id, provider=kind, kind=WatchKind.EVENTS,
                       connection_id=connection_id, account_email=account, channel_id=channel.channel_id,
                       token_hash=token_hash(client_state))
    session.add(row)
    session.flush()
    return _started(session, row.id, connection_id, channel, now)


def _started(session: Session, row_id: uuid.UUID, connection_id: uuid.UUID | None, channel: Channel,
             now: datetime) -> str:
    row = session.get(WatchChannel, row_id)
    row.expires_at, row.resource_id = channel.expires_at, channel.resource_id
    if row.kind == WatchKind.EVENTS:
        connection = session.get(CalendarConnection, connection_id)
        if connection is not None and connection.deleted_at is None:
            connection.watch_unavailable_reason = connection.watch_failed_at = None
        else:
            # Disconnected while the provider answered: stop it again.
            row.connection_id, row.stop_requested_at = None, now
            queue_stops(session, [row.id])
    audit.record(session, "WATCH_START", user_id=row.user_id, resource=("watch_channel", row.id),
                 provider=row.provider.value, kind=row.kind.value, calendar_id=connection_id,
                 expires_at=channel.expires_at.isoformat())
    # The older channels of the same target end once this one runs (Google renews by replacing).
    older = _live_channels(session, row)
    for channel in older:
        channel.stop_requested_at = now
    queue_stops(session, [channel.id for channel in older])
    session.commit()
    log.info("watch started provider=%s kind=%s connection_id=%s expires_at=%s", row.provider.value,
             row.kind.value, connection_id, channel.expires_at)
    return "started"


def _live_channels(session: Session, row: WatchChannel) -> list[WatchChannel]:
    same_target = (WatchChannel.connection_id == row.connection_id if row.kind == WatchKind.EVENTS else and_(
        WatchChannel.user_id == row.user_id, WatchChannel.provider == row.provider,
        WatchChannel.account_email.is_not_distinct_from(row.account_email)))
    return list(session.scalars(select(WatchChannel).where(
        same_target, WatchChannel.kind == row.kind, WatchChannel.id != row.id,
        WatchChannel.stop_requested_at.is_(None))))


def _failed(session: Session, connection_id: uuid.UUID, error: ProviderError, now: datetime) -> str:
    """Say on the calendar why push is unavailable (audited when the reason is news); transient trouble goes on
    to the job for a retry."""
    session.rollback()
    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        return "skipped"
    reason = unavailable_reason(error, LABELS[connection.provider])
    if connection.watch_unavailable_reason != reason:
        audit.record(session, "WATCH_START", user_id=connection.user_id, status=AuditStatus.FAILURE,
                     error=error.kind, resource=("calendar_connection", connection.id),
                     provider=connection.provider.value, reason=reason)
    connection.watch_unavailable_reason, connection.watch_failed_at = reason, now
    session.commit()
    log.warning("watch not started connection_id=%s kind=%s", connection_id, error.kind)
    if isinstance(error, ProviderUnreachable):
        raise error
    return "refused"


def unavailable_reason(error: ProviderError, label: str) -> str:
    if isinstance(error, WatchRefused):
        return str(error)
    if isinstance(error, ProviderUnreachable):
        return f"{label} could not be reached to set up notifications."
    if isinstance(error, AuthRejected):
        return f"{label} did not accept Almanac's access."
    if isinstance(error, CalendarGone):
        return f"{label} no longer has this calendar."
    status = f" (HTTP {error.status})" if error.status else ""
    return f"{label} refused to set up notifications{status}."


def _watchable(session: Session, connection_id: uuid.UUID) -> CalendarConnection | None:
    return session.scalar(select(CalendarConnection).where(
        CalendarConnection.id == connection_id, CalendarConnection.provider.in_(WATCHED_PROVIDERS),
        CalendarConnection.deleted_at.is_(None), CalendarConnection.is_connected.is_(True),
        CalendarConnection.provider_removed_at.is_(None)))


def watch_account(session: Session, connection_id: uuid.UUID, settings: WatchSettings,
                  now: datetime | None = None) -> str:
    """Google's calendarList.watch for the account of this calendar, unless it has a live one."""
    now = now or datetime.now(UTC)
    connection = _watchable(session, connection_id)
    if connection is None or connection.provider != CalendarProvider.GOOGLE or not settings.enabled:
        session.rollback()
        return "skipped"
    live = session.scalar(select(WatchChannel).where(
        WatchChannel.kind == WatchKind.CALENDAR_LIST, WatchChannel.user_id == connection.user_id,
        WatchChannel.provider == connection.provider,
        WatchChannel.account_email.is_not_distinct_from(connection.account_email),
        WatchChannel.stop_requested_at.is_(None), WatchChannel.expires_at > now))
    if live is not None and not is_due_for_renewal(live, now):
        session.rollback()
        return "exists"
    token = secrets.token_urlsafe(32)
    row = WatchChannel(id=uuid.uuid4(), user_id=connection.user_id, provider=connection.provider,
                       kind=WatchKind.CALENDAR_LIST, account_email=connection.account_email,
                       channel_id=uuid.uuid4().hex, token_hash=token_hash(token))
    try:
        credentials = credentials_for(session, connection_id)
    except NeedsReconnect:
        return "skipped"
    session.add(row)
    session.commit()
    try:
        with get_provider(CalendarProvider.GOOGLE) as provider:
            channel = provider.watch_calendar_list(credentials, channel_id=row.channel_id,
                                                   address=settings.google_address, token=token,
                                                   ttl_seconds=int(GOOGLE_TTL.total_seconds()))
    except ProviderError as error:
        session.execute(delete(WatchChannel).where(WatchChannel.id == row.id))
        session.commit()
        log.warning("calendar list watch not started connection_id=%s kind=%s", connection_id, error.kind)
        if isinstance(error, ProviderUnreachable):
            raise
        return "refused"
    return _started(session, row.id, None, channel, now)


# ---------------------------------------------------------------------------------------------- renewing


def renew(session: Session, channel_row_id: uuid.UUID, settings: WatchSettings, now: datetime | None = None) -> str:
    """Keep a channel alive past its expiry. Google cannot extend one: a new channel replaces it (both run for a
    moment). Graph extends by PATCH, and its answer is the new expiry; a subscription Graph no longer has is made
    anew."""
    now = now or datetime.now(UTC)
    row = session.get(WatchChannel, channel_row_id)
    if row is None or row.stop_requested_at is not None:
        session.rollback()
        return "gone"
    if row.provider == CalendarProvider.GOOGLE:
        connection_id, kind = row.connection_id, row.kind
        anchor = connection_id if kind == WatchKind.EVENTS else _account_calendar(session, row)
        session.rollback()
        if anchor is None:
            return "gone"
        # Due for renewal, so the live-channel check of watch_* lets a new one be made.
        return (watch_calendar if kind == WatchKind.EVENTS else watch_account)(session, anchor, settings, now)
    connection_id, subscription_id = row.connection_id, row.channel_id
    if connection_id is None:
        session.rollback()
        return "gone"
    try:
        credentials = credentials_for(session, connection_id)
    except NeedsReconnect:
        return "skipped"
    try:
        with get_provider(CalendarProvider.MICROSOFT) as provider:
            channel = provider.renew_subscription(credentials, subscription_id, now + GRAPH_LIFETIME)
    except NotFound:
        session.execute(delete(WatchChannel).where(WatchChannel.id == channel_row_id))
        session.commit()
        log.info("subscription gone at Microsoft, making a new one connection_id=%s", connection_id)
        return watch_calendar(session, connection_id, settings, now)
    except ProviderError as error:
        return _failed(session, connection_id, error, now)
    row = session.get(WatchChannel, channel_row_id)
    if row is None:
        session.rollback()
        return "gone"
    row.expires_at, row.renewed_at = channel.expires_at, now
    session.commit()
    log.info("subscription renewed connection_id=%s expires_at=%s", connection_id, channel.expires_at)
    return "renewed"


def recreate(session: Session, channel_row_id: uuid.UUID, settings: WatchSettings, now: datetime | None = None) -> str:
    """The provider removed the subscription (lifecycle subscriptionRemoved): forget it and make a new one."""
    row = session.get(WatchChannel, channel_row_id)
    if row is None or row.connection_id is None:
        session.rollback()
        return "gone"
    connection_id = row.connection_id
    session.delete(row)
    session.commit()
    return watch_calendar(session, connection_id, settings, now)


def account_calendar_of(session: Session, channel_row_id: uuid.UUID) -> uuid.UUID | None:
    """A live calendar of the channel's account (whose grant reads the account's calendar list)."""
    row = session.get(WatchChannel, channel_row_id)
    anchor = _account_calendar(session, row) if row is not None and row.stop_requested_at is None else None
    session.rollback()
    return anchor


def _account_calendar(session: Session, row: WatchChannel) -> uuid.UUID | None:
    """A live calendar of the channel's account, for its grant."""
    return session.scalar(select(CalendarConnection.id).where(
        CalendarConnection.user_id == row.user_id, CalendarConnection.provider == row.provider,
        CalendarConnection.account_email.is_not_distinct_from(row.account_email),
        CalendarConnection.deleted_at.is_(None), CalendarConnection.is_connected.is_(True))
        .order_by(CalendarConnection.is_primary.desc(), CalendarConnection.created_at).limit(1))


# ---------------------------------------------------------------------------------------------- stopping


def release(session: Session, connection: CalendarConnection, *, keep_token: bool, account_leaves: bool = False,
            now: datetime | None = None) -> list[uuid.UUID]:
    """The calendar leaves Almanac (or the provider): its channels are to be stopped, and so is its account's
    calendar-list channel when no other calendar of the account is left. `keep_token`: the calendar's
    credentials are about to be erased, so the access token the stop needs is sealed on each channel row.
    `account_leaves`: the whole account goes (its calendar-list channel too, whatever else is left).
    Their stops are queued once this commits; returns the channel rows."""
    now = now or datetime.now(UTC)
    rows = list(session.scalars(select(WatchChannel).where(WatchChannel.connection_id == connection.id)))
    others = session.scalar(select(func.count()).select_from(CalendarConnection).where(
        CalendarConnection.user_id == connection.user_id, CalendarConnection.provider == connection.provider,
        CalendarConnection.account_email.is_not_distinct_from(connection.account_email),
        CalendarConnection.id != connection.id, CalendarConnection.deleted_at.is_(None)))
    if account_leaves or not others:
        rows += session.scalars(select(WatchChannel).where(
            WatchChannel.kind == WatchKind.CALENDAR_LIST, WatchChannel.user_id == connection.user_id,
            WatchChannel.provider == connection.provider,
            WatchChannel.account_email.is_not_distinct_from(connection.account_email)))
    access_token = None
    if keep_token and rows:
        try:
            access_token = unseal(connection.id, "calendar_connections", "access_token", connection.access_token)
        except UndecryptableSecret:
            access_token = None
    for row in rows:
        row.connection_id = None
        row.stop_requested_at = row.stop_requested_at or now
        if access_token:
            row.access_token = seal(row.id, "watch_channels", "access_token", access_token)
    connection.watch_unavailable_reason = connection.watch_failed_at = None
    session.flush()
    queue_stops(session, [row.id for row in rows])
    return [row.id for row in rows]


def queue_watches(connection_ids: list[uuid.UUID], *, with_account: bool = False) -> None:
    """Queue making the channels of these calendars (and of their account's calendar list: Google only; the job
    skips other providers)."""
    jobs = [(f"watch-calendar-{item}", "jobs.watch.watch_calendar", (str(item),)) for item in connection_ids]
    if with_account and connection_ids:
        jobs.append((f"watch-account-{connection_ids[0]}", "jobs.watch.watch_account", (str(connection_ids[0]),)))
    enqueue_watch_jobs(jobs)


def queue_stops(session: Session, channel_row_ids: list[uuid.UUID]) -> None:
    """Queue the stops once the transaction that asked for them commits (the 15-minute maintenance retries any
    that are lost)."""
    if channel_row_ids:
        jobs = [(f"watch-stop-{row_id}", "jobs.watch.stop_channel", (str(row_id),)) for row_id in channel_row_ids]
        after_commit(session, lambda: enqueue_watch_jobs(jobs))


def stop(session: Session, channel_row_id: uuid.UUID, now: datetime | None = None) -> str:
    """Stop one channel at its provider (channels/stop, DELETE /subscriptions) and forget it. A channel without
    usable credentials (or already run out) is just forgotten: it ends by itself. One the provider could not stop
    for another reason stays listed for the next try."""
    now = now or datetime.now(UTC)
    row = session.get(WatchChannel, channel_row_id)
    if row is None:
        session.rollback()
        return "gone"
    kind, channel_id, resource_id, expires_at, user_id = (row.provider, row.channel_id, row.resource_id,
                                                          row.expires_at, row.user_id)
    try:
        credentials = _stop_credentials(session, row)
    except NeedsReconnect:
        credentials = None
    error = None if credentials is not None else "no_credentials"
    if credentials is not None and expires_at is not None and expires_at > now:
        try:
            with get_provider(kind) as provider:
                if kind == CalendarProvider.GOOGLE:
                    provider.stop_channel(credentials, channel_id, resource_id or "")
                else:
                    provider.delete_subscription(credentials, channel_id)
        except ProviderUnreachable:
            log.warning("channel not stopped (provider unreachable) channel=%s", channel_row_id)
            raise
        except AuthRejected as failure:
            error = failure.kind  # the grant is gone: so is the channel, soon
        except ProviderError as failure:
            log.warning("channel not stopped channel=%s kind=%s; trying again later", channel_row_id, failure.kind)
            return "failed"
    session.execute(delete(WatchChannel).where(WatchChannel.id == channel_row_id))
    audit.record(session, "WATCH_STOP", user_id=user_id, resource=("watch_channel", channel_row_id),
                 provider=kind.value, status=AuditStatus.FAILURE if error else AuditStatus.SUCCESS, error=error)
    session.commit()
    return "forgotten" if error else "stopped"


def _stop_credentials(session: Session, row: WatchChannel) -> Credentials | None:
    """The token sealed on the row at disconnect, else the grant of its calendar or of its account. Ends the
    transaction."""
    if row.access_token:
        try:
            token = unseal(row.id, "watch_channels", "access_token", row.access_token)
        except UndecryptableSecret:
            token = None
        session.commit()
        return Credentials(access_token=token) if token else None
    anchor = row.connection_id or _account_calendar(session, row)
    if anchor is None:
        session.commit()
        return None
    return credentials_for(session, anchor)


# ---------------------------------------------------------------------------------------------- what is due


@dataclass
class DueWork:
    calendars: list[uuid.UUID] = field(default_factory=list)  # to watch
    accounts: list[uuid.UUID] = field(default_factory=list)  # a calendar of each Google account to watch the list of
    renewals: list[uuid.UUID] = field(default_factory=list)  # channel rows
    stops: list[uuid.UUID] = field(default_factory=list)  # channel rows


def due_work(session: Session, settings: WatchSettings, now: datetime | None = None) -> DueWork:
    """Everything the 15-minute maintenance queues: calendars without a channel (failures again after an hour),
    Google accounts without a calendar-list channel, channels to renew, channels to stop. With push turned off,
    every channel is stopped and none made."""
    now = now or datetime.now(UTC)
    work = DueWork()
    channel = WatchChannel
    if not settings.enabled:
        work.stops = list(session.scalars(select(channel.id)))
        session.rollback()
        return work
    # Rows the provider never answered for (their job died midway), and channels it has ended by now.
    session.execute(delete(channel).where(or_(
        and_(channel.expires_at.is_(None), channel.created_at < now - UNANSWERED_AFTER), channel.expires_at < now)))
    connection = CalendarConnection
    watchable = (connection.provider.in_(WATCHED_PROVIDERS), connection.deleted_at.is_(None),
                 connection.is_connected.is_(True), connection.provider_removed_at.is_(None))
    not_failing = or_(connection.watch_failed_at.is_(None), connection.watch_failed_at < now - RETRY_AFTER)
    work.calendars = list(session.scalars(select(connection.id).where(
        *watchable, not_failing,
        ~exists().where(channel.connection_id == connection.id, channel.kind == WatchKind.EVENTS,
                        channel.stop_requested_at.is_(None)))))
    accounts = session.execute(select(connection.id, connection.user_id, connection.account_email).where(
        *watchable, not_failing, connection.provider == CalendarProvider.GOOGLE,
        ~exists().where(channel.kind == WatchKind.CALENDAR_LIST, channel.user_id == connection.user_id,
                        channel.provider == connection.provider,
                        channel.account_email.is_not_distinct_from(connection.account_email),
                        channel.stop_requested_at.is_(None)))
        .order_by(connection.is_primary.desc(), connection.created_at)).all()
    seen = set()
    for row in accounts:
        if (row.user_id, row.account_email) not in seen:
            seen.add((row.user_id, row.account_email))
            work.accounts.append(row.id)
    live = session.scalars(select(channel).where(channel.stop_requested_at.is_(None),
                                                 channel.expires_at.is_not(None))).all()
    work.renewals = [row.id for row in live if is_due_for_renewal(row, now)]
    work.stops = list(session.scalars(select(channel.id).where(channel.stop_requested_at.is_not(None))))
    session.commit()
    return work


def watch_state(session: Session, connection_ids: list[uuid.UUID], now: datetime | None = None) -> set[uuid.UUID]:
    """Which of these calendars have a live channel (for the pages)."""
    if not connection_ids:
        return set()
    now = now or datetime.now(UTC)
    return set(session.scalars(select(WatchChannel.connection_id).where(
        WatchChannel.connection_id.in_(connection_ids), WatchChannel.kind == WatchKind.EVENTS,
        WatchChannel.stop_requested_at.is_(None), WatchChannel.expires_at > now)))
