"""A local stand-in for Google OAuth 2.0 and Calendar API v3, faithful enough to test GoogleProvider against.

Paths mirror Google's so only base URLs change: authorization `<base>/o/oauth2/v2/auth`, token `<base>/token`,
revocation `<base>/revoke`, userinfo `<base>/v1/userinfo` (also `/oauth2/v3/userinfo`), Calendar
`<base>/calendar/v3`. Everything lives in memory in a `GoogleState`; tests script it in-process, other processes
through `POST <base>/_emulator/<action>` with the method's keyword arguments as a JSON object.

Simplifications (see provider-apis.md for the real behaviour): `singleEvents=true` and `orderBy` are refused with
400 (lists come in creation order); instance ids (`<master>_<stamp>`) are accepted for get/update/delete without
checking the stamp against the rule; the `timeMin`/`timeMax` filter keeps every series master that starts before
`timeMax`; no id_token is issued.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, abort, jsonify, make_response, redirect, render_template_string, request, url_for

from sandbox import consent
from sandbox.push import Delivery, PushSender, address_allowed
from sandbox.threads import locked
from sandbox.ui import UiCalendar, UiEvent, render

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
# Google answers with the long form of the OIDC shorthands, so the granted scope differs from the requested one.
SCOPE_ALIASES = {"email": SCOPE_PREFIX + "userinfo.email", "profile": SCOPE_PREFIX + "userinfo.profile"}


def scopes(*names: str) -> frozenset[str]:
    return frozenset(SCOPE_PREFIX + name for name in names)


CALENDAR_LIST_SCOPES = scopes(
    "calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly",
)
EVENTS_WRITE_SCOPES = scopes("calendar", "calendar.events", "calendar.events.owned")
EVENTS_READ_SCOPES = EVENTS_WRITE_SCOPES | scopes("calendar.readonly", "calendar.events.readonly")
KNOWN_SCOPES = (
    CALENDAR_LIST_SCOPES | EVENTS_READ_SCOPES | scopes("calendar.settings.readonly")
    | {"openid", *SCOPE_ALIASES.values()}
)

ACCESS_TOKEN_SECONDS = 3599
CODE_LIFETIME = timedelta(minutes=10)
LIVE_REFRESH_TOKENS_PER_CLIENT = 100
DEFAULT_ACCOUNT = "sandbox.user@gmail.com"

EVENTS_DEFAULT_PAGE, EVENTS_MAX_PAGE = 250, 2500
CALENDAR_LIST_DEFAULT_PAGE, CALENDAR_LIST_MAX_PAGE = 100, 250
PARAMS_EXCLUDED_BY_SYNC_TOKEN = (
    "timeMin", "timeMax", "updatedMin", "q", "orderBy", "iCalUID", "privateExtendedProperty", "sharedExtendedProperty",
)
# Fields the server owns: ignored on insert/update from API clients, kept from the stored event on update.
SERVER_FIELDS = (
    "kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID",
    "recurringEventId", "originalStartTime",
)
EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
INSTANCE_ID = re.compile(r"(?P<master>.+)_(?P<stamp>\d{8}(?:T\d{6}Z)?)")
RECURRENCE_LINE = re.compile(r"(RRULE|EXRULE|RDATE|EXDATE)[:;].+")
PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


class EmulatorError(Exception):
    """An HTTP error response, raised from deep inside the state and rendered by the app's error handler."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class AuthorizationRejected(Exception):
    """The authorization request itself is bad: Google shows an error page instead of redirecting."""

    def __init__(self, error: str, description: str):
        super().__init__(error)
        self.error = error
        self.description = description


def api_error(status: int, reason: str, message: str, *, domain: str = "global",
              location: str | None = None, location_type: str = "parameter") -> EmulatorError:
    detail = {"domain": domain, "reason": reason, "message": message}
    if location:
        detail |= {"locationType": location_type, "location": location}
    return EmulatorError(status, {"error": {"errors": [detail], "code": status, "message": message}})


def oauth_error(status: int, error: str, description: str) -> EmulatorError:
    return EmulatorError(status, {"error": error, "error_description": description})


def unauthenticated() -> EmulatorError:
    message = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
               "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
    detail = {"message": "Invalid Credentials", "domain": "global", "reason": "authError",
              "location": "Authorization", "locationType": "header"}
    body = {"error": {"code": 401, "message": message, "errors": [detail], "status": "UNAUTHENTICATED"}}
    return EmulatorError(401, body, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})


