"""A local stand-in for the Microsoft identity platform v2.0 and Microsoft Graph v1.0 calendars.

Paths mirror the real services so only base URLs change between sandbox and production:

    <base>/common/oauth2/v2.0/authorize      consent page (or `emulator_auto=allow|deny` for tests)
    <base>/common/oauth2/v2.0/token          authorization_code and refresh_token grants
    <base>/v1.0/me, /v1.0/me/calendars, /v1.0/me/calendars/{id}/calendarView/delta,
    <base>/v1.0/me/calendars/{id}/events, /v1.0/me/events/{id}
    <base>/_emulator/...                     JSON control API for tests in another process

State lives in a `MicrosoftState` (thread-safe, in memory). Tests script it directly in-process or through
the control API. Behaviour follows docs/provider-apis.md sections 3, 4 and 7: rotating refresh tokens,
AADSTS error bodies, calendarView delta with server-side recurrence expansion, transactionId de-duplication,
If-Match preconditions and one-shot faults.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, FR, MO, MONTHLY, SA, SU, TH, TU, WE, WEEKLY, YEARLY, rrule
from flask import Flask, Response, g, has_request_context, jsonify, redirect, render_template_string, request
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from sandbox import consent
from sandbox.push import Delivery, PushSender, address_allowed, validate
from sandbox.threads import locked
from sandbox.ui import UiCalendar, UiEvent, render

DEFAULT_ACCOUNT = "sandbox.user@outlook.com"
DEFAULT_CLIENT_ID = "3c8e9f5a-0b1d-4a6e-9d52-5a11d80c1e70"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_DELTA_PAGE_SIZE = 10
DEFAULT_CALENDAR_PAGE_SIZE = 10
ACCESS_TOKEN_SECONDS = 3599
CODE_LIFETIME = timedelta(minutes=10)
REFRESH_TOKEN_MAX_INACTIVE = timedelta(days=90)
OIDC_SCOPES = {"openid", "email", "profile", "offline_access"}


class GraphError(Exception):
    """A Graph API failure, rendered as {"error": {"code", "message", "innerError"}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class TokenError(Exception):
    """A token-endpoint failure, rendered in the AADSTS format."""

    def __init__(self, error: str, aadsts: int, message: str, status: int = 400):
        super().__init__(message)
        self.error, self.aadsts, self.message, self.status = error, aadsts, message, status


# ---------------------------------------------------------------------------------------------- small helpers


def _graph_id(seed: str | None = None) -> str:
    """Graph ids are long base64 strings that may contain '/', '+' and '=' (clients must URL-encode them)."""
    raw = hashlib.sha256(seed.encode()).digest() if seed else secrets.token_bytes(32)
    return "AAMkAG" + base64.b64encode(raw).decode()


def _change_key(*parts: str) -> str:
    raw = hashlib.sha256("|".join(parts).encode()).digest()[:16] if parts else secrets.token_bytes(16)
    return base64.b64encode(raw).decode()


def _ical_uid(seed: str | None = None) -> str:
    tail = hashlib.sha256(seed.encode()).hexdigest()[:32] if seed else secrets.token_hex(16)
    return "040000008200E00074C5B7101A82E00800000000" + tail.upper()


def _format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _format_local(value: datetime) -> str:
    """Graph's dateTime: wall time without offset, seven fractional digits."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _aad_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _zone(name: str | None) -> ZoneInfo:
    """Graph takes a Windows zone id or an IANA name. The Windows ids are looked up in CLDR's table as icalendar
    ships it, independently of the app's own mapping, so the emulator does not agree with the app by construction."""
    name = name or "UTC"
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdb folder such as "Europe"
        raise GraphError(400, "TimeZoneNotSupportedException",
                         f"A valid TimeZone value must be specified. The following TimeZone value is not "
                         f"supported: '{name}'.") from None


def _parse_local(value: str, zone: ZoneInfo) -> datetime:
    """Graph dateTime -> naive wall time in `zone` (an offset, if a client sends one, is honoured)."""
    try:
        parsed = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
    except (AttributeError, ValueError) as exc:
        raise GraphError(400, "ErrorInvalidRequest", f"Cannot convert the literal '{value}' to DateTime.") from exc
    return parsed.astimezone(zone).replace(tzinfo=None) if parsed.tzinfo else parsed


def _parse_window_bound(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidParameter", f"The value '{value}' of parameter is invalid.") from exc
    # Without an offset the window is UTC, whatever outlook.timezone says.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _body_preview(body: dict[str, Any] | None) -> str:
    content = (body or {}).get("content") or ""
    if (body or {}).get("contentType") == "html":
        content = html.unescape(re.sub(r"<[^>]+>", " ", content))
    return " ".join(content.split())[:255]


def _preferences() -> dict[str, str]:
    """Parse every `Prefer` header: odata.maxpagesize=50, outlook.timezone="Pacific Standard Time"."""
    found: dict[str, str] = {}
    for header in request.headers.getlist("Prefer"):
        for name, value in re.findall(r'([\w.-]+)\s*=\s*("[^"]*"|[^,\s]+)', header):
            found[name.lower()] = value.strip('"')
    return found


# ---------------------------------------------------------------------------------------------- recurrence

_WEEKDAYS = {"monday": MO, "tuesday": TU, "wednesday": WE, "thursday": TH, "friday": FR, "saturday": SA,
             "sunday": SU}
_WEEK_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_FREQUENCIES = {"daily": DAILY, "weekly": WEEKLY, "absoluteMonthly": MONTHLY, "relativeMonthly": MONTHLY,
                "absoluteYearly": YEARLY, "relativeYearly": YEARLY}


def _pattern_options(pattern: dict[str, Any], first: datetime) -> dict[str, Any]:
    kind = pattern["type"]
    options: dict[str, Any] = {"interval": int(pattern.get("interval") or 1)}
    days = [_WEEKDAYS[day.lower()] for day in pattern.get("daysOfWeek") or []]
    if kind == "weekly":
        options["byweekday"] = days or [first.weekday()]
        options["wkst"] = _WEEKDAYS[(pattern.get("firstDayOfWeek") or "sunday").lower()]
    if kind in ("absoluteMonthly", "absoluteYearly"):
        options["bymonthday"] = int(pattern["dayOfMonth"])
    if kind in ("relativeMonthly", "relativeYearly"):
        options["byweekday"] = days
        options["bysetpos"] = _WEEK_INDEX[(pattern.get("index") or "first").lower()]
    if kind in ("absoluteYearly", "relativeYearly"):
        options["bymonth"] = int(pattern["month"])
    return options


def _range_options(recurrence_range: dict[str, Any]) -> dict[str, Any]:
    kind = recurrence_range.get("type", "noEnd")
    if kind == "endDate":
        return {"until": datetime.combine(date.fromisoformat(recurrence_range["endDate"]), time.max)}
    if kind == "numbered":
        return {"count": int(recurrence_range["numberOfOccurrences"])}
    if kind == "noEnd":
        return {}
    raise ValueError(kind)


def _series_rule(recurrence: dict[str, Any], start_local: datetime) -> rrule:
    """The series as a dateutil rule over naive wall times in the series' zone (so DST keeps 09:00 at 09:00)."""
    try:
        pattern, recurrence_range = recurrence["pattern"], recurrence["range"]
        start_date = recurrence_range.get("startDate")
        first = datetime.combine(date.fromisoformat(start_date), start_local.time()) if start_date else start_local
        return rrule(_FREQUENCIES[pattern["type"]], dtstart=first, **_pattern_options(pattern, first),
                     **_range_options(recurrence_range))
    except (KeyError, TypeError, ValueError) as exc:
        raise GraphError(400, "ErrorInvalidRequest", "The recurrence pattern or range is invalid.") from exc


# ---------------------------------------------------------------------------------------------- state records


@dataclass
class ClientApp:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any http://localhost or 127.0.0.1 URI (sandbox convenience)

    def accepts_redirect(self, uri: str) -> bool:
        if self.redirect_uris:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and parts.hostname in ("localhost", "127.0.0.1")


@dataclass
class Account:
    email: str
    display_name: str
    user_id: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class Calendar:
    calendar_id: str
    owner: str
    name: str
    color: str = "auto"
    hex_color: str = ""
    is_default: bool = False
    can_edit: bool = True


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    email: str
    scopes: list[str]
    code_challenge: str
    issued_at: datetime
    redeemed: bool = False


@dataclass
class _RefreshToken:
    client_id: str
    email: str
    scopes: list[str]
    issued_at: datetime
    last_used_at: datetime
    replaced_at: datetime | None = None  # set when a refresh rotated it


@dataclass
class _AccessToken:
    email: str
    expires_at: datetime


@dataclass
class _StoredEvent:
    calendar_id: str
    data: dict[str, Any]  # Graph properties; start/end in the event's own zone
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # exceptions, by original local start
    deleted_occurrences: set[str] = field(default_factory=set)


@dataclass
class _Instance:
    """What calendarView sees: a single event, an occurrence or an exception, with absolute start/end."""

    data: dict[str, Any]
    start: datetime
    end: datetime


@dataclass
class _DeltaState:
    calendar_id: str
    window: tuple[datetime, datetime]
    snapshot: dict[str, str]  # id -> changeKey the client has seen


@dataclass
class _Round:
    state: _DeltaState  # what the deltaLink of this round will stand for
    rows: list[_Instance | str]  # str: id of a removed item


@dataclass
class _Subscription:
    id: str
    email: str
    calendar_id: str
    resource: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime


# Outlook event subscriptions: the live service refuses more than 10,070 minutes (the documentation says 10,080).
SUBSCRIPTION_MAX_MINUTES = 10_070
# Graph retries a notification that did not get a 2xx for up to four hours; here a few times, quicker.
NOTIFICATION_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
_EVENTS_RESOURCE = re.compile(r"/?me/calendars/(?P<calendar>.+)/events")
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"  # consumer accounts' tenant


@dataclass
class _Fault:
    path_prefix: str
    status: int
    body: Any
    headers: dict[str, str]


_WRITABLE_EVENT_FIELDS = {
    "subject", "body", "start", "end", "isAllDay", "location", "attendees", "showAs", "importance", "sensitivity",
    "reminderMinutesBeforeStart", "isReminderOn", "recurrence", "categories", "transactionId", "responseRequested",
    "isOnlineMeeting", "allowNewTimeProposals", "hideAttendees", "locations",
}
# Only the in-process/control API may set these ("as if changed by another client or the organizer"): an
# invitation from elsewhere keeps the organizer's iCalUId, and the user's own answer is in responseStatus.
_SERVER_SIDE_FIELDS = {"isCancelled", "organizer", "isOrganizer", "iCalUId", "responseStatus"}
_READ_ONLY_FIELDS = {
    "@odata.etag", "@odata.type", "changeKey", "createdDateTime", "lastModifiedDateTime", "iCalUId", "webLink",
    "type", "seriesMasterId", "originalStartTimeZone", "originalEndTimeZone", "bodyPreview", "hasAttachments",
    "isCancelled", "organizer", "isOrganizer", "id", "responseStatus", "onlineMeeting", "onlineMeetingUrl",
}


# ---------------------------------------------------------------------------------------------- state


class MicrosoftState(PushSender):
    """Everything the emulator knows. All public methods are safe to call from any thread."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None, refresh_grace_seconds: float = 60.0):
        self._lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.refresh_grace_seconds = refresh_grace_seconds  # how long a rotated refresh token still works
        self.clients: dict[str, ClientApp] = {}
        self.accounts: dict[str, Account] = {}
        self.calendars: dict[str, Calendar] = {}
        self._events: dict[str, _StoredEvent] = {}
        self._occurrences: dict[str, tuple[str, str]] = {}  # occurrence id -> (series master id, local start)
        self._codes: dict[str, _AuthCode] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._revoked_before: dict[str, datetime] = {}  # email -> grants issued before this are dead
        self._inactive: set[str] = set()  # emails whose refresh tokens count as idle for too long
        self._needs_interaction: set[str] = set()
        self._delta_tokens: dict[str, _DeltaState] = {}
        self._skip_tokens: dict[str, tuple[_Round, int]] = {}
        self._expired_tokens: dict[str, tuple[str, _DeltaState, bool]] = {}  # token -> (code, state, location?)
        self._faults: list[_Fault] = []
        self._requests: list[dict[str, Any]] = []
        self._subscriptions: dict[str, _Subscription] = {}
        self.require_https = False  # True: refuse http URLs even on loopback, as the real service does
        self.subscription_max_minutes = SUBSCRIPTION_MAX_MINUTES
        self.grant_minutes: int | None = None  # grant at most this lifetime (the answer is what counts)
        self.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def now(self) -> datetime:
        return self.clock()

    # -- setup -------------------------------------------------------------------------------------------------

    @locked
    def add_client(self, client_id: str, secret: str, redirect_uris: tuple[str, ...] = ()) -> ClientApp:
        self.clients[client_id] = ClientApp(client_id, secret, tuple(redirect_uris))
        return self.clients[client_id]

    @locked
    def add_account(self, email: str, display_name: str | None = None) -> Account:
        """A mailbox, created like Outlook does with its default calendar "Calendar"."""
        email = email.lower()
        if email not in self.accounts:
            name = display_name or email.split("@")[0].replace(".", " ").title()
            self.accounts[email] = Account(email, name)
            self.add_calendar(email, _graph_id(f"calendar:{email}"), "Calendar", is_default=True)
        return self.accounts[email]

    @locked
    def add_calendar(self, email: str, calendar_id: str, name: str, hex_color: str = "", is_default: bool = False,
                     *, color: str = "auto", can_edit: bool = True) -> Calendar:
        account = self.add_account(email)
        if is_default:
            for calendar in self._calendars_of(account.email):
                calendar.is_default = False
        self.calendars[calendar_id] = Calendar(calendar_id, account.email, name, color, hex_color, is_default,
                                               can_edit)
        return self.calendars[calendar_id]

    @locked
    def delete_calendar(self, calendar_id: str) -> None:
        """The owner deletes a calendar (DELETE /me/calendars/{id}; never the default one): its events go with it,
        and every request naming it, or one of its events, answers 404 ErrorItemNotFound."""
        if self.calendars[calendar_id].is_default:
            raise GraphError(400, "ErrorInvalidRequest", "The default calendar cannot be deleted.")
        del self.calendars[calendar_id]
        for event_id in [event_id for event_id, stored in self._events.items() if stored.calendar_id == calendar_id]:
            del self._events[event_id]
        for subscription in [sub for sub in self._subscriptions.values() if sub.calendar_id == calendar_id]:
            self.remove_subscription(subscription.id)

    @locked
    def default_calendar_id(self, email: str) -> str:
        return next(c.calendar_id for c in self._calendars_of(email.lower()) if c.is_default)

    def _calendars_of(self, email: str) -> list[Calendar]:
        return [c for c in self.calendars.values() if c.owner == email]

    # -- events, as if changed by another client ---------------------------------------------------------------

    @locked
    def add_event(self, calendar_id: str, event: dict[str, Any]) -> str:
        """Store an event given in Graph's create-body shape; returns its id."""
        calendar = self._calendar(calendar_id)
        fields = _accepted_fields({k: v for k, v in event.items() if k != "id"}, allow_server_fields=True)
        stored = _StoredEvent(calendar_id, self._new_event_data(self.accounts[calendar.owner], fields, event.get("id")))
        self._events[stored.data["id"]] = stored
        self._notify(calendar_id, stored.data["id"], "created")
        return stored.data["id"]

    @locked
    def update_event(self, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._update(event_id, _accepted_fields(changes, allow_server_fields=True), if_match=None)

    @locked
    def delete_event(self, event_id: str) -> None:
        self._delete(event_id, if_match=None)

    @locked
    def occurrence_id(self, series_id: str, original_start: datetime) -> str:
        """Id of the occurrence that starts at `original_start` (naive wall time in the series' zone)."""
        key = original_start.replace(tzinfo=None).isoformat()
        occurrence_id = _graph_id(f"{series_id}|{key}")
        self._occurrences[occurrence_id] = (series_id, key)
        return occurrence_id

    @locked
    def move_event_later(self, event_id: str, delta: timedelta) -> None:
        stored, _ = self._find(None, event_id)
        changes = {}
        for key in ("start", "end"):
            moved = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stored.data[key]["dateTime"])) + delta
            changes[key] = {"dateTime": moved.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": stored.data[key]["timeZone"]}
        self.update_event(event_id, changes)

    @locked
    def ui_calendars(self) -> list[UiCalendar]:
        return [UiCalendar(calendar.calendar_id, calendar.name, calendar.owner, [
            UiEvent(stored.data["id"], stored.data.get("subject", ""), stored.data["start"]["dateTime"][:16])
            for stored in self._events.values() if stored.calendar_id == calendar.calendar_id])
            for calendar in self.calendars.values()]

    @locked
    def list_events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Stored single events and series masters (not occurrences), rendered in UTC."""
        return [_render_event(e.data, "UTC") for e in self._events.values() if e.calendar_id == calendar_id]

    # -- knobs -------------------------------------------------------------------------------------------------

    @locked
    def expire_delta_tokens(self, calendar_id: str, code: str = "SyncStateNotFound",
                            with_location: bool = False) -> int:
        """Every skip/delta token of the calendar now answers 410 with `code` (optionally with a Location)."""
        expired = 0
        for token, state in list(self._delta_tokens.items()):
            if state.calendar_id == calendar_id:
                self._expired_tokens[token] = (code, self._delta_tokens.pop(token), with_location)
                expired += 1
        for token, (sync_round, _) in list(self._skip_tokens.items()):
            if sync_round.state.calendar_id == calendar_id:
                del self._skip_tokens[token]
                self._expired_tokens[token] = (code, sync_round.state, with_location)
                expired += 1
        return expired

    @locked
    def fail_next(self, path_prefix: str, status: int, body: Any = None, headers: dict[str, str] | None = None):
        """The next request whose path starts with `path_prefix` gets this response instead (one shot)."""
        self._faults.append(_Fault(path_prefix, status, body, dict(headers or {})))

    @locked
    def expire_access_tokens(self) -> None:
        for token in self._access_tokens.values():
            token.expires_at = self.now() - timedelta(seconds=1)

    @locked
    def revoke_grants(self, email: str) -> None:
        """Like "revoke sessions" / a password reset: every refresh token issued so far dies (AADSTS50173), and
        Graph asks the subscriptions' owner to reauthorize them."""
        self._revoked_before[email.lower()] = self.now() + timedelta(microseconds=1)
        for subscription in [sub for sub in self._subscriptions.values() if sub.email == email.lower()]:
            self.send_lifecycle(subscription.id, "reauthorizationRequired")

    @locked
    def expire_refresh_tokens(self, email: str) -> None:
        """The account's refresh tokens count as unused for longer than 90 days (AADSTS700082)."""
        self._inactive.add(email.lower())

    @locked
    def require_interaction(self, email: str) -> None:
        """The next refresh for the account needs MFA (interaction_required, AADSTS50076)."""
        self._needs_interaction.add(email.lower())

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    @locked
    def clear_requests(self) -> None:
        self._requests.clear()

    @locked
    def _log_request(self, entry: dict[str, Any]) -> None:
        self._requests.append(entry)

    @locked
    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                self._faults.remove(fault)
                return fault
        return None

    # -- change notifications (subscriptions) -------------------------------------------------------------------

    @locked
    def prepare_subscription(self, account: Account, body: dict[str, Any]) -> _Subscription:
        """Check a POST /subscriptions body; the caller validates the URLs (outside the lock), then stores it."""
        resource = str(body.get("resource") or "")
        match = _EVENTS_RESOURCE.fullmatch(resource)
        if match is None:
            raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported by this emulator.")
        calendar = self._calendar(match["calendar"], account)
        change_types = frozenset(str(body.get("changeType") or "").split(","))
        if not change_types or not change_types <= {"created", "updated", "deleted"}:
            raise GraphError(400, "InvalidRequest", "Invalid changeType.")
        urls = [body.get("notificationUrl"), body.get("lifecycleNotificationUrl")]
        for url in urls:
            if url is not None and (not isinstance(url, str)
                                    or not address_allowed(url, require_https=self.require_https)):
                raise GraphError(400, "InvalidRequest", "The Notification Url must be a valid absolute URL using "
                                 "HTTPS.")
        if urls[0] is None:
            raise GraphError(400, "InvalidRequest", "notificationUrl is required.")
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
            raise GraphError(400, "InvalidRequest", "clientState must be at most 128 characters.")
        expiration = self._expiration(body.get("expirationDateTime"))
        return _Subscription(str(uuid.uuid4()), account.email, calendar.calendar_id, resource, change_types,
                             urls[0], urls[1], client_state, expiration)

    def _expiration(self, value: Any) -> datetime:
        try:
            requested = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00"))
        except ValueError:
            raise GraphError(400, "InvalidRequest", "expirationDateTime is not a valid date.") from None
        requested = requested if requested.tzinfo else requested.replace(tzinfo=UTC)
        now = self.now()
        if requested <= now:
            raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
        if requested > now + timedelta(minutes=self.subscription_max_minutes):
            raise GraphError(400, "InvalidRequest", "Subscription expiration can only be "
                             f"{self.subscription_max_minutes} minutes in the future.")
        if self.grant_minutes is not None:
            requested = min(requested, now + timedelta(minutes=self.grant_minutes))
        return requested

    @locked
    def store_subscription(self, subscription: _Subscription) -> dict[str, Any]:
        self._subscriptions[subscription.id] = subscription
        return self._subscription_json(subscription)

    @locked
    def renew_subscription(self, account: Account, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        subscription = self._subscription(account, subscription_id)
        subscription.expiration = self._expiration(body.get("expirationDateTime"))
        return self._subscription_json(subscription)

    @locked
    def get_subscription(self, account: Account, subscription_id: str) -> dict[str, Any]:
        return self._subscription_json(self._subscription(account, subscription_id))

    @locked
    def delete_subscription(self, account: Account, subscription_id: str) -> None:
        del self._subscriptions[self._subscription(account, subscription_id).id]

    def _subscription(self, account: Account, subscription_id: str) -> _Subscription:
        self._drop_expired()
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None or subscription.email != account.email:
            raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{subscription_id}'")
        return subscription

    @staticmethod
    def _subscription_json(subscription: _Subscription) -> dict[str, Any]:
        context = f"{_graph_base()}/$metadata#subscriptions/$entity" if has_request_context() else None
        return {"@odata.context": context, "id": subscription.id,
                "resource": subscription.resource, "applicationId": DEFAULT_CLIENT_ID,
                "changeType": ",".join(sorted(subscription.change_types)), "clientState": subscription.client_state,
                "notificationUrl": subscription.notification_url,
                "lifecycleNotificationUrl": subscription.lifecycle_url,
                "expirationDateTime": _format_utc(subscription.expiration), "creatorId": None,
                "latestSupportedTlsVersion": "v1_2", "notificationContentType": "application/json"}

    @locked
    def subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions still running (expired ones are dropped), for tests."""
        self._drop_expired()
        return [self._subscription_json(subscription) for subscription in self._subscriptions.values()]

    @locked
    def send_lifecycle(self, subscription_id: str, event: str) -> None:
        """A lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed) to the subscription's
        lifecycleNotificationUrl."""
        subscription = self._subscriptions[subscription_id]
        if subscription.lifecycle_url is None:
            return
        item = {"subscriptionId": subscription.id, "subscriptionExpirationDateTime":
                _format_utc(subscription.expiration), "tenantId": TENANT_ID,
                "clientState": subscription.client_state, "lifecycleEvent": event}
        self._deliver(subscription.lifecycle_url, [item])

    @locked
    def remove_subscription(self, subscription_id: str) -> None:
        """Graph ends a subscription on its own (the mailbox changed, the grant went away): subscriptionRemoved."""
        self.send_lifecycle(subscription_id, "subscriptionRemoved")
        del self._subscriptions[subscription_id]

    @locked
    def forget_subscriptions(self) -> None:
        """End every subscription at once, without lifecycle notifications (a test's must not outlive its server)."""
        self._subscriptions.clear()

    @locked
    def lose_notifications(self, lost: bool = True) -> None:
        self.deliveries.lose_notifications = lost

    @locked
    def set_push_policy(self, require_https: bool | None = None, max_minutes: int | None = None,
                        grant_minutes: int | None = None) -> None:
        if require_https is not None:
            self.require_https = require_https
        if max_minutes is not None:
            self.subscription_max_minutes = max_minutes
        self.grant_minutes = grant_minutes

    def _drop_expired(self) -> None:
        now = self.now()
        for subscription_id in [key for key, sub in self._subscriptions.items() if sub.expiration <= now]:
            del self._subscriptions[subscription_id]

    def _notify(self, calendar_id: str, event_id: str, change_type: str) -> None:
        if not self._subscriptions:
            return
        self._drop_expired()
        for subscription in list(self._subscriptions.values()):
            if subscription.calendar_id != calendar_id or change_type not in subscription.change_types:
                continue
            user_id = self.accounts[subscription.email].user_id
            resource = f"Users/{user_id}/Events/{event_id}"
            item = {"subscriptionId": subscription.id, "subscriptionExpirationDateTime":
                    _format_utc(subscription.expiration), "changeType": change_type, "resource": resource,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                                     "@odata.etag": f'W/"{_change_key(event_id)}"', "id": event_id},
                    "clientState": subscription.client_state, "tenantId": TENANT_ID}
            self._deliver(subscription.notification_url, [item])

    def _deliver(self, url: str, items: list[dict[str, Any]]) -> None:
        body = json.dumps({"value": items}).encode()
        self.deliveries.send(Delivery(url, body, {"Content-Type": "application/json; charset=utf-8"},
                                      lambda status: True, NOTIFICATION_RETRY_DELAYS))

    # -- identity ----------------------------------------------------------------------------------------------

    @locked
    def issue_code(self, client_id: str, redirect_uri: str, email: str, scopes: list[str], challenge: str) -> str:
        code = "M.C5" + secrets.token_urlsafe(32)
        self._codes[code] = _AuthCode(client_id, redirect_uri, email.lower(), scopes, challenge, self.now())
        return code

    def client_for(self, form: dict[str, str], authorization: str | None) -> ClientApp:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        client = self.clients.get(client_id)
        if client is None:
            raise TokenError("unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory.")
        if not secret:
            raise TokenError("invalid_client", 7000218, "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.", status=401)
        if not secrets.compare_digest(secret, client.secret):
            raise TokenError("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                             "sent in the request is the client secret value, not the client secret ID, for a "
                             f"secret added to app '{client_id}'.", status=401)
        return client

    @locked
    def redeem_code(self, client: ClientApp, form: dict[str, str]) -> dict[str, Any]:
        grant = self._codes.get(form.get("code", ""))
        if grant is None or self.now() - grant.issued_at > CODE_LIFETIME:
            raise TokenError("invalid_grant", 70008, "The provided authorization code or refresh token has "
                             "expired due to inactivity. Send a new interactive authorization request for this "
                             "user and resource.")
        if grant.redeemed:
            raise TokenError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please "
                             "retry with a new valid code or use an existing refresh token.")
        grant.redeemed = True  # any attempt burns the code, as a failed PKCE check must not allow guessing
        if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
            raise TokenError("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid. "
                             "The redirect_uri or client does not match the authorization request.")
        _verify_pkce(grant.code_challenge, form.get("code_verifier"))
        return self._issue_tokens(client.client_id, grant.email, grant.scopes)

    @locked
    def redeem_refresh_token(self, client: ClientApp, form: dict[str, str]) -> dict[str, Any]:
        presented = form.get("refresh_token", "")
        token = self._refresh_tokens.get(presented)
        if token is None or token.client_id != client.client_id:
            raise TokenError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        self._check_refresh_token_alive(token)
        if token.email in self._needs_interaction:
            self._needs_interaction.discard(token.email)
            raise TokenError("interaction_required", 50076, "Due to a configuration change made by your "
                             "administrator, or because you moved to a new location, you must use multi-factor "
                             "authentication to access '00000003-0000-0000-c000-000000000000'.")
        token.last_used_at = self.now()
        token.replaced_at = token.replaced_at or token.last_used_at
        return self._issue_tokens(client.client_id, token.email, token.scopes)

    def _check_refresh_token_alive(self, token: _RefreshToken) -> None:
        now = self.now()
        if token.issued_at < self._revoked_before.get(token.email, token.issued_at):
            raise TokenError("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a "
                             "fresh auth token is needed. The user might have changed or reset their password. "
                             f"The grant was issued on '{_aad_timestamp(token.issued_at)}'.")
        if token.email in self._inactive or now - token.last_used_at > REFRESH_TOKEN_MAX_INACTIVE:
            raise TokenError("invalid_grant", 700082, "The refresh token has expired due to inactivity. The token "
                             f"was issued on {_aad_timestamp(token.issued_at)} and was inactive for 90.00:00:00.")
        grace = timedelta(seconds=self.refresh_grace_seconds)
        if token.replaced_at is not None and now - token.replaced_at >= grace:
            raise TokenError("invalid_grant", 70008, "The provided authorization code or refresh token has expired "
                             "due to inactivity. Send a new interactive authorization request for this user and "
                             "resource.")

    def _issue_tokens(self, client_id: str, email: str, scopes: list[str]) -> dict[str, Any]:
        now = self.now()
        access_token = "EwB4A8l6BAAU" + secrets.token_urlsafe(48)
        self._access_tokens[access_token] = _AccessToken(email, now + timedelta(seconds=ACCESS_TOKEN_SECONDS))
        # The token endpoint lists the granted resource scopes and the OIDC ones, never offline_access.
        granted = [s for s in scopes if s not in OIDC_SCOPES] + [s for s in ("openid", "profile", "email")
                                                                 if s in scopes]
        body = {"token_type": "Bearer", "scope": " ".join(granted), "expires_in": ACCESS_TOKEN_SECONDS,
                "ext_expires_in": ACCESS_TOKEN_SECONDS, "access_token": access_token}
        if "offline_access" in scopes:
            refresh_token = "M.C5" + secrets.token_urlsafe(64)
            self._refresh_tokens[refresh_token] = _RefreshToken(client_id, email, scopes, now, now)
            body["refresh_token"] = refresh_token
        if "openid" in scopes:
            body["id_token"] = self._id_token(client_id, self.accounts[email], now)
        return body

    @staticmethod
    def _id_token(client_id: str, account: Account, now: datetime) -> str:
        """An unsigned id_token with the claims clients read; it is not meant to be verified."""

        def segment(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        issued = int(now.timestamp())
        claims = {"aud": client_id, "iss": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad"
                  "/v2.0", "iat": issued, "nbf": issued, "exp": issued + ACCESS_TOKEN_SECONDS,
                  "sub": account.user_id, "oid": account.user_id, "email": account.email,
                  "preferred_username": account.email, "name": account.display_name}
        return f"{segment({'typ': 'JWT', 'alg': 'none'})}.{segment(claims)}."

    @locked
    def account_for_access_token(self, header: str | None) -> Account:
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        token = self._access_tokens.get(header[7:].strip())
        if token is None or token.expires_at <= self.now():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        return self.accounts[token.email]

    # -- graph: calendars and events ---------------------------------------------------------------------------

    @locked
    def calendars_page(self, account: Account, top: int, skip: int) -> tuple[list[Calendar], bool]:
        calendars = self._calendars_of(account.email)
        return calendars[skip:skip + top], skip + top < len(calendars)

    @locked
    def calendar_of(self, account: Account, calendar_id: str) -> Calendar:
        return self._calendar(calendar_id, account)

    def _calendar(self, calendar_id: str, account: Account | None = None) -> Calendar:
        calendar = self.calendars.get(calendar_id)
        if calendar is None or (account is not None and calendar.owner != account.email):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return calendar

    @locked
    def create_event(self, account: Account, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        calendar = self._calendar(calendar_id, account)
        if not calendar.can_edit:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        body = _accepted_fields(body, allow_server_fields=False)
        existing = self._event_with_transaction(account, body.get("transactionId"))
        if existing is not None:
            if existing.calendar_id != calendar_id:
                raise GraphError(400, "ErrorDuplicateTransactionId", "Your request can't be completed. The "
                                 "TransactionId specified in the request has already been used to create a "
                                 "different event.")
            return existing.data
        stored = _StoredEvent(calendar_id, self._new_event_data(account, body))
        self._events[stored.data["id"]] = stored
        self._notify(calendar_id, stored.data["id"], "created")
        return stored.data

    def _event_with_transaction(self, account: Account, transaction_id: str | None) -> _StoredEvent | None:
        if not transaction_id:
            return None
        return next((e for e in self._events.values() if e.data.get("transactionId") == transaction_id
                     and self.calendars[e.calendar_id].owner == account.email), None)

    def _new_event_data(self, account: Account, body: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        if "start" not in body or "end" not in body:
            raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. An event must have a "
                             "start and an end.")
        now = _format_utc(self.now())
        data = {
            "id": event_id or _graph_id(), "createdDateTime": now, "lastModifiedDateTime": now,
            "changeKey": _change_key(), "categories": [], "transactionId": None, "iCalUId": _ical_uid(),
            "reminderMinutesBeforeStart": 15, "isReminderOn": True, "subject": "",
            "body": {"contentType": "text", "content": ""}, "importance": "normal", "sensitivity": "normal",
            "isAllDay": False, "isCancelled": False, "isOrganizer": True, "responseRequested": True,
            "showAs": "busy", "type": "singleInstance", "seriesMasterId": None,
            "location": {"displayName": ""}, "attendees": [], "recurrence": None,
            "organizer": {"emailAddress": {"name": account.display_name, "address": account.email}},
        }
        _apply_changes(data, body)
        return data

    def _find(self, account: Account | None, event_id: str) -> tuple[_StoredEvent, str | None]:
        """The stored event for an id, plus the occurrence key when the id names an occurrence of a series."""
        stored, key = self._events.get(event_id), None
        if stored is None and event_id in self._occurrences:
            series_id, key = self._occurrences[event_id]
            stored = self._events.get(series_id)
            if stored is not None and key in stored.deleted_occurrences:
                stored = None
        if stored is None or (account is not None and self.calendars[stored.calendar_id].owner != account.email):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return stored, key

    @locked
    def get_event(self, account: Account, event_id: str) -> dict[str, Any]:
        stored, key = self._find(account, event_id)
        return stored.data if key is None else self._occurrence(stored, key).data

    @locked
    def patch_event(self, account: Account, event_id: str, changes: dict[str, Any], if_match: str | None):
        self._find(account, event_id)
        changes = _accepted_fields(changes, allow_server_fields=False)
        if "transactionId" in changes:
            raise GraphError(400, "ErrorInvalidRequest", "The property 'transactionId' can only be set on create.")
        return self._update(event_id, changes, if_match)

    @locked
    def respond_to_event(self, account: Account, event_id: str, action: str) -> None:
        """POST /me/events/{id}/accept, /decline or /tentativelyAccept: the account's answer, as its
        responseStatus (with the time); the organizer of the meeting cannot answer it."""
        stored, key = self._find(account, event_id)
        data = stored.data if key is None else self._occurrence(stored, key).data
        if data.get("isOrganizer", True):
            raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to "
                             "this meeting because you're the meeting organizer.")
        response = {"accept": "accepted", "decline": "declined", "tentativelyAccept": "tentativelyAccepted"}[action]
        self._update(event_id, {"responseStatus": {"response": response, "time": _format_utc(self.now())}},
                     if_match=None)

    @locked
    def remove_event(self, account: Account, event_id: str, if_match: str | None) -> None:
        self._find(account, event_id)
        self._delete(event_id, if_match)

    def _update(self, event_id: str, changes: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        stored, key = self._find(None, event_id)
        if key is None:
            _check_if_match(stored.data, if_match)
            updated = copy.deepcopy(stored.data)  # validate fully before anything is stored
            _apply_changes(updated, changes)
            stored.data = updated | {"changeKey": _change_key(), "lastModifiedDateTime": _format_utc(self.now())}
            self._notify(stored.calendar_id, event_id, "updated")
            return stored.data
        _check_if_match(self._occurrence(stored, key).data, if_match)
        if "recurrence" in changes:
            raise GraphError(400, "ErrorInvalidRequest", "An occurrence cannot carry its own recurrence.")
        previous = stored.overrides.get(key)
        stored.overrides[key] = (previous or {}) | changes | {"changeKey": _change_key()}
        try:
            data = self._occurrence(stored, key).data
            self._notify(stored.calendar_id, event_id, "updated")
            return data
        except GraphError:
            stored.overrides[key] = previous
            if previous is None:
                del stored.overrides[key]
            raise

    def _delete(self, event_id: str, if_match: str | None) -> None:
        stored, key = self._find(None, event_id)
        if key is None:
            _check_if_match(stored.data, if_match)
            del self._events[event_id]
            self._notify(stored.calendar_id, event_id, "deleted")
            return
        _check_if_match(self._occurrence(stored, key).data, if_match)
        stored.overrides.pop(key, None)
        stored.deleted_occurrences.add(key)
        self._notify(stored.calendar_id, event_id, "deleted")

    # -- graph: calendarView expansion ---------------------------------------------------------------------

    def _occurrence(self, series: _StoredEvent, key: str) -> _Instance:
        master = series.data
        zone = _zone(master["start"]["timeZone"])
        first_start = _parse_local(master["start"]["dateTime"], zone)
        first_end = _absolute(master["end"]).astimezone(zone).replace(tzinfo=None)
        local_start = datetime.fromisoformat(key)
        occurrence_id = self.occurrence_id(master["id"], local_start)
        data = {k: v for k, v in master.items() if k != "transactionId"}
        data |= {
            "recurrence": None,
            "id": occurrence_id, "type": "occurrence", "seriesMasterId": master["id"],
            "iCalUId": _ical_uid(occurrence_id), "changeKey": _change_key(master["changeKey"], key),
            "start": {"dateTime": _format_local(local_start), "timeZone": master["start"]["timeZone"]},
            "end": {"dateTime": _format_local(local_start + (first_end - first_start)),
                    "timeZone": master["start"]["timeZone"]},
        }
        override = series.overrides.get(key)
        if override:
            _apply_changes(data, {k: v for k, v in override.items() if k != "changeKey"})
            data |= {"type": "exception", "changeKey": _change_key(master["changeKey"], override["changeKey"])}
        return _Instance(data, _absolute(data["start"]), _absolute(data["end"]))

    def _series_instances(self, series: _StoredEvent, window: tuple[datetime, datetime]) -> list[_Instance]:
        master = series.data
        zone = _zone(master["start"]["timeZone"])
        start_local = _parse_local(master["start"]["dateTime"], zone)
        # Pad generously so exceptions moved into the window from a nearby original slot are still seen.
        pad = _absolute(master["end"]) - _absolute(master["start"]) + timedelta(days=31)
        low = window[0].astimezone(zone).replace(tzinfo=None) - pad
        high = window[1].astimezone(zone).replace(tzinfo=None) + pad
        keys = [local.isoformat() for local in _series_rule(master["recurrence"], start_local).between(low, high,
                                                                                                      inc=True)]
        return [self._occurrence(series, key) for key in keys if key not in series.deleted_occurrences]

    def _instances_in_window(self, calendar_id: str, window: tuple[datetime, datetime]) -> dict[str, _Instance]:
        found: dict[str, _Instance] = {}
        for stored in self._events.values():
            if stored.calendar_id != calendar_id:
                continue
            if stored.data["recurrence"]:
                candidates = self._series_instances(stored, window)
            else:
                candidates = [_Instance(stored.data, _absolute(stored.data["start"]), _absolute(stored.data["end"]))]
            for instance in candidates:
                if instance.start < window[1] and instance.end > window[0]:
                    found[instance.data["id"]] = instance
        return found

    # -- graph: delta ------------------------------------------------------------------------------------------

    @locked
    def start_delta(self, account: Account, calendar_id: str, window: tuple[datetime, datetime]) -> _Round:
        self._calendar(calendar_id, account)
        return self._open_round(_DeltaState(calendar_id, window, {}), first=True)

    @locked
    def continue_delta(self, account: Account, calendar_id: str, token: str, kind: str) -> tuple[_Round, int]:
        """Resolve a $skiptoken (the rest of a round) or a $deltatoken (a new round of changes since)."""
        self._calendar(calendar_id, account)
        if token in self._expired_tokens:
            code, state, with_location = self._expired_tokens[token]
            headers = {"Location": _restart_url(state)} if with_location else {}
            raise GraphError(410, code, "The sync state generation is not found or has expired. Please resync "
                             "the folder.", headers)
        if kind == "$skiptoken" and token in self._skip_tokens:
            sync_round, offset = self._skip_tokens[token]
        elif kind == "$deltatoken" and token in self._delta_tokens:
            sync_round, offset = self._open_round(self._delta_tokens[token], first=False), 0
        else:
            raise GraphError(400, "ErrorInvalidParameter", f"The value of the {kind} parameter is invalid.")
        if sync_round.state.calendar_id != calendar_id:
            raise GraphError(400, "ErrorInvalidParameter", "The sync token belongs to a different calendar.")
        return sync_round, offset

    def _open_round(self, since: _DeltaState, first: bool) -> _Round:
        current = self._instances_in_window(since.calendar_id, since.window)
        changed = [i for i in current.values() if first or since.snapshot.get(i.data["id"]) != i.data["changeKey"]]
        removed = [] if first else [event_id for event_id in since.snapshot if event_id not in current]
        snapshot = {event_id: instance.data["changeKey"] for event_id, instance in current.items()}
        rows: list[_Instance | str] = sorted(changed, key=lambda i: i.start)
        return _Round(_DeltaState(since.calendar_id, since.window, snapshot), rows + removed)

    @locked
    def page_of(self, sync_round: _Round, offset: int, size: int) -> tuple[list[_Instance | str], str, str]:
        """Rows for one page plus ("$skiptoken" | "$deltatoken", token) for the link that follows it."""
        rows = sync_round.rows[offset:offset + size]
        token = secrets.token_urlsafe(24)
        if offset + size < len(sync_round.rows):
            self._skip_tokens[token] = (sync_round, offset + size)
            return rows, "$skiptoken", token
        self._delta_tokens[token] = sync_round.state
        return rows, "$deltatoken", token


# ---------------------------------------------------------------------------------------------- event helpers


def _absolute(value: dict[str, str]) -> datetime:
    zone = _zone(value.get("timeZone"))
    return _parse_local(value["dateTime"], zone).replace(tzinfo=zone).astimezone(UTC)


def _accepted_fields(body: dict[str, Any], *, allow_server_fields: bool) -> dict[str, Any]:
    """The properties a write may change; unknown names are an error, read-only ones are dropped (as Graph does)."""
    allowed = _WRITABLE_EVENT_FIELDS | (_SERVER_SIDE_FIELDS if allow_server_fields else set())
    for name in body:
        if name not in allowed and name not in _READ_ONLY_FIELDS:
            raise GraphError(400, "RequestBodyRead", f"The property '{name}' does not exist on type "
                             "'microsoft.graph.event'. Make sure to only use property names that are defined by "
                             "the type or mark the type as open type.")
    return {name: value for name, value in body.items() if name in allowed}


def _normalized_time(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{name}' must have a dateTime.")
    zone_name = value.get("timeZone") or "UTC"
    return {"dateTime": _format_local(_parse_local(value["dateTime"], _zone(zone_name))), "timeZone": zone_name}


def _apply_changes(data: dict[str, Any], changes: dict[str, Any]) -> None:
    """Merge accepted properties into event data, then check the result still makes sense."""
    for name, value in changes.items():
        if name in ("start", "end"):
            data[name] = _normalized_time(value, name)
            data["originalStartTimeZone" if name == "start" else "originalEndTimeZone"] = data[name]["timeZone"]
        else:
            data[name] = value
    if data.get("recurrence"):
        _series_rule(data["recurrence"], _parse_local(data["start"]["dateTime"], _zone(data["start"]["timeZone"])))
    if data.get("type") in ("singleInstance", "seriesMaster"):
        data["type"] = "seriesMaster" if data.get("recurrence") else "singleInstance"
    _check_times(data)


def _check_times(data: dict[str, Any]) -> None:
    start, end = _absolute(data["start"]), _absolute(data["end"])
    if end < start:
        raise GraphError(400, "ErrorInvalidRequest", "The start time must be before the end time.")
    if data.get("isAllDay"):
        local_times = [_parse_local(data[k]["dateTime"], _zone(data[k]["timeZone"])).time() for k in ("start", "end")]
        if any(t != time(0) for t in local_times) or end == start:
            raise GraphError(400, "ErrorInvalidRequest", "All-day events must start and end at midnight.")


def _check_if_match(data: dict[str, Any], if_match: str | None) -> None:
    def bare(tag: str) -> str:
        return tag.strip().removeprefix("W/").strip('"')

    if if_match and if_match.strip() != "*" and bare(if_match) != data["changeKey"]:
        raise GraphError(412, "ErrorIrresolvableConflict", "The send or update operation could not be performed "
                         "because the change key passed in the request does not match the current change key for "
                         "the item.")


def _verify_pkce(challenge: str, verifier: str | None) -> None:
    if not verifier:
        raise TokenError("invalid_grant", 50148, "The code_verifier does not match the code_challenge supplied in "
                         "the authorization request for PKCE.")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    if not secrets.compare_digest(digest, challenge):
        raise TokenError("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in "
                         "the authorization request.")


def _render_time(value: dict[str, str], is_all_day: bool, zone_name: str) -> dict[str, str]:
    if is_all_day:  # all-day events float: midnight in whatever zone the client asked for
        return {"dateTime": value["dateTime"][:10] + "T00:00:00.0000000", "timeZone": zone_name}
    return {"dateTime": _format_local(_absolute(value).astimezone(_zone(zone_name)).replace(tzinfo=None)),
            "timeZone": zone_name}


def _render_event(data: dict[str, Any], zone_name: str) -> dict[str, Any]:
    rendered = {"@odata.etag": f'W/"{data["changeKey"]}"'}
    rendered |= {k: v for k, v in data.items() if not (k == "transactionId" and v is None)}
    rendered["start"] = _render_time(data["start"], data["isAllDay"], zone_name)
    rendered["end"] = _render_time(data["end"], data["isAllDay"], zone_name)
    rendered["bodyPreview"] = _body_preview(data.get("body"))
    rendered["hasAttachments"] = False
    rendered["webLink"] = ("https://outlook.live.com/owa/?itemid=" + quote(data["id"], safe="")
                           + "&exvsurl=1&path=/calendar/item")
    rendered["responseStatus"] = data.get("responseStatus") or {
        "response": "organizer" if data["isOrganizer"] else "none", "time": "0001-01-01T00:00:00Z"}
    return rendered


def _restart_url(state: _DeltaState) -> str:
    query = urlencode({"startDateTime": state.window[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "endDateTime": state.window[1].strftime("%Y-%m-%dT%H:%M:%SZ"), "$deltatoken": ""})
    return f"{_graph_base()}/me/calendars/{quote(state.calendar_id, safe='')}/calendarView/delta?{query}"


def _graph_base() -> str:
    return request.url_root.rstrip("/") + "/v1.0"


def _calendar_json(calendar: Calendar, account: Account) -> dict[str, Any]:
    return {
        "id": calendar.calendar_id, "name": calendar.name, "color": calendar.color, "hexColor": calendar.hex_color,
        "isDefaultCalendar": calendar.is_default, "changeKey": _change_key(calendar.calendar_id, calendar.name),
        "canShare": calendar.is_default, "canViewPrivateItems": True, "canEdit": calendar.can_edit,
        "isRemovable": not calendar.is_default, "isTallyingResponses": True,
        "allowedOnlineMeetingProviders": [], "defaultOnlineMeetingProvider": "none",
        "owner": {"name": account.display_name, "address": account.email},
    }


# ---------------------------------------------------------------------------------------------- Flask app

_CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to your account</title><style>{{ style }}</style></head>
<body><main>
<p class="brand"><span class="brand-mark" style="background:#0f6cbd;border-radius:4px">M</span> Microsoft</p>
<h1>Let this app access your info?</h1>
<p class="pretend">{{ pretend }}</p>
<p>The app <strong>{{ client_id }}</strong> would like to:</p>
<ul>{% for scope in scopes %}<li title="{{ scope }}">{{ scope_words(scope) }}</li>{% endfor %}</ul>
<form method="post" action="{{ action }}">
{% for name, value in params %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<label for="login_hint">Account</label>
<select id="login_hint" name="login_hint">{% for account in accounts %}
<option value="{{ account.email }}"{% if account.email == selected %} selected{% endif %}>
{{ account.display_name }} ({{ account.email }})</option>{% endfor %}
</select>
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</div>
</form>
</main></body></html>
"""

_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><main><h1>Sorry, but we're having trouble signing you in.</h1><p>{{ message }}</p></main></body></html>
"""

_FAULT_DEFAULTS = {
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The gateway did not receive a response in time."),
    410: ("SyncStateNotFound", "The sync state generation is not found or has expired."),
}


def create_microsoft_emulator(state: MicrosoftState | None = None) -> Flask:
    state = state or sample_microsoft_state()
    app = Flask(__name__)
    app.config["MICROSOFT_STATE"] = state
    _register_plumbing(app, state)
    _register_identity(app, state)
    _register_graph(app, state)
    _register_control(app, state)
    return app


def _register_plumbing(app: Flask, state: MicrosoftState) -> None:
    @app.before_request
    def log_and_inject_faults():
        g.request_id = str(uuid.uuid4())
        if request.path.startswith("/_emulator"):
            return None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        state._log_request({"method": request.method, "path": request.path, "query": request.args.to_dict(),
                            "headers": headers})
        fault = state._take_fault(request.path)
        return _fault_response(fault) if fault else None

    @app.after_request
    def graph_headers(response: Response) -> Response:
        if request.path.startswith("/v1.0"):
            response.headers["request-id"] = g.get("request_id", "")
            response.headers["client-request-id"] = request.headers.get("client-request-id", g.get("request_id", ""))
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        return response

    @app.errorhandler(GraphError)
    def graph_error(error: GraphError):
        return _graph_error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(TokenError)
    def token_error(error: TokenError):
        return jsonify(_token_error_body(state, error)), error.status


def _fault_response(fault: _Fault) -> Response:
    if fault.body is not None:
        response = jsonify(fault.body) if not isinstance(fault.body, str) else Response(fault.body)
        response.status_code = fault.status
        response.headers.update(fault.headers)
        return response
    code, message = _FAULT_DEFAULTS.get(fault.status, ("generalException", "An unexpected error occurred."))
    headers = dict(fault.headers)
    if fault.status == 429:
        headers.setdefault("Retry-After", "2")
    return _graph_error_response(fault.status, code, message, headers)


def _graph_error_response(status: int, code: str, message: str, headers: dict[str, str]) -> Response:
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": g.get("request_id", ""),
             "client-request-id": request.headers.get("client-request-id", g.get("request_id", ""))}
    response = jsonify({"error": {"code": code, "message": message, "innerError": inner}})
    response.status_code = status
    response.headers.update(headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = ('Bearer realm="", authorization_uri="https://login.microsoftonline'
                                                '.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-'
                                                '000000000000"')
    return response


def _token_error_body(state: MicrosoftState, error: TokenError) -> dict[str, Any]:
    trace_id, correlation_id, timestamp = str(uuid.uuid4()), str(uuid.uuid4()), _aad_timestamp(state.now())
    description = (f"AADSTS{error.aadsts}: {error.message}\r\nTrace ID: {trace_id}\r\n"
                   f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}")
    return {"error": error.error, "error_description": description, "error_codes": [error.aadsts],
            "timestamp": timestamp, "trace_id": trace_id, "correlation_id": correlation_id}


# -- identity routes ---------------------------------------------------------------------------------------------


def _register_identity(app: Flask, state: MicrosoftState) -> None:
    @app.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
    def authorize(tenant: str):
        params = (request.form if request.method == "POST" else request.args).to_dict()
        client = state.clients.get(params.get("client_id", ""))
        if client is None:
            return _error_page(f"AADSTS700016: Application with identifier '{params.get('client_id')}' was not "
                               "found in the directory.")
        redirect_uri = params.get("redirect_uri", "")
        if not client.accepts_redirect(redirect_uri):
            return _error_page(f"AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not "
                               "match the redirect URIs configured for the application.")
        problem = _authorize_problem(params)
        if problem:
            return _redirect_with(redirect_uri, {"error": problem[0], "error_description": problem[1],
                                                 "state": params.get("state", "")})
        decision = params.get("decision") or params.get("emulator_auto")
        if decision is None:
            return _consent_page(state, params)
        return _finish_authorize(state, params, approved=decision in ("accept", "allow"))

    @app.post("/<tenant>/oauth2/v2.0/token")
    def token(tenant: str):
        form = request.form.to_dict()
        client = state.client_for(form, request.headers.get("Authorization"))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return jsonify(state.redeem_code(client, form))
        if grant_type == "refresh_token":
            return jsonify(state.redeem_refresh_token(client, form))
        raise TokenError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                         f"'{grant_type}'.")


def _authorize_problem(params: dict[str, str]) -> tuple[str, str] | None:
    """The (error, error_description) the authorize leg redirects back with, if the request is unacceptable."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "AADSTS700054: response_type 'code' is required for this app."
    if params.get("response_mode", "query") != "query":
        return "invalid_request", "AADSTS900144: this sandbox only answers with response_mode=query."
    if not params.get("scope", "").split():
        return "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'."
    if not params.get("state"):
        return "invalid_request", "AADSTS900144: this client must send a 'state' parameter."
    if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
        return "invalid_request", ("AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge "
                                   "with code_challenge_method=S256.")
    return None


def _consent_page(state: MicrosoftState, params: dict[str, str]) -> Response:
    selected = (params.get("login_hint") or DEFAULT_ACCOUNT).lower()
    state.add_account(selected)
    hidden = [(k, v) for k, v in params.items() if k not in ("login_hint", "decision", "emulator_auto")]
    page = render_template_string(_CONSENT_PAGE, client_id=params["client_id"], scopes=params["scope"].split(),
                                  params=hidden, accounts=list(state.accounts.values()), selected=selected,
                                  action=request.path, style=consent.STYLE, pretend=consent.PRETEND,
                                  scope_words=consent.scope_words)
    return Response(page, mimetype="text/html")


def _finish_authorize(state: MicrosoftState, params: dict[str, str], *, approved: bool) -> Response:
    redirect_uri = params["redirect_uri"]
    if not approved:
        return _redirect_with(redirect_uri, {
            "error": "access_denied", "state": params["state"],
            "error_description": "AADSTS65004: User declined to consent to access the app."})
    email = state.add_account(params.get("login_hint") or DEFAULT_ACCOUNT).email
    code = state.issue_code(params["client_id"], redirect_uri, email, params["scope"].split(),
                            params["code_challenge"])
    return _redirect_with(redirect_uri, {"code": code, "state": params["state"]})


def _redirect_with(uri: str, query: dict[str, str]) -> Response:
    separator = "&" if urlsplit(uri).query else "?"
    return redirect(f"{uri}{separator}{urlencode(query)}", code=302)


def _error_page(message: str) -> tuple[str, int]:
    return render_template_string(_ERROR_PAGE, message=message), 400


# -- graph routes ------------------------------------------------------------------------------------------------


def _register_graph(app: Flask, state: MicrosoftState) -> None:
    def account() -> Account:
        return state.account_for_access_token(request.headers.get("Authorization"))

    def zone_name() -> str:
        name = _preferences().get("outlook.timezone", "UTC")
        _zone(name)
        return name

    def event_response(user: Account, data: dict[str, Any], status: int = 200) -> tuple[Response, int]:
        body = {"@odata.context": f"{_graph_base()}/$metadata#users('{user.user_id}')/events/$entity"}
        body |= _render_event(data, zone_name())
        return jsonify(body), status

    @app.get("/v1.0/me")
    def me():
        user = account()
        return jsonify({"@odata.context": f"{_graph_base()}/$metadata#users/$entity", "id": user.user_id,
                        "userPrincipalName": user.email, "mail": user.email, "displayName": user.display_name,
                        "givenName": user.display_name.split()[0], "surname": user.display_name.split()[-1],
                        "businessPhones": [], "jobTitle": None, "mobilePhone": None, "officeLocation": None,
                        "preferredLanguage": "en-US"})

    @app.get("/v1.0/me/calendars")
    def calendars():
        user = account()
        top = int(request.args.get("$top", DEFAULT_CALENDAR_PAGE_SIZE))
        skip = int(request.args.get("$skip", 0))
        page, has_more = state.calendars_page(user, top, skip)
        body: dict[str, Any] = {"@odata.context": f"{_graph_base()}/$metadata#users('{user.user_id}')/calendars",
                                "value": [_calendar_json(c, user) for c in page]}
        if has_more:
            body["@odata.nextLink"] = f"{_graph_base()}/me/calendars?{urlencode({'$top': top, '$skip': skip + top})}"
        return jsonify(body)

    @app.get("/v1.0/me/calendars/<path:calendar_id>/calendarView/delta")
    def calendar_view_delta(calendar_id: str):
        user = account()
        zone, size = zone_name(), _page_size()
        token_kind = next((k for k in ("$skiptoken", "$deltatoken") if request.args.get(k)), None)
        if token_kind:
            sync_round, offset = state.continue_delta(user, calendar_id, request.args[token_kind], token_kind)
        else:
            sync_round, offset = state.start_delta(user, calendar_id, _requested_window()), 0
        rows, link_kind, token = state.page_of(sync_round, offset, size)
        link = f"{_graph_base()}/me/calendars/{quote(calendar_id, safe='')}/calendarView/delta?{link_kind}={token}"
        body = {"@odata.context": f"{_graph_base()}/$metadata#Collection(event)",
                "@odata.nextLink" if link_kind == "$skiptoken" else "@odata.deltaLink": link,
                "value": [_delta_row(row, zone) for row in rows]}
        response = jsonify(body)
        response.headers["Preference-Applied"] = f'odata.maxpagesize={size}, outlook.timezone="{zone}"'
        return response

    @app.delete("/v1.0/me/calendars/<path:calendar_id>")
    def delete_calendar(calendar_id: str):
        user = account()
        state.calendar_of(user, calendar_id)
        state.delete_calendar(calendar_id)
        return Response(status=204)

    @app.post("/v1.0/me/calendars/<path:calendar_id>/events")
    def create_event(calendar_id: str):
        user = account()
        return event_response(user, state.create_event(user, calendar_id, _json_body()), 201)

    @app.get("/v1.0/me/events/<path:event_id>")
    def get_event(event_id: str):
        user = account()
        return event_response(user, state.get_event(user, _checked_id(event_id)))

    @app.patch("/v1.0/me/events/<path:event_id>")
    def patch_event(event_id: str):
        user = account()
        updated = state.patch_event(user, _checked_id(event_id), _json_body(), request.headers.get("If-Match"))
        return event_response(user, updated)

    @app.post("/v1.0/me/events/<path:event_id>/accept", defaults={"action": "accept"})
    @app.post("/v1.0/me/events/<path:event_id>/decline", defaults={"action": "decline"})
    @app.post("/v1.0/me/events/<path:event_id>/tentativelyAccept", defaults={"action": "tentativelyAccept"})
    def respond_to_event(event_id: str, action: str):
        state.respond_to_event(account(), _checked_id(event_id), action)
        return Response(status=202)

    @app.delete("/v1.0/me/events/<path:event_id>")
    def delete_event(event_id: str):
        state.remove_event(account(), _checked_id(event_id), request.headers.get("If-Match"))
        return Response(status=204)

    @app.post("/v1.0/subscriptions")
    def create_subscription():
        pending = state.prepare_subscription(account(), _json_body())
        # Before answering, Graph checks each URL answers its validation request (outside the state's lock: the
        # subscriber may call back in meanwhile).
        for url in filter(None, (pending.notification_url, pending.lifecycle_url)):
            token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
            if not validate(url, token):
                raise GraphError(400, "InvalidRequest", "Subscription validation request failed. Notification "
                                 "endpoint must respond with 200 OK to validation request.")
        return jsonify(state.store_subscription(pending)), 201

    @app.get("/v1.0/subscriptions/<subscription_id>")
    def get_subscription(subscription_id: str):
        return jsonify(state.get_subscription(account(), subscription_id))

    @app.patch("/v1.0/subscriptions/<subscription_id>")
    def renew_subscription(subscription_id: str):
        return jsonify(state.renew_subscription(account(), subscription_id, _json_body()))

    @app.delete("/v1.0/subscriptions/<subscription_id>")
    def delete_subscription(subscription_id: str):
        state.delete_subscription(account(), subscription_id)
        return Response(status=204)


def _page_size() -> int:
    value = _preferences().get("odata.maxpagesize", "")
    return max(1, int(value)) if value.isdigit() else DEFAULT_DELTA_PAGE_SIZE


def _requested_window() -> tuple[datetime, datetime]:
    start, end = request.args.get("startDateTime"), request.args.get("endDateTime")
    if not start or not end:
        raise GraphError(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                         "string parameters StartDateTime and EndDateTime.")
    window = (_parse_window_bound(start), _parse_window_bound(end))
    if window[1] <= window[0]:
        raise GraphError(400, "ErrorInvalidParameter", "The parameter 'EndDateTime' must be after 'StartDateTime'.")
    return window


def _delta_row(row: _Instance | str, zone_name: str) -> dict[str, Any]:
    if isinstance(row, str):
        return {"@odata.type": "#microsoft.graph.event", "id": row, "@removed": {"reason": "deleted"}}
    return {"@odata.type": "#microsoft.graph.event"} | _render_event(row.data, zone_name)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return body


def _checked_id(event_id: str) -> str:
    """Ids may contain '/': a client that did not percent-encode it sent a different path than it meant."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if "/" in event_id and event_id in raw_uri:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return event_id


# -- control API -------------------------------------------------------------------------------------------------


def _register_control(app: Flask, state: MicrosoftState) -> None:
    def body() -> dict[str, Any]:
        return request.get_json(silent=True) or {}

    @app.post("/_emulator/clients")
    def control_add_client():
        data = body()
        state.add_client(data["client_id"], data["secret"], tuple(data.get("redirect_uris") or ()))
        return jsonify({"client_id": data["client_id"]}), 201

    @app.post("/_emulator/accounts")
    def control_add_account():
        data = body()
        account = state.add_account(data["email"], data.get("display_name"))
        return jsonify({"email": account.email, "default_calendar_id": state.default_calendar_id(account.email)}), 201

    @app.post("/_emulator/accounts/<email>/<action>")
    def control_account_knob(email: str, action: str):
        knobs = {"revoke-grants": state.revoke_grants, "expire-refresh-tokens": state.expire_refresh_tokens,
                 "require-interaction": state.require_interaction}
        if action not in knobs:
            return jsonify({"error": f"unknown action {action}"}), 404
        knobs[action](email)
        return Response(status=204)

    @app.post("/_emulator/calendars")
    def control_add_calendar():
        data = body()
        calendar = state.add_calendar(data["email"], data["id"], data["name"], data.get("hex_color", ""),
                                      bool(data.get("is_default")), color=data.get("color", "auto"),
                                      can_edit=data.get("can_edit", True))
        return jsonify({"id": calendar.calendar_id}), 201

    @app.get("/_emulator/calendars/<path:calendar_id>/events")
    def control_list_events(calendar_id: str):
        return jsonify(state.list_events(calendar_id))

    @app.post("/_emulator/calendars/<path:calendar_id>/events")
    def control_add_event(calendar_id: str):
        return jsonify({"id": state.add_event(calendar_id, body())}), 201

    @app.post("/_emulator/calendars/<path:calendar_id>/expire-delta-tokens")
    def control_expire_delta_tokens(calendar_id: str):
        data = body()
        expired = state.expire_delta_tokens(calendar_id, data.get("code", "SyncStateNotFound"),
                                            bool(data.get("with_location")))
        return jsonify({"expired": expired})

    @app.route("/_emulator/events/<path:event_id>", methods=["PATCH", "DELETE"])
    def control_change_event(event_id: str):
        if request.method == "DELETE":
            state.delete_event(event_id)
            return Response(status=204)
        return jsonify(_render_event(state.update_event(event_id, body()), "UTC"))

    @app.post("/_emulator/faults")
    def control_fail_next():
        data = body()
        state.fail_next(data["path_prefix"], int(data["status"]), data.get("body"), data.get("headers"))
        return Response(status=204)

    @app.post("/_emulator/expire-access-tokens")
    def control_expire_access_tokens():
        state.expire_access_tokens()
        return Response(status=204)

    @app.put("/_emulator/settings")
    def control_settings():
        data = body()
        if "refresh_grace_seconds" in data:
            state.refresh_grace_seconds = float(data["refresh_grace_seconds"])
        return jsonify({"refresh_grace_seconds": state.refresh_grace_seconds})

    @app.get("/_emulator/subscriptions")
    def control_subscriptions():
        return jsonify(state.subscriptions())

    @app.post("/_emulator/subscriptions/<subscription_id>/lifecycle")
    def control_lifecycle(subscription_id: str):
        event = body().get("event", "")
        if event == "subscriptionRemoved":
            state.remove_subscription(subscription_id)
        else:
            state.send_lifecycle(subscription_id, event)
        return Response(status=204)

    @app.put("/_emulator/push")
    def control_push():
        data = body()
        if "lose_notifications" in data:
            state.lose_notifications(bool(data["lose_notifications"]))
        state.set_push_policy(data.get("require_https"), data.get("max_minutes"), data.get("grant_minutes"))
        return Response(status=204)

    @app.get("/_emulator/ui")
    def ui():
        return render("Outlook", "/_emulator/ui", state.ui_calendars())

    @app.post("/_emulator/ui/events")
    def ui_add_event():
        start = datetime.fromisoformat(request.form["start"])
        state.add_event(request.form["calendar"], {
            "subject": request.form.get("title") or "New event",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
        return redirect("/_emulator/ui", 303)

    @app.post("/_emulator/ui/events/<path:event_id>")
    def ui_change_event(event_id: str):
        action = request.form.get("action")
        if action == "delete":
            state.delete_event(event_id)
        elif action == "later":
            state.move_event_later(event_id, timedelta(hours=1))
        else:
            state.update_event(event_id, {"subject": request.form.get("title", "")})
        return redirect("/_emulator/ui", 303)

    @app.route("/_emulator/requests", methods=["GET", "DELETE"])
    def control_requests():
        if request.method == "DELETE":
            state.clear_requests()
            return Response(status=204)
        return jsonify(state.requests)


# ---------------------------------------------------------------------------------------------- sample data

SAMPLE_TEAM_CALENDAR_ID = _graph_id("calendar:team")


def sample_microsoft_state(today: date | None = None) -> MicrosoftState:
    """One mailbox with "Calendar" (default) and "Team", and a realistic few weeks around `today`."""
    state = MicrosoftState()
    today = today or datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    state.add_account(DEFAULT_ACCOUNT, "Sandbox User")
    calendar_id = state.default_calendar_id(DEFAULT_ACCOUNT)
    state.add_calendar(DEFAULT_ACCOUNT, SAMPLE_TEAM_CALENDAR_ID, "Team", "#2d9cdb", color="lightBlue")
    _add_sample_series(state, calendar_id, monday)
    for calendar, event in _sample_events(calendar_id, monday):
        state.add_event(calendar, event)
    return state


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute)).isoformat()


def _add_sample_series(state: MicrosoftState, calendar_id: str, monday: date) -> None:
    first = monday - timedelta(days=14)
    series_id = state.add_event(calendar_id, {
        "subject": "Team standup", "body": {"contentType": "text", "content": "Yesterday, today, blockers."},
        "start": {"dateTime": _at(first, 9, 30), "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": _at(first, 9, 45), "timeZone": "W. Europe Standard Time"},
        "location": {"displayName": "Room 4.12"}, "reminderMinutesBeforeStart": 5,
        "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"],
                                   "firstDayOfWeek": "monday"},
                       "range": {"type": "numbered", "startDate": first.isoformat(), "numberOfOccurrences": 8,
                                 "recurrenceTimeZone": "W. Europe Standard Time"}},
    })
    moved = datetime.combine(monday + timedelta(days=7), time(9, 30))
    state.update_event(state.occurrence_id(series_id, moved), {
        "start": {"dateTime": _at(moved.date(), 10), "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": _at(moved.date(), 10, 15), "timeZone": "W. Europe Standard Time"},
        "location": {"displayName": "Online"}})
    cancelled = datetime.combine(monday + timedelta(days=14), time(9, 30))
    state.update_event(state.occurrence_id(series_id, cancelled), {"isCancelled": True,
                                                                   "subject": "Canceled: Team standup"})


def _sample_events(calendar_id: str, monday: date) -> list[tuple[str, dict[str, Any]]]:
    def timed(day: date, start: tuple[int, int], end: tuple[int, int], zone: str) -> dict[str, Any]:
        return {"start": {"dateTime": _at(day, *start), "timeZone": zone},
                "end": {"dateTime": _at(day, *end), "timeZone": zone}}

    def all_day(first: date, days: int) -> dict[str, Any]:
        return {"isAllDay": True, "start": {"dateTime": _at(first, 0), "timeZone": "UTC"},
                "end": {"dateTime": _at(first + timedelta(days=days), 0), "timeZone": "UTC"}}

    def attendee(name: str, address: str, response: str, kind: str = "required") -> dict[str, Any]:
        return {"type": kind, "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"name": name, "address": address}}

    team = SAMPLE_TEAM_CALENDAR_ID
    return [
        (calendar_id, {"subject": "Lunch with Ann", "location": {"displayName": "Tartine, 18th St"},
                       "attendees": [attendee("Ann Lee", "ann@contoso.com", "accepted")],
                       **timed(monday + timedelta(days=2), (12, 0), (13, 0), "Pacific Standard Time")}),
        (calendar_id, {"subject": "Dentist", "showAs": "oof", "reminderMinutesBeforeStart": 60,
                       **timed(monday + timedelta(days=3), (8, 0), (8, 45), "UTC")}),
        (calendar_id, {"subject": "Quarterly review", "body": {"contentType": "html", "content":
                       "<html><body><p>Agenda: <b>numbers</b>, hiring &amp; roadmap.</p></body></html>"},
                       "attendees": [attendee("Bo Chen", "bo@contoso.com", "tentativelyAccepted"),
                                     attendee("Cy Diaz", "cy@contoso.com", "declined"),
                                     attendee("Di Evans", "di@fabrikam.com", "none", "optional")],
                       **timed(monday + timedelta(days=8), (15, 0), (16, 30), "Eastern Standard Time")}),
        (calendar_id, {"subject": "Flight LHR → SFO", "location": {"displayName": "Heathrow Terminal 5"},
                       "start": {"dateTime": _at(monday + timedelta(days=18), 11, 15),
                                 "timeZone": "GMT Standard Time"},
                       "end": {"dateTime": _at(monday + timedelta(days=18), 14, 30),
                               "timeZone": "Pacific Standard Time"}}),
        (calendar_id, {"subject": "Maybe: climbing", "showAs": "tentative", "isReminderOn": False,
                       **timed(monday + timedelta(days=4), (18, 0), (20, 0), "W. Europe Standard Time")}),
        (calendar_id, {"subject": "Canceled: Vendor call", "isCancelled": True,
                       **timed(monday - timedelta(days=3), (16, 0), (16, 30), "W. Europe Standard Time")}),
        (calendar_id, {"subject": "Company offsite", **all_day(monday + timedelta(days=10), 2)}),
        (team, {"subject": "Sprint planning", "location": {"displayName": "Room 2.01"},
                **timed(monday + timedelta(days=1), (14, 0), (15, 30), "W. Europe Standard Time")}),
        (team, {"subject": "Release day", **all_day(monday + timedelta(days=11), 1)}),
        (team, {"subject": "Retro with Bangalore", "attendees": [attendee("Ravi Iyer", "ravi@contoso.com",
                                                                          "accepted")],
                **timed(monday - timedelta(days=5), (16, 0), (17, 0), "India Standard Time")}),
    ]