def insufficient_scope() -> EmulatorError:
    message = "Request had insufficient authentication scopes."
    detail = {"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}
    return EmulatorError(403, {"error": {"code": 403, "message": message, "errors": [detail],
                                         "status": "PERMISSION_DENIED"}})


# What a scripted failure says when the test gives no body of its own: (domain, reason, message).
DEFAULT_FAULT_REASONS = {
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    429: ("usageLimits", "rateLimitExceeded", "Too many requests"),
}


def default_fault_body(status: int) -> dict:
    domain, reason, message = DEFAULT_FAULT_REASONS.get(status, ("global", "backendError", "Backend Error"))
    return api_error(status, reason, message, domain=domain).body


def rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_in_zone(instant_iso: str, zone: ZoneInfo) -> str:
    text = datetime.fromisoformat(instant_iso).astimezone(zone).isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + ("Z" if text.endswith("+00:00") else "")


def zone_or_400(name: str, what: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise api_error(400, "invalid", f"Invalid time zone definition for {what}.") from None


def parse_timestamp(value: str, name: str) -> datetime:
    """RFC 3339 query parameters must carry an offset; Google rejects naive ones."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise api_error(400, "badRequest", "Bad Request", location=name)
    return moment


def base32hex_id() -> str:
    return base64.b32hexencode(secrets.token_bytes(15)).decode().lower()


def sub_for(email: str) -> str:
    return str(int(hashlib.sha256(email.encode()).hexdigest(), 16))[:21]


def with_query(url: str, params: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: frozenset[str] | None  # None: any redirect URI (sandbox convenience)
    require_pkce: bool = True
    name: str = "Almanac"

    def allows_redirect(self, uri: str) -> bool:
        return self.redirect_uris is None or uri in self.redirect_uris


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    is_offline: bool
    prompt: frozenset[str]
    include_granted_scopes: bool
    email: str


@dataclass
class AuthCode:
    client_id: str
    email: str
    redirect_uri: str
    scopes: frozenset[str]
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: datetime
    issues_refresh_token: bool
    is_used: bool = False


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    email: str
    scopes: frozenset[str]
    is_revoked: bool = False


@dataclass
class AccessGrant:
    token: str
    client_id: str
    email: str
    scopes: frozenset[str]
    expires_at: datetime
    refresh_token: str | None


@dataclass
class StoredEvent:
    resource: dict[str, Any]
    created_seq: int
    change_seq: int

    @property
    def is_cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"


@dataclass
class Calendar:
    calendar_id: str
    owner_email: str
    summary: str
    background_color: str
    is_primary: bool
    access_role: str
    time_zone: str
    events: dict[str, StoredEvent] = field(default_factory=dict)
    change_seq: int = 0
    created_seq: int = 0
    sync_generation: int = 0

    @property
    def is_writable(self) -> bool:
        return self.access_role in ("owner", "writer")


@dataclass(frozen=True)
class SyncPosition:
    calendar_id: str
    change_seq: int
    generation: int


@dataclass(frozen=True)
class PageCursor:
    calendar_id: str
    query: tuple
    round_seq: int
    after_created_seq: int


@dataclass(frozen=True)
class EventFilter:
    """What an events.list request selects; an incremental request (`since`) selects by change alone."""

    since: int | None = None
    updated_min: datetime | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None
    ical_uid: str | None = None
    text: str | None = None

    @property
    def is_incremental(self) -> bool:
        return self.since is not None or self.updated_min is not None

    def matches(self, stored: StoredEvent) -> bool:
        resource = stored.resource
        if self.since is not None:
            return stored.change_seq > self.since
        if self.updated_min and datetime.fromisoformat(resource["updated"]) < self.updated_min:
            return False
        if self.ical_uid and resource.get("iCalUID") != self.ical_uid:
            return False
        if self.text and not self._mentions(resource):
            return False
        return self._overlaps(resource)

    def _mentions(self, resource: dict[str, Any]) -> bool:
        haystack = " ".join(str(resource.get(key, "")) for key in ("summary", "description", "location"))
        return self.text.lower() in haystack.lower()

    def _overlaps(self, resource: dict[str, Any]) -> bool:
        if self.time_max and instant_of(resource["start"]) >= self.time_max:
            return False
        # A series may have instances long after its first one, so its end does not rule it out.
        return not (self.time_min and instant_of(resource["end"]) <= self.time_min and not resource.get("recurrence"))


@dataclass
class Fault:
    path_prefix: str
    status: int
    body: Any
    headers: dict[str, str]
    method: str | None


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class WatchChannel:
    """A push channel (events.watch on a calendar, or calendarList.watch on an account)."""

    id: str
    resource_id: str
    resource_uri: str
    token: str | None
    address: str
    expiration: datetime
    email: str
    calendar_id: str | None  # None: the account's calendar list
    message_number: int = 0


# Google's internal ceiling on a channel's lifetime (and its default): the more restrictive of this and the ttl wins.
CHANNEL_MAX_TTL = 604_800
# Notifications answered 500/502/503/504 are retried with exponential backoff; anything else non-2xx fails.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class GoogleState(PushSender):
    """In-memory Google: OAuth clients, accounts, calendars, events, tokens and scripted faults. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._clock_offset = timedelta()
        self._clients: dict[str, OAuthClient] = {}
        self._accounts: list[str] = []
        self._calendars: dict[str, Calendar] = {}
        self._unshared: set[str] = set()  # calendars the account lost access to (their old sync tokens answer 410)
        self._codes: dict[str, AuthCode] = {}
        self._refresh_grants: dict[str, RefreshGrant] = {}
        self._access_grants: dict[str, AccessGrant] = {}
        self._granted_scopes: dict[tuple[str, str], frozenset[str]] = {}
        self._offline_consents: set[tuple[str, str]] = set()
        self._sync_tokens: dict[str, SyncPosition] = {}
        self._page_tokens: dict[str, PageCursor] = {}
        self._calendar_list_tokens: dict[str, int] = {}
        self._faults: list[Fault] = []
        self._page_size: int | None = None
        self._etag_counter = 0
        self.requests: list[RecordedRequest] = []
        self._channels: dict[str, WatchChannel] = {}
        self.require_https = False  # True: refuse http addresses even on loopback, as the real service does
        self.channel_max_ttl = CHANNEL_MAX_TTL

    # ---- clock --------------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self._clock_offset

    @locked
    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, e.g. past the 10-minute code lifetime."""
        self._clock_offset += timedelta(seconds=seconds)

    # ---- seeding ------------------------------------------------------------------------------------------------

    @locked
    def add_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None,
                   require_pkce: bool = True, name: str = "Almanac") -> None:
        uris = None if redirect_uris is None else frozenset(redirect_uris)
        self._clients[client_id] = OAuthClient(client_id, client_secret, uris, require_pkce, name)

    @locked
    def add_account(self, email: str) -> None:
        if email not in self._accounts:
            self._accounts.append(email)

    @locked
    def add_calendar(self, email: str, calendar_id: str, summary: str, color: str = "#9fe1e7", primary: bool = False,
                     access_role: str = "owner", time_zone: str = "UTC") -> None:
        self.add_account(email)
        if primary and self._primary_calendar(email):
            raise ValueError(f"{email} already has a primary calendar")
        zone_or_400(time_zone, "calendar")
        self._calendars[calendar_id] = Calendar(calendar_id, email, summary, color, primary, access_role, time_zone)
        self._notify_calendar_list(email)

    @locked
    def delete_calendar(self, calendar_id: str) -> None:
        """The owner deletes a secondary calendar (calendars.delete; the primary one cannot be deleted): it leaves
        the calendarList, and every request naming it answers 404 notFound."""
        if self._calendars[calendar_id].is_primary:
            raise ValueError("a primary calendar cannot be deleted")
        owner = self._calendars.pop(calendar_id).owner_email
        self._notify_calendar(calendar_id, "not_exists")
        self._notify_calendar_list(owner)

    @locked
    def unshare_calendar(self, calendar_id: str) -> None:
        """The account loses access to a calendar shared with it (its owner removed the share): it leaves the
        calendarList; the ACL change invalidates sync tokens, so an incremental list answers 410 fullSyncRequired,
        and every other request naming it 404 notFound."""
        if self._calendars[calendar_id].is_primary:
            raise ValueError("an account's own primary calendar cannot be unshared from it")
        owner = self._calendars.pop(calendar_id).owner_email
        self._unshared.add(calendar_id)
        self._notify_calendar(calendar_id, "not_exists")
        self._notify_calendar_list(owner)

    @locked
    def add_event(self, calendar_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        """Insert as another client would; unlike the API this may seed exceptions and cancelled events."""
        calendar = self._calendars[calendar_id]
        stored = self._insert(calendar, resource, is_trusted=True)
        return self._render(calendar, stored.resource)

    @locked
    def add_raw_event(self, calendar_id: str, resource: dict[str, Any]) -> str:
        """Store an event exactly as given, unvalidated: hostile or broken content a real calendar can hold
        (a start that is not a date, a huge guest list, control characters). Returns its id."""
        calendar = self._calendars[calendar_id]
        resource = {"kind": "calendar#event", "status": "confirmed", **copy.deepcopy(resource)}
        resource.setdefault("id", base32hex_id())
        stored = StoredEvent(resource, 0, 0)
        self._touch(calendar, stored)
        return resource["id"]

    @locked
    def update_event(self, calendar_id: str, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Patch an event as another client would (null clears a field)."""
        calendar = self._calendars[calendar_id]
        stored = self._existing_or_instance(calendar, event_id)
        self._patch(calendar, stored, changes)
        return self._render(calendar, stored.resource)

    @locked
    def delete_event(self, calendar_id: str, event_id: str) -> None:
        calendar = self._calendars[calendar_id]
        self._cancel(calendar, self._existing_or_instance(calendar, event_id))

    @locked
    def move_event_later(self, calendar_id: str, event_id: str, delta: timedelta) -> None:
        calendar = self._calendars[calendar_id]
        stored = self._existing_or_instance(calendar, event_id)
        changes = {}
        for key in ("start", "end"):
            value = dict(stored.resource[key])
            if "dateTime" in value:
                value["dateTime"] = (datetime.fromisoformat(value["dateTime"]) + delta).isoformat()
            else:
                value["date"] = (date.fromisoformat(value["date"]) + timedelta(days=1)).isoformat()
            changes[key] = value
        self._patch(calendar, stored, changes)

    @locked
    def ui_calendars(self) -> list[UiCalendar]:
        return [UiCalendar(calendar.calendar_id, calendar.summary, calendar.owner_email, [
            UiEvent(stored.resource["id"], stored.resource.get("summary", ""),
                    str(stored.resource["start"].get("dateTime") or stored.resource["start"].get("date")))
            for stored in self._in_created_order(calendar) if not stored.is_cancelled])
            for calendar in self._calendars.values()]

    @locked
    def stored_events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Every event of a calendar as the API would return it from GET, cancelled ones included."""
        calendar = self._calendars[calendar_id]
        return [self._render(calendar, stored.resource) for stored in self._in_created_order(calendar)]

    # ---- fault scripting ----------------------------------------------------------------------------------------

    @locked
    def fail_next(self, path_prefix: str, status: int, body: Any = None, headers: Mapping[str, str] | None = None,
                  method: str | None = None) -> None:
        """The next request whose path starts with `path_prefix` (and method, if given) gets this response."""
        body = default_fault_body(status) if body is None else body
        self._faults.append(Fault(path_prefix, status, body, dict(headers or {}), method and method.upper()))

    @locked
    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix) and fault.method in (None, method):
                self._faults.remove(fault)
                return fault
        return None

    @locked
    def expire_sync_tokens(self, calendar_id: str) -> None:
        self._calendars[calendar_id].sync_generation += 1

    @locked
    def expire_access_tokens(self) -> None:
        for grant in self._access_grants.values():
            grant.expires_at = self.now() - timedelta(seconds=1)

    @locked
    def revoke_refresh_tokens(self, email: str) -> None:
        """As if the user removed the app's access: refresh gives invalid_grant, access tokens die too."""
        for grant in list(self._refresh_grants.values()):
            if grant.email == email and not grant.is_revoked:
                self._revoke_grant(grant)

    @locked
    def set_page_size(self, size: int | None) -> None:
        """Cap every events.list page at `size` items regardless of maxResults (None lifts the cap)."""
        self._page_size = size

    @locked
    def record(self, entry: RecordedRequest) -> None:
        self.requests.append(entry)

    # ---- OAuth: authorization -----------------------------------------------------------------------------------

    @locked
    def check_authorization(self, params: Mapping[str, str]) -> AuthRequest:
        client = self._clients.get(params.get("client_id", ""))
        if client is None:
            raise AuthorizationRejected("invalid_client", "The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri", "")
        if not client.allows_redirect(redirect_uri):
            raise AuthorizationRejected("redirect_uri_mismatch",
                                        "You can't sign in to this app because it doesn't comply with Google's OAuth "
                                        "2.0 policy: the redirect_uri is not registered for this client.")
        if params.get("response_type") != "code":
            raise AuthorizationRejected("unsupported_response_type", "Only response_type=code is supported.")
        return AuthRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=self._requested_scopes(params.get("scope", "")),
            state=params.get("state"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=self._challenge_method(client, params),
            is_offline=self._is_offline(params.get("access_type", "online")),
            prompt=self._prompt(params.get("prompt", "")),
            include_granted_scopes=params.get("include_granted_scopes") == "true",
            email=self._account_for(params.get("login_hint")),
        )

    @locked
    def accounts(self) -> list[str]:
        return list(self._accounts)

    @locked
    def client_name(self, client_id: str) -> str:
        return self._clients[client_id].name

    @locked
    def authorize(self, auth: AuthRequest, is_allowed: bool) -> str:
        """The URL the browser is sent back to after the user's decision."""
        echoed_state = {"state": auth.state} if auth.state is not None else {}
        if not is_allowed:
            return with_query(auth.redirect_uri, {"error": "access_denied", **echoed_state})
        key = (auth.client_id, auth.email)
        earlier = self._granted_scopes.get(key, frozenset()) if auth.include_granted_scopes else frozenset()
        scopes = auth.scopes | earlier
        # Google hands out a refresh token only on the first offline consent, or when consent is forced again.
        issues_refresh_token = auth.is_offline and (key not in self._offline_consents or "consent" in auth.prompt)
        self._granted_scopes[key] = scopes
        if auth.is_offline:
            self._offline_consents.add(key)
        code = "4/0A" + secrets.token_urlsafe(32)
        self._codes[code] = AuthCode(auth.client_id, auth.email, auth.redirect_uri, scopes, auth.code_challenge,
                                     auth.code_challenge_method, self.now(), issues_refresh_token)
        return with_query(auth.redirect_uri, {"code": code, "scope": " ".join(sorted(scopes)), **echoed_state})

    def _requested_scopes(self, scope: str) -> frozenset[str]:
        scopes = frozenset(SCOPE_ALIASES.get(name, name) for name in scope.split())
        if not scopes:
            raise AuthorizationRejected("invalid_request", "Missing required parameter: scope")
        unknown = sorted(scopes - KNOWN_SCOPES)
        if unknown:
            raise AuthorizationRejected("invalid_scope", f"Some requested scopes were invalid: {', '.join(unknown)}")
        return scopes

    @staticmethod
    def _challenge_method(client: OAuthClient, params: Mapping[str, str]) -> str | None:
        if not params.get("code_challenge"):
            if client.require_pkce:
                raise AuthorizationRejected("invalid_request", "Missing required parameter: code_challenge")
            return None
        method = params.get("code_challenge_method", "plain")
        if method not in ("S256", "plain"):
            raise AuthorizationRejected("invalid_request", "Invalid code_challenge_method")
        return method

    @staticmethod
    def _is_offline(access_type: str) -> bool:
        if access_type not in ("online", "offline"):
            raise AuthorizationRejected("invalid_request", f"Invalid access_type: {access_type}")
        return access_type == "offline"

    @staticmethod
    def _prompt(prompt: str) -> frozenset[str]:
        values = frozenset(prompt.split())
        if values - {"none", "consent", "select_account"} or ("none" in values and len(values) > 1):
            raise AuthorizationRejected("invalid_request", f"Invalid prompt: {prompt}")
        return values

    def _account_for(self, login_hint: str | None) -> str:
        """The hinted account (created on first sight, as if the user signed in), else the first one."""
        email = login_hint or (self._accounts[0] if self._accounts else DEFAULT_ACCOUNT)
        if email not in self._accounts:
            self.add_account(email)
        if not self._primary_calendar(email):
            self.add_calendar(email, email, email, primary=True)
        return email

    # ---- OAuth: token endpoint ----------------------------------------------------------------------------------

    @locked
    def token(self, form: Mapping[str, str], basic_auth: tuple[str, str] | None) -> dict[str, Any]:
        client = self._authenticate_client(form, basic_auth)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._redeem_code(client, form)
        if grant_type == "refresh_token":
            return self._redeem_refresh_token(client, form.get("refresh_token", ""))
        raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    @locked
    def revoke(self, token: str) -> None:
        access = self._access_grants.get(token)
        refresh = self._refresh_grants.get(access.refresh_token if access and access.refresh_token else token)
        if refresh is not None and not refresh.is_revoked:
            self._revoke_grant(refresh)
        elif access is not None:
            del self._access_grants[token]
            self._forget_consent(access.client_id, access.email)
        else:
            raise oauth_error(400, "invalid_token", "Token expired or revoked")

    def _authenticate_client(self, form: Mapping[str, str], basic_auth: tuple[str, str] | None) -> OAuthClient:
        client_id, secret = basic_auth or (form.get("client_id", ""), form.get("client_secret", ""))
        if not client_id:
            raise oauth_error(400, "invalid_request", "Could not determine client ID from request.")
        client = self._clients.get(client_id)
        if client is None:
            raise oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not secrets.compare_digest(secret, client.client_secret):
            raise oauth_error(401, "invalid_client", "Unauthorized")
        return client

    def _redeem_code(self, client: OAuthClient, form: Mapping[str, str]) -> dict[str, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.is_used or code.client_id != client.client_id:
            raise oauth_error(400, "invalid_grant", "Bad Request")
        code.is_used = True  # a code is spent by any redemption attempt, good or bad
        if self.now() - code.issued_at > CODE_LIFETIME or form.get("redirect_uri") != code.redirect_uri:
            raise oauth_error(400, "invalid_grant", "Bad Request")
        if not self._verifier_matches(code, form.get("code_verifier")):
            raise oauth_error(400, "invalid_grant", "Bad Request")
        refresh = self._new_refresh_grant(code) if code.issues_refresh_token else None
        access = self._new_access_grant(code.client_id, code.email, code.scopes, refresh and refresh.token)
        return self._token_response(access, refresh)

    @staticmethod
    def _verifier_matches(code: AuthCode, verifier: str | None) -> bool:
        if code.code_challenge is None:
            return True
        if not verifier or not PKCE_VERIFIER.fullmatch(verifier):
            return False
        if code.code_challenge_method == "plain":
            return secrets.compare_digest(verifier, code.code_challenge)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return secrets.compare_digest(base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), code.code_challenge)

    def _redeem_refresh_token(self, client: OAuthClient, token: str) -> dict[str, Any]:
        grant = self._refresh_grants.get(token)
        if grant is None or grant.is_revoked or grant.client_id != client.client_id:
            raise oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        access = self._new_access_grant(grant.client_id, grant.email, grant.scopes, grant.token)
        return self._token_response(access, refresh=None)  # Google does not rotate refresh tokens

    def _new_refresh_grant(self, code: AuthCode) -> RefreshGrant:
        grant = RefreshGrant("1//0g" + secrets.token_urlsafe(40), code.client_id, code.email, code.scopes)
        self._refresh_grants[grant.token] = grant
        live = [g for g in self._refresh_grants.values()
                if (g.client_id, g.email) == (code.client_id, code.email) and not g.is_revoked]
        for oldest in live[:-LIVE_REFRESH_TOKENS_PER_CLIENT]:
            self._revoke_grant(oldest, forget_consent=False)
        return grant

    def _new_access_grant(self, client_id: str, email: str, scopes: frozenset[str],
                          refresh_token: str | None) -> AccessGrant:
        expires_at = self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        grant = AccessGrant("ya29.a0" + secrets.token_urlsafe(40), client_id, email, scopes, expires_at, refresh_token)
        self._access_grants[grant.token] = grant
        return grant

    @staticmethod
    def _token_response(access: AccessGrant, refresh: RefreshGrant | None) -> dict[str, Any]:
        body = {"access_token": access.token, "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": " ".join(sorted(access.scopes)), "token_type": "Bearer"}
        if refresh is not None:
            body["refresh_token"] = refresh.token
        return body

    def _revoke_grant(self, grant: RefreshGrant, forget_consent: bool = True) -> None:
        grant.is_revoked = True
        for token, access in list(self._access_grants.items()):
            if access.refresh_token == grant.token:
                del self._access_grants[token]
        if forget_consent:
            self._forget_consent(grant.client_id, grant.email)

    def _forget_consent(self, client_id: str, email: str) -> None:
        self._granted_scopes.pop((client_id, email), None)
        self._offline_consents.discard((client_id, email))

    # ---- bearer authentication ----------------------------------------------------------------------------------

    @locked
    def authenticate(self, authorization: str | None, needs_any_of: frozenset[str] | None) -> AccessGrant:
        scheme, _, token = (authorization or "").partition(" ")
        grant = self._access_grants.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= self.now():
            raise unauthenticated()
        if needs_any_of and not grant.scopes & needs_any_of:
            raise insufficient_scope()
        return grant

    @staticmethod
    def userinfo(grant: AccessGrant) -> dict[str, Any]:
        info: dict[str, Any] = {"sub": sub_for(grant.email)}
        if SCOPE_ALIASES["email"] in grant.scopes:
            info |= {"email": grant.email, "email_verified": True}
        return info

    # ---- calendarList -------------------------------------------------------------------------------------------

    @locked
    def calendar_list(self, grant: AccessGrant, params: Mapping[str, str]) -> dict[str, Any]:
        entries = [c for c in self._calendars.values() if c.owner_email == grant.email]
        start = self._calendar_list_tokens.get(params["pageToken"], -1) if "pageToken" in params else 0
        if start < 0:
            raise api_error(400, "invalid", "Invalid page token value.", location="pageToken")
        size = self._max_results(params, CALENDAR_LIST_DEFAULT_PAGE, CALENDAR_LIST_MAX_PAGE)
        body = {"kind": "calendar#calendarList", "etag": f'"{len(entries)}"',
                "items": [self._calendar_list_entry(c) for c in entries[start:start + size]]}
        if start + size < len(entries):
            token = secrets.token_urlsafe(12)
            self._calendar_list_tokens[token] = start + size
            body["nextPageToken"] = token
        return body

    @staticmethod
    def _calendar_list_entry(calendar: Calendar) -> dict[str, Any]:
        entry = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{calendar.change_seq}"',
            "id": calendar.calendar_id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "backgroundColor": calendar.background_color,
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": calendar.access_role,
            "defaultReminders": [{"method": "popup", "minutes": 10}] if calendar.is_writable else [],
        }
        if calendar.is_primary:
            entry["primary"] = True
        return entry

    # ---- push notifications (watch channels) ---------------------------------------------------------------------

    @locked
    def watch_events(self, grant: AccessGrant, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        calendar = self._calendar_for(grant, calendar_id)
        return self._watch(grant, body, calendar.calendar_id, f"{calendar.calendar_id}/events")

    @locked
    def watch_calendar_list(self, grant: AccessGrant, body: dict[str, Any]) -> dict[str, Any]:
        return self._watch(grant, body, None, f"users/{grant.email}/calendarList")

    def _watch(self, grant: AccessGrant, body: dict[str, Any], calendar_id: str | None, resource: str) -> dict:
        channel_id, address = body.get("id"), body.get("address")
        if not isinstance(channel_id, str) or not channel_id or len(channel_id) > 64:
            raise api_error(400, "required", "Required channel id.")
        if body.get("type") not in ("web_hook", "webhook"):
            raise api_error(400, "invalid", "Invalid channel type.")
        if not isinstance(address, str) or not address_allowed(address, require_https=self.require_https):
            raise api_error(400, "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}",
                            domain="global")
        if channel_id in self._channels:
            raise api_error(400, "channelIdNotUnique", f"Channel id {channel_id} not unique", domain="global")
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise api_error(400, "invalid", "Invalid channel token.")
        try:
            ttl = int((body.get("params") or {}).get("ttl", self.channel_max_ttl))
        except (TypeError, ValueError):
            raise api_error(400, "invalid", "Invalid ttl.") from None
        expiration = self.now() + timedelta(seconds=max(1, min(ttl, self.channel_max_ttl)))
        resource_id = hashlib.sha256(resource.encode()).hexdigest()[:27]
        resource_uri = (f"https://www.googleapis.com/calendar/v3/{resource}?alt=json")
        channel = WatchChannel(channel_id, resource_id, resource_uri, token, address, expiration, grant.email,
                               calendar_id)
        self._channels[channel_id] = channel
        # Message 1 says the channel works; it may well arrive before this answer does.
        self._send(channel, "sync")
        return {"kind": "api#channel", "id": channel_id, "resourceId": resource_id, "resourceUri": resource_uri,
                **({"token": token} if token is not None else {}),
                "expiration": str(int(expiration.timestamp() * 1000))}

    @locked
    def stop_channel(self, grant: AccessGrant, body: dict[str, Any]) -> None:
        channel = self._channels.get(str(body.get("id")))
        if channel is None or channel.resource_id != body.get("resourceId"):
            raise api_error(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        if channel.email != grant.email:
            raise api_error(403, "forbidden", "Channel not owned by this user")
        del self._channels[channel.id]

    @locked
    def channels(self) -> list[dict[str, Any]]:
        """The channels still running (expired ones are dropped), for tests."""
        self._drop_expired()
        return [{**asdict(channel), "expiration": channel.expiration.isoformat()}
                for channel in self._channels.values()]

    @locked
    def forget_channels(self) -> None:
        """End every channel at once (a test's channels must not outlive its server)."""
        self._channels.clear()

    @locked
    def lose_notifications(self, lost: bool = True) -> None:
        """Drop every notification from now on (True) or deliver them again (False)."""
        self.deliveries.lose_notifications = lost

    @locked
    def set_push_policy(self, require_https: bool | None = None, channel_max_ttl: int | None = None) -> None:
        if require_https is not None:
            self.require_https = require_https
        if channel_max_ttl is not None:
            self.channel_max_ttl = channel_max_ttl

    def _drop_expired(self) -> None:
        now = self.now()
        for channel_id in [key for key, channel in self._channels.items() if channel.expiration <= now]:
            del self._channels[channel_id]

    def _notify_calendar(self, calendar_id: str, state: str) -> None:
        if not self._channels:
            return
        self._drop_expired()
        for channel in list(self._channels.values()):
            if channel.calendar_id == calendar_id:
                self._send(channel, state)

    def _notify_calendar_list(self, email: str) -> None:
        if not self._channels:
            return
        self._drop_expired()
        for channel in list(self._channels.values()):
            if channel.calendar_id is None and channel.email == email:
                self._send(channel, "exists")

    def _send(self, channel: WatchChannel, state: str) -> None:
        channel.message_number += 1 + secrets.randbelow(3)  # increasing, not consecutive
        headers = {
            "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.message_number),
            "Content-Length": "0",
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.deliveries.send(Delivery(channel.address, b"", headers, lambda status: status in RETRIED_STATUSES,
                                      RETRY_DELAYS))

    # ---- events: reading ----------------------------------------------------------------------------------------

    @locked
    def list_events(self, grant: AccessGrant, calendar_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        if calendar_id in self._unshared and "syncToken" in params:
            raise api_error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                            domain="calendar", location="syncToken")
        calendar = self._calendar_for(grant, calendar_id)
        event_filter = self._event_filter(calendar, params)
        round_seq, after = self._page_start(calendar, params)
        limit = self._max_results(params, EVENTS_DEFAULT_PAGE, EVENTS_MAX_PAGE)
        if self._page_size:
            limit = min(limit, self._page_size)
        matching = [e for e in self._in_created_order(calendar) if e.created_seq > after and event_filter.matches(e)]
        page, more = matching[:limit], matching[limit:]
        # Incremental requests always carry deletions, a plain list only when asked. Filtering after paging is what
        # gives Google's short (even empty) pages while more remain.
        shows_deleted = event_filter.is_incremental or params.get("showDeleted") == "true"
        zone = zone_or_400(params["timeZone"], "timeZone") if "timeZone" in params else ZoneInfo(calendar.time_zone)
        body = {
            "kind": "calendar#events", "etag": f'"{calendar.change_seq}"', "summary": calendar.summary,
            "updated": rfc3339(self.now()), "timeZone": calendar.time_zone, "accessRole": calendar.access_role,
            "defaultReminders": [],
            "items": [self._list_item(stored, zone) for stored in page
                      if shows_deleted or self._is_listed(calendar, stored)],
        }
        if more:
            body["nextPageToken"] = self._issue_page_token(calendar, params, round_seq, page[-1].created_seq)
        else:
            body["nextSyncToken"] = self._issue_sync_token(calendar, round_seq)
        return body

    @locked
    def get_event(self, grant: AccessGrant, calendar_id: str, event_id: str) -> dict[str, Any]:
        calendar = self._calendar_for(grant, calendar_id)
        return self._render(calendar, self._existing_or_instance(calendar, event_id).resource)

    def _event_filter(self, calendar: Calendar, params: Mapping[str, str]) -> EventFilter:
        if params.get("singleEvents") == "true":
            raise api_error(400, "badRequest", "singleEvents=true is not supported by this emulator.",
                            location="singleEvents")
        if "orderBy" in params:
            raise api_error(400, "badRequest", "orderBy is not supported by this emulator.", location="orderBy")
        if "syncToken" in params:
            clashing = [name for name in PARAMS_EXCLUDED_BY_SYNC_TOKEN if name in params]
            if clashing:
                raise api_error(400, "invalid", f"Sync token cannot be used with {', '.join(clashing)}.",
                                location="syncToken")
            return EventFilter(since=self._sync_position(calendar, params["syncToken"]).change_seq)
        stamps = {name: parse_timestamp(params[name], name) for name in ("timeMin", "timeMax", "updatedMin")
                  if name in params}
        if "timeMin" in stamps and "timeMax" in stamps and stamps["timeMax"] <= stamps["timeMin"]:
            raise api_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar",
                            location="timeMax")
        return EventFilter(updated_min=stamps.get("updatedMin"), time_min=stamps.get("timeMin"),
                           time_max=stamps.get("timeMax"), ical_uid=params.get("iCalUID"), text=params.get("q"))

    def _sync_position(self, calendar: Calendar, token: str) -> SyncPosition:
        position = self._sync_tokens.get(token)
        if (position is None or position.calendar_id != calendar.calendar_id
                or position.generation != calendar.sync_generation):
            message = "Sync token is no longer valid, a full sync is required."
            raise api_error(410, "fullSyncRequired", message, domain="calendar", location="syncToken")
        return position

    def _page_start(self, calendar: Calendar, params: Mapping[str, str]) -> tuple[int, int]:
        """(change sequence the round started at, created sequence to continue after)."""
        if "pageToken" not in params:
            return calendar.change_seq, 0
        cursor = self._page_tokens.get(params["pageToken"])
        if cursor is None or cursor.calendar_id != calendar.calendar_id or cursor.query != self._query_key(params):
            raise api_error(400, "invalid", "Invalid page token value.", location="pageToken")
        return cursor.round_seq, cursor.after_created_seq

    def _issue_page_token(self, calendar: Calendar, params: Mapping[str, str], round_seq: int, after: int) -> str:
        token = "EjYK" + secrets.token_urlsafe(24)
        self._page_tokens[token] = PageCursor(calendar.calendar_id, self._query_key(params), round_seq, after)
        return token

    def _issue_sync_token(self, calendar: Calendar, round_seq: int) -> str:
        # The round's starting point, not "now": anything changed while the pages were read comes again next round.
        token = "CPDAlvWDx70C" + secrets.token_urlsafe(12)
        self._sync_tokens[token] = SyncPosition(calendar.calendar_id, round_seq, calendar.sync_generation)
        return token

    @staticmethod
    def _query_key(params: Mapping[str, str]) -> tuple:
        """A page token is only good for the query that produced it (syncToken included)."""
        return tuple(sorted((k, v) for k, v in params.items() if k not in ("pageToken", "maxResults")))

    @staticmethod
    def _max_results(params: Mapping[str, str], default: int, ceiling: int) -> int:
        try:
            value = int(params.get("maxResults", default))
        except ValueError:
            value = 0
        if value < 1:
            raise api_error(400, "invalid", "Invalid value for maxResults.", location="maxResults")
        return min(value, ceiling)

    @staticmethod
    def _is_listed(calendar: Calendar, stored: StoredEvent) -> bool:
        """Without showDeleted: live events, plus cancelled occurrences of a live series (they shape the series)."""
        if not stored.is_cancelled:
            return True
        master = calendar.events.get(stored.resource.get("recurringEventId", ""))
        return master is not None and not master.is_cancelled

    def _list_item(self, stored: StoredEvent, zone: ZoneInfo) -> dict[str, Any]:
        if not stored.is_cancelled:
            try:
                return self._render_in_zone(stored.resource, zone)
            except (TypeError, ValueError, AttributeError):
                return copy.deepcopy(stored.resource)  # a raw event too broken to render: served as stored
        tombstone = {"kind": "calendar#event", "id": stored.resource["id"], "status": "cancelled"}
        if "recurringEventId" in stored.resource:
            tombstone["recurringEventId"] = stored.resource["recurringEventId"]
            tombstone["originalStartTime"] = self._render_in_zone(stored.resource, zone)["originalStartTime"]
        return tombstone

    # ---- events: writing ----------------------------------------------------------------------------------------

    @locked
    def insert_event(self, grant: AccessGrant, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        calendar = self._writable_calendar_for(grant, calendar_id)
        return self._render(calendar, self._insert(calendar, body, is_trusted=False).resource)

    @locked
    def replace_event(self, grant: AccessGrant, calendar_id: str, event_id: str, body: dict[str, Any],
                      if_match: str | None) -> dict[str, Any]:
        calendar = self._writable_calendar_for(grant, calendar_id)
        stored = self._existing_or_instance(calendar, event_id)
        self._check_if_match(stored, if_match)
        kept = {key: stored.resource[key] for key in SERVER_FIELDS if key in stored.resource}
        replacement = {"status": "confirmed", "reminders": {"useDefault": True}, **client_fields(body), **kept}
        self._store_change(calendar, stored, replacement)
        return self._render(calendar, stored.resource)

    @locked
    def patch_event(self, grant: AccessGrant, calendar_id: str, event_id: str, body: dict[str, Any],
                    if_match: str | None) -> dict[str, Any]:
        calendar = self._writable_calendar_for(grant, calendar_id)
        stored = self._existing_or_instance(calendar, event_id)
        self._check_if_match(stored, if_match)
        self._patch(calendar, stored, client_fields(body))
        return self._render(calendar, stored.resource)

    @locked
    def remove_event(self, grant: AccessGrant, calendar_id: str, event_id: str, if_match: str | None) -> None:
        calendar = self._writable_calendar_for(grant, calendar_id)
        stored = self._existing_or_instance(calendar, event_id)
        self._check_if_match(stored, if_match)
        self._cancel(calendar, stored)

    def _insert(self, calendar: Calendar, body: dict[str, Any], is_trusted: bool) -> StoredEvent:
        body = copy.deepcopy(body)
        event_id = body.get("id") or base32hex_id()
        if not is_trusted and not EVENT_ID.fullmatch(event_id):
            raise api_error(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:
            raise api_error(409, "duplicate", "The requested identifier already exists.")
        now = rfc3339(self.now())
        owner = {"email": calendar.owner_email, "self": True}
        server_owned = {
            "kind": "calendar#event", "id": event_id, "created": now,
            "htmlLink": "https://www.google.com/calendar/event?eid="
                        + base64.urlsafe_b64encode(f"{event_id} {calendar.calendar_id}".encode()).decode().rstrip("="),
            "creator": owner, "organizer": {**owner, "email": calendar.calendar_id},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
        }
        given = body if is_trusted else client_fields(body)
        resource = {"status": "confirmed", "sequence": 0, "reminders": {"useDefault": True},
                    **drop_nulls(given), **server_owned}
        if is_trusted:
            resource |= {key: body[key] for key in ("creator", "organizer", "recurringEventId", "originalStartTime")
                         if key in body}
        stored = StoredEvent(self._validated(calendar, resource), 0, 0)
        self._touch(calendar, stored)
        return stored

    def _patch(self, calendar: Calendar, stored: StoredEvent, changes: dict[str, Any]) -> None:
        self._store_change(calendar, stored, merge_patch(stored.resource, changes))

    def _store_change(self, calendar: Calendar, stored: StoredEvent, resource: dict[str, Any]) -> None:
        resource = self._validated(calendar, drop_nulls(resource))
        old = stored.resource
        resource["sequence"] = max(old.get("sequence", 0), resource.get("sequence", 0))
        if any(resource.get(key) != old.get(key) for key in ("start", "end", "recurrence")):
            resource["sequence"] += 1
        stored.resource = resource
        self._touch(calendar, stored)

    def _cancel(self, calendar: Calendar, stored: StoredEvent) -> None:
        if stored.is_cancelled:
            raise api_error(410, "deleted", "Resource has been deleted")
        stored.resource["status"] = "cancelled"
        self._touch(calendar, stored)
        if stored.resource.get("recurrence"):
            for exception in calendar.events.values():
                if exception.resource.get("recurringEventId") == stored.resource["id"] and not exception.is_cancelled:
                    exception.resource["status"] = "cancelled"
                    self._touch(calendar, exception)

    def _touch(self, calendar: Calendar, stored: StoredEvent) -> None:
        """Commit a change: new etag and `updated`, and a move of the calendar's change sequence for sync tokens."""
        if not stored.created_seq:
            calendar.created_seq += 1
            stored.created_seq = calendar.created_seq
            calendar.events[stored.resource["id"]] = stored
        calendar.change_seq += 1
        stored.change_seq = calendar.change_seq
        self._etag_counter += 1
        now = self.now()
        stored.resource["etag"] = f'"{int(now.timestamp()) * 1_000_000 + self._etag_counter}"'
        stored.resource["updated"] = rfc3339(now)
        self._notify_calendar(calendar.calendar_id, "exists")

    @staticmethod
    def _check_if_match(stored: StoredEvent, if_match: str | None) -> None:
        if if_match and if_match != "*" and if_match != stored.resource["etag"]:
            raise api_error(412, "conditionNotMet", "Precondition Failed", location="If-Match",
                            location_type="header")

    def _validated(self, calendar: Calendar, resource: dict[str, Any]) -> dict[str, Any]:
        if resource.get("status") not in ("confirmed", "tentative", "cancelled"):
            raise api_error(400, "invalid", "Invalid value for: status")
        for key in ("start", "end"):
            if not isinstance(resource.get(key), dict):
                raise api_error(400, "required", f"Missing {key} time.")
        recurrence = resource.get("recurrence")
        if recurrence is not None and (not isinstance(recurrence, list)
                                       or not all(RECURRENCE_LINE.fullmatch(str(line)) for line in recurrence)):
            raise api_error(400, "invalid", "Invalid recurrence rule.")
        is_series = bool(recurrence)
        resource["start"] = normalized_event_time(resource["start"], "start time", needs_zone=is_series)
        resource["end"] = normalized_event_time(resource["end"], "end time", needs_zone=is_series)
        if "originalStartTime" in resource:
            resource["originalStartTime"] = normalized_event_time(resource["originalStartTime"], "original start")
        if ("date" in resource["start"]) != ("date" in resource["end"]):
            raise api_error(400, "invalid", "Start and end times must either both be date or both be dateTime.")
        start, end = instant_of(resource["start"]), instant_of(resource["end"])
        if end < start or (end == start and "date" in resource["start"]):
            raise api_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        resource["attendees"] = self._attendees(calendar, resource.get("attendees"))
        if resource["attendees"] is None:
            del resource["attendees"]
        return resource

    @staticmethod
    def _attendees(calendar: Calendar, attendees: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if attendees is None:
            return None
        normalized = []
        # An invitation names its organizer; otherwise the event is the calendar owner's own meeting.
        invited = any(attendee.get("organizer") and attendee.get("email") not in (calendar.owner_email,
                                                                                 calendar.calendar_id)
                      for attendee in attendees)
        for attendee in attendees:
            if not attendee.get("email"):
                raise api_error(400, "required", "Missing attendee email.")
            flags = {"self": True} if attendee["email"] == calendar.owner_email else {}
            if attendee["email"] in (calendar.owner_email, calendar.calendar_id) and not invited:
                flags["organizer"] = True
            normalized.append({"responseStatus": "needsAction", **attendee, **flags})
        return normalized

    # ---- events: lookup and rendering ---------------------------------------------------------------------------

    def _existing_or_instance(self, calendar: Calendar, event_id: str) -> StoredEvent:
        """The stored event, or an untouched occurrence of a series addressed by its instance id (stored on change)."""
        stored = calendar.events.get(event_id)
        return stored if stored is not None else StoredEvent(self._instance_resource(calendar, event_id), 0, 0)

    @staticmethod
    def _instance_resource(calendar: Calendar, event_id: str) -> dict[str, Any]:
        match = INSTANCE_ID.fullmatch(event_id)
        master = calendar.events.get(match["master"]) if match else None
        if master is None or master.is_cancelled or not master.resource.get("recurrence"):
            raise api_error(404, "notFound", "Not Found")
        is_all_day = "date" in master.resource["start"]
        if is_all_day != ("T" not in match["stamp"]):
            raise api_error(404, "notFound", "Not Found")
        duration = instant_of(master.resource["end"]) - instant_of(master.resource["start"])
        if is_all_day:
            day = datetime.strptime(match["stamp"], "%Y%m%d").date()
            start, end = {"date": day.isoformat()}, {"date": (day + duration).isoformat()}
        else:
            moment = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            zone = {"timeZone": master.resource["start"]["timeZone"]}
            start = {"dateTime": moment.isoformat(), **zone}
            end = {"dateTime": (moment + duration).isoformat(), **zone}
        instance = {key: copy.deepcopy(value) for key, value in master.resource.items() if key != "recurrence"}
        instance |= {"id": event_id, "recurringEventId": master.resource["id"], "originalStartTime": start,
                     "start": dict(start), "end": end}
        return instance

    def _calendar_for(self, grant: AccessGrant, calendar_id: str) -> Calendar:
        calendar = self._primary_calendar(grant.email) if calendar_id == "primary" else self._calendars.get(calendar_id)
        if calendar is None or calendar.owner_email != grant.email:
            raise api_error(404, "notFound", "Not Found")
        return calendar

    def _writable_calendar_for(self, grant: AccessGrant, calendar_id: str) -> Calendar:
        calendar = self._calendar_for(grant, calendar_id)
        if not calendar.is_writable:
            raise api_error(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
        return calendar

    def _primary_calendar(self, email: str) -> Calendar | None:
        return next((c for c in self._calendars.values() if c.owner_email == email and c.is_primary), None)

    @staticmethod
    def _in_created_order(calendar: Calendar) -> list[StoredEvent]:
        return sorted(calendar.events.values(), key=lambda stored: stored.created_seq)

    def _render(self, calendar: Calendar, resource: dict[str, Any]) -> dict[str, Any]:
        return self._render_in_zone(resource, ZoneInfo(calendar.time_zone))

    @staticmethod
    def _render_in_zone(resource: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
        """Google writes `dateTime` with the offset of the calendar's (or the request's) zone."""
        rendered = copy.deepcopy(resource)
        for key in ("start", "end", "originalStartTime"):
            if "dateTime" in rendered.get(key, {}):
                rendered[key]["dateTime"] = format_in_zone(rendered[key]["dateTime"], zone)
        return rendered


def client_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in SERVER_FIELDS}


def drop_nulls(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: drop_nulls(value) if isinstance(value, dict) else value
            for key, value in resource.items() if value is not None}


def merge_patch(resource: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, arrays replace wholesale, null clears."""
    merged = copy.deepcopy(resource)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return drop_nulls(merged)


def normalized_event_time(value: Any, what: str, needs_zone: bool = False) -> dict[str, Any]:
    """Store `dateTime` as a UTC instant; keep `date` and `timeZone` as given."""
    if not isinstance(value, dict) or ("date" in value) == ("dateTime" in value):
        raise api_error(400, "invalid", f"Invalid {what}.")
    if "date" in value:
        try:
            date.fromisoformat(value["date"])
        except (TypeError, ValueError):
            raise api_error(400, "invalid", f"Invalid {what}.") from None
        return {key: value[key] for key in ("date", "timeZone") if key in value}
    zone = zone_or_400(value["timeZone"], what) if "timeZone" in value else None
    if needs_zone and zone is None:
        raise api_error(400, "required", f"Missing time zone definition for {what}.")
    try:
        moment = datetime.fromisoformat(value["dateTime"])
    except (TypeError, ValueError):
        raise api_error(400, "invalid", f"Invalid {what}.") from None
    if moment.tzinfo is None:
        if zone is None:
            raise api_error(400, "required", f"Missing time zone definition for {what}.")
        moment = moment.replace(tzinfo=zone)
    return {"dateTime": moment.astimezone(UTC).isoformat(), **({"timeZone": value["timeZone"]} if zone else {})}


def instant_of(event_time: dict[str, Any]) -> datetime:
    if "date" in event_time:
        return datetime.combine(date.fromisoformat(event_time["date"]), datetime.min.time(), UTC)
    return datetime.fromisoformat(event_time["dateTime"])


# ---- HTTP layer ---------------------------------------------------------------------------------------------------

AUTH_PARAMS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method",
    "access_type", "prompt", "include_granted_scopes",
)
CONTROL_ACTIONS = frozenset({
    "add_client", "add_account", "add_calendar", "delete_calendar", "unshare_calendar", "add_event", "add_raw_event",
    "update_event", "delete_event", "stored_events",
    "fail_next", "expire_sync_tokens", "expire_access_tokens", "revoke_refresh_tokens", "set_page_size",
    "advance_clock", "channels", "forget_channels", "lose_notifications", "set_push_policy",
})
CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Google Accounts (emulator)</title><style>{{ style }}</style></head>
<body><main>
<p class="brand"><span class="brand-mark" style="background:#1a73e8">G</span> Sign in with Google</p>
<h1>{{ client_name }} wants to access your Google Account</h1>
<p class="pretend">{{ pretend }}</p>
<form method="post" action="{{ action }}">
  {% for name, value in fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
  <label for="login_hint">Account</label>
  <select id="login_hint" name="login_hint">{% for account in accounts %}
    <option value="{{ account }}"{% if account == email %} selected{% endif %}>{{ account }}</option>{% endfor %}
  </select>
  <p>This will allow {{ client_name }} to:</p>
  <ul>{% for scope in scopes %}<li title="{{ scope }}">{{ scope_words(scope) }}</li>{% endfor %}</ul>
  <div class="actions">
    <button type="submit" name="decision" value="deny">Deny</button>
    <button type="submit" name="decision" value="allow" class="primary">Allow</button>
  </div>
</form>
</main></body></html>
"""
ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Error 400: {{ error }}</title></head>
<body><h1>Access blocked: authorization error</h1><p>{{ description }}</p><p>Error 400: {{ error }}</p></body></html>
"""


def create_google_emulator(state: GoogleState | None = None) -> Flask:
    state = state if state is not None else GoogleState()
    app = Flask(__name__)
    app.config["GOOGLE_STATE"] = state

    @app.errorhandler(EmulatorError)
    def emulator_error(error: EmulatorError):
        return make_response(jsonify(error.body), error.status, error.headers)

    @app.errorhandler(AuthorizationRejected)
    def authorization_rejected(error: AuthorizationRejected):
        return render_template_string(ERROR_PAGE, error=error.error, description=error.description), 400

    @app.before_request
    def record_and_inject_faults():
        if request.path.startswith("/_emulator/"):
            return None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        state.record(RecordedRequest(request.method, request.path, request.args.to_dict(), headers,
                                     request.get_json(silent=True)))
        fault = state.take_fault(request.method, request.path)
        if fault is None:
            return None
        body = jsonify(fault.body) if isinstance(fault.body, dict) else fault.body
        return make_response(body, fault.status, fault.headers)

    _add_oauth_routes(app, state)
    _add_calendar_routes(app, state)
    _add_control_routes(app, state)
    return app


def _add_oauth_routes(app: Flask, state: GoogleState) -> None:
    @app.get("/o/oauth2/v2/auth")
    def consent_page():
        auth = state.check_authorization(request.args)
        decision = request.args.get("emulator_auto")
        if decision in ("allow", "deny"):
            return redirect(state.authorize(auth, is_allowed=decision == "allow"))
        fields = [(name, request.args[name]) for name in AUTH_PARAMS if name in request.args]
        return render_template_string(
            CONSENT_PAGE, action=url_for("consent_decision"), fields=fields, accounts=state.accounts(),
            email=auth.email, scopes=sorted(auth.scopes), client_name=state.client_name(auth.client_id),
            style=consent.STYLE, pretend=consent.PRETEND, scope_words=consent.scope_words,
        )

    @app.post("/o/oauth2/v2/auth")
    def consent_decision():
        auth = state.check_authorization(request.form)
        return redirect(state.authorize(auth, is_allowed=request.form.get("decision") == "allow"))

    @app.post("/token")
    def token():
        basic = request.authorization
        credentials = None
        if basic is not None and basic.type == "basic":
            credentials = (unquote_plus(basic.username or ""), unquote_plus(basic.password or ""))
        response = jsonify(state.token(request.form, credentials))
        response.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
        return response

    @app.post("/revoke")
    def revoke():
        state.revoke(request.form.get("token") or request.args.get("token", ""))
        return jsonify({})

    @app.get("/v1/userinfo")
    @app.get("/oauth2/v3/userinfo")
    def userinfo():
        grant = state.authenticate(request.headers.get("Authorization"), needs_any_of=None)
        return jsonify(state.userinfo(grant))


def _add_calendar_routes(app: Flask, state: GoogleState) -> None:
    def bearer(scopes: frozenset[str] | None = None) -> AccessGrant:
        return state.authenticate(request.headers.get("Authorization"), needs_any_of=scopes)

    def json_body() -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise api_error(400, "parseError", "Parse Error")
        return body

    @app.get("/calendar/v3/users/me/calendarList")
    def calendar_list():
        return jsonify(state.calendar_list(bearer(CALENDAR_LIST_SCOPES), request.args))

    @app.get("/calendar/v3/calendars/<calendar_id>/events")
    def list_events(calendar_id: str):
        return jsonify(state.list_events(bearer(EVENTS_READ_SCOPES), calendar_id, request.args))

    @app.post("/calendar/v3/calendars/<calendar_id>/events")
    def insert_event(calendar_id: str):
        return jsonify(state.insert_event(bearer(EVENTS_WRITE_SCOPES), calendar_id, json_body()))

    @app.get("/calendar/v3/calendars/<calendar_id>/events/<event_id>")
    def get_event(calendar_id: str, event_id: str):
        return jsonify(state.get_event(bearer(EVENTS_READ_SCOPES), calendar_id, event_id))

    @app.put("/calendar/v3/calendars/<calendar_id>/events/<event_id>")
    def replace_event(calendar_id: str, event_id: str):
        grant = bearer(EVENTS_WRITE_SCOPES)
        return jsonify(state.replace_event(grant, calendar_id, event_id, json_body(), request.headers.get("If-Match")))

    @app.patch("/calendar/v3/calendars/<calendar_id>/events/<event_id>")
    def patch_event(calendar_id: str, event_id: str):
        grant = bearer(EVENTS_WRITE_SCOPES)
        return jsonify(state.patch_event(grant, calendar_id, event_id, json_body(), request.headers.get("If-Match")))

    @app.delete("/calendar/v3/calendars/<calendar_id>/events/<event_id>")
    def delete_event(calendar_id: str, event_id: str):
        state.remove_event(bearer(EVENTS_WRITE_SCOPES), calendar_id, event_id, request.headers.get("If-Match"))
        return "", 204

    @app.post("/calendar/v3/calendars/<calendar_id>/events/watch")
    def watch_events(calendar_id: str):
        return jsonify(state.watch_events(bearer(EVENTS_READ_SCOPES), calendar_id, json_body()))

    @app.post("/calendar/v3/users/me/calendarList/watch")
    def watch_calendar_list():
        return jsonify(state.watch_calendar_list(bearer(CALENDAR_LIST_SCOPES), json_body()))

    @app.post("/calendar/v3/channels/stop")
    def stop_channel():
        state.stop_channel(bearer(), json_body())
        return "", 204


def _add_control_routes(app: Flask, state: GoogleState) -> None:
    @app.post("/_emulator/<action>")
    def control(action: str):
        if action not in CONTROL_ACTIONS:
            abort(404)
        try:
            result = getattr(state, action)(**(request.get_json(silent=True) or {}))
        except (TypeError, KeyError, ValueError) as exc:
            return jsonify({"error": f"{type(exc).__name__}: {exc}"}), 400
        return jsonify({"result": result})

    @app.get("/_emulator/requests")
    def recorded_requests():
        return jsonify([asdict(entry) for entry in state.requests])

    @app.get("/_emulator/ui")
    def ui():
        return render("Google Calendar", "/_emulator/ui", state.ui_calendars())

    @app.post("/_emulator/ui/events")
    def ui_add_event():
        start = datetime.fromisoformat(request.form["start"]).replace(tzinfo=UTC)
        state.add_event(request.form["calendar"], {
            "summary": request.form.get("title") or "New event",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"}})
        return redirect(url_for("ui"), 303)

    @app.post("/_emulator/ui/events/<event_id>")
    def ui_change_event(event_id: str):
        calendar_id, action = request.form["calendar"], request.form.get("action")
        if action == "delete":
            state.delete_event(calendar_id, event_id)
        elif action == "later":
            state.move_event_later(calendar_id, event_id, timedelta(hours=1))
        else:
            state.update_event(calendar_id, event_id, {"summary": request.form.get("title", "")})
        return redirect(url_for("ui"), 303)


# ---- sandbox data -------------------------------------------------------------------------------------------------

SANDBOX_CLIENT_ID = "almanac-sandbox.apps.googleusercontent.com"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_ZONE = "Europe/Berlin"
FAMILY_CALENDAR_ID = "family4k2v9q0c@group.calendar.google.com"


def sample_google_state(today: date | None = None) -> GoogleState:
    """A default account with a primary "Work" and a "Family" calendar and a realistic few weeks of events."""
    state = GoogleState()
    state.add_client(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    state.add_calendar(DEFAULT_ACCOUNT, DEFAULT_ACCOUNT, "Work", "#039be5", primary=True, time_zone=SANDBOX_ZONE)
    state.add_calendar(DEFAULT_ACCOUNT, FAMILY_CALENDAR_ID, "Family", "#33b679", time_zone=SANDBOX_ZONE)
    monday = (today or date.today()) - timedelta(days=(today or date.today()).weekday())
    _seed_team_sync(state, monday)
    _seed_work_events(state, monday)
    _seed_family_events(state, monday)
    return state


def _at(day: date, hour: int, minute: int = 0, zone: str = SANDBOX_ZONE) -> dict[str, str]:
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
    return {"dateTime": moment.isoformat(), "timeZone": zone}


def _seed_team_sync(state: GoogleState, monday: date) -> None:
    """A weekly series with one skipped week (EXDATE) and one moved occurrence (an exception)."""
    first, skipped = monday - timedelta(weeks=2), monday + timedelta(weeks=1)
    master = state.add_event(DEFAULT_ACCOUNT, {
        "summary": "Team sync", "location": "Room 4.12", "start": _at(first, 9, 30), "end": _at(first, 10),
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO", f"EXDATE;TZID={SANDBOX_ZONE}:{skipped:%Y%m%d}T093000"],
        "attendees": [{"email": DEFAULT_ACCOUNT, "responseStatus": "accepted"},
                      {"email": "priya@example.com", "displayName": "Priya Shah", "responseStatus": "accepted"},
                      {"email": "sam@example.com", "displayName": "Sam Okafor", "responseStatus": "tentative"}],
    })
    original = datetime.fromisoformat(_at(monday, 9, 30)["dateTime"]).astimezone(UTC)
    state.update_event(DEFAULT_ACCOUNT, f"{master['id']}_{original:%Y%m%dT%H%M%SZ}",
                       {"start": _at(monday, 11), "end": _at(monday, 11, 30), "summary": "Team sync (moved)"})


def _seed_work_events(state: GoogleState, monday: date) -> None:
    state.add_event(DEFAULT_ACCOUNT, {"summary": "1:1 with Priya", "start": _at(monday + timedelta(days=1), 14),
                                      "end": _at(monday + timedelta(days=1), 14, 30)})
    state.add_event(DEFAULT_ACCOUNT, {
        "summary": "Quarterly planning", "description": "Bring the <b>Q3 numbers</b>.",
        "start": _at(monday + timedelta(days=2), 10), "end": _at(monday + timedelta(days=2), 12),
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 30},
                                                         {"method": "email", "minutes": 1440}]},
    })
    state.add_event(DEFAULT_ACCOUNT, {"summary": "Lunch with Sam", "location": "Markthalle Neun",
                                      "start": _at(monday + timedelta(days=3), 12, 30),
                                      "end": _at(monday + timedelta(days=3), 13, 30)})
    new_york_day = monday + timedelta(days=4)
    state.add_event(DEFAULT_ACCOUNT, {"summary": "Call with the New York office",
                                      "start": _at(new_york_day, 10, zone="America/New_York"),
                                      "end": _at(new_york_day, 11, zone="America/New_York")})
    state.add_event(DEFAULT_ACCOUNT, {"summary": "Release review", "status": "tentative",
                                      "start": _at(monday + timedelta(days=8), 16),
                                      "end": _at(monday + timedelta(days=8), 17)})


def _seed_family_events(state: GoogleState, monday: date) -> None:
    birthday = monday + timedelta(days=5)
    state.add_event(FAMILY_CALENDAR_ID, {"summary": "Mum's birthday", "start": {"date": birthday.isoformat()},
                                         "end": {"date": (birthday + timedelta(days=1)).isoformat()}})
    trip = monday + timedelta(days=11)
    state.add_event(FAMILY_CALENDAR_ID, {"summary": "Ski trip", "location": "Garmisch",
                                         "start": {"date": trip.isoformat()},
                                         "end": {"date": (trip + timedelta(days=3)).isoformat()}})
    state.add_event(FAMILY_CALENDAR_ID, {"summary": "School play", "start": _at(monday - timedelta(days=4), 17),
                                         "end": _at(monday - timedelta(days=4), 18, 30)})
    state.add_event(FAMILY_CALENDAR_ID, {"summary": "Dentist", "start": _at(monday + timedelta(days=9), 8),
                                         "end": _at(monday + timedelta(days=9), 8, 45)})
