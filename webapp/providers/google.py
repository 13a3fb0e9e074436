"""Google Calendar through OAuth 2.0 (webapp.providers.oauth) and Calendar API v3."""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests

from webapp.providers import oauth
from webapp.providers.base import (
    AuthRejected,
    CalendarGone,
    ChangePage,
    Channel,
    Credentials,
    HttpClient,
    InvalidGrant,
    NotFound,
    PreconditionFailed,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    ReadOnly,
    RemoteCalendar,
    RemoteEvent,
    SkippedEvent,
    SyncTokenExpired,
    TokenSet,
    WatchRefused,
)
from webapp.providers.http import new_session, parse_retry_after
from webapp.providers.oauth import OAuthClient
from webapp.zones import is_iana_zone

log = logging.getLogger(__name__)

AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
API_URL = "https://www.googleapis.com/calendar/v3"
USERINFO_URL = "https://openidconnect.googleapis.com/v1/userinfo"

FULL_CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events",
)
SCOPES = ("openid", "email", *CALENDAR_SCOPES)

TIMEOUT_SECONDS = 15
EVENTS_PAGE_SIZE = 250
CALENDARS_PAGE_SIZE = 250
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
# 403 reasons that mean "this account may not change this": the calendar is shared read-only, or the event is not ours.
READ_ONLY_REASONS = frozenset({"requiredAccessLevel", "forbidden", "forbiddenForNonOrganizer"})
GOOGLE_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
HEX_COLOR = re.compile(r"#[0-9a-f]{6}")
STATUS_FROM_GOOGLE = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}
# Sync-originated writes must not mail the guests.
WRITE_PARAMS = {"sendUpdates": "none"}


class GoogleProvider(HttpClient):
    kind = "GOOGLE"

    def __init__(self, client_id: str, client_secret: str, auth_url: str = AUTH_URL, token_url: str = TOKEN_URL,
                 revoke_url: str = REVOKE_URL, api_url: str = API_URL, userinfo_url: str = USERINFO_URL,
                 session: requests.Session | None = None, timeout: float = TIMEOUT_SECONDS):
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_url = auth_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.api_url = api_url.rstrip("/")
        self.userinfo_url = userinfo_url
        self.session = session or new_session()
        self.timeout = timeout

    # ---- OAuth --------------------------------------------------------------------------------------------------

    def _oauth_client(self) -> OAuthClient:
        return OAuthClient("Google", self.client_id, self.client_secret, self.auth_url, self.token_url, SCOPES,
                           failure=token_failure, timeout=self.timeout)

    def authorization_url(self, *, state: str, redirect_uri: str) -> tuple[str, str]:
        # offline + consent: the only reliable way to get a refresh token, also on a reconnect
        return oauth.authorization_url(self._oauth_client(), state=state, redirect_uri=redirect_uri,
                                       access_type="offline", prompt="consent", include_granted_scopes="true")

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return oauth.exchange_code(self._oauth_client(), code=code, code_verifier=code_verifier,
                                   redirect_uri=redirect_uri)

    def refresh(self, refresh_token: str) -> TokenSet:
        # Google does not rotate refresh tokens: a refresh answer normally has none, and the old one stays good.
        return oauth.refresh(self._oauth_client(), refresh_token)

    def revoke(self, token: str) -> None:
        response = self._send("POST", self.revoke_url, "revoke", data={"token": token})
        if response.ok or oauth_error_code(response) == "invalid_token":  # already dead is what we wanted
            return
        raise api_error(response, "revoke")

    def account_email(self, credentials: Credentials) -> str | None:
        return self._get_json(credentials, self.userinfo_url, "userinfo").get("email")

    # ---- calendars and events -----------------------------------------------------------------------------------

    def list_calendars(self, credentials: Credentials) -> list[RemoteCalendar]:
        calendars, page = [], None
        while True:
            params = {"maxResults": CALENDARS_PAGE_SIZE, **({"pageToken": page} if page else {})}
            body = self._get_json(credentials, f"{self.api_url}/users/me/calendarList", "calendarList.list",
                                  params=params)
            calendars += [remote_calendar(entry) for entry in body.get("items", [])]
            page = body.get("nextPageToken")
            if not page:
                return calendars

    def fetch_changes(self, credentials: Credentials, calendar_id: str, sync_token: str | None,
                      page: str | None, *, time_zone: str | None = None) -> ChangePage:
        # No singleEvents: masters and their exceptions come as they are. A full round asks for deletions too, so
        # the cancelled occurrences of a series are known from the start; an incremental round always has them.
        params: dict[str, Any] = {"maxResults": EVENTS_PAGE_SIZE}
        params |= {"syncToken": sync_token} if sync_token else {"showDeleted": "true"}
        if page:
            params["pageToken"] = page  # Google wants the round's syncToken again alongside it
        try:
            body = self._get_json(credentials, self._events_url(calendar_id), "events.list", params=params,
                                  gone=SyncTokenExpired)
        except NotFound as error:
            # events.list names only the calendar: the calendar is what is missing.
            raise CalendarGone(str(error), status=error.status) from None
        events, removed_ids, skipped = [], [], []
        for item in body.get("items", []):
            item_id = item.get("id") if isinstance(item, dict) else None
            try:
                if item.get("status") == "cancelled" and not item.get("recurringEventId"):
                    removed_ids.append(str(item["id"]))
                else:
                    events.append(remote_event(item, calendar_zone=body.get("timeZone")))
            except (KeyError, TypeError, ValueError, AttributeError, ProviderError) as error:
                # One unreadable event must not stop the calendar; the reason names the problem, not the content.
                skipped.append(SkippedEvent(str(item_id) if item_id else None, unreadable_reason(error)))
        return ChangePage(events, removed_ids, next_page=body.get("nextPageToken"),
                          sync_token=body.get("nextSyncToken"), skipped=skipped)

    def create_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        if event.parent_provider_event_id and event.original_start_time:
            return self._override_instance(credentials, calendar_id, event)
        event_id = google_event_id(event.provider_event_id)
        body = without_nulls({**google_event_body(event), "id": event_id})
        response = self._call("POST", self._events_url(calendar_id), "events.insert", credentials,
                              params=WRITE_PARAMS, json=body)
        if response.status_code == 409 and error_reason(response)[0] == "duplicate":
            # An earlier attempt got through; our chosen id makes the retry find it instead of a second copy.
            return replace(self.get_event(credentials, calendar_id, event_id), found_existing=True)
        if response.status_code == 404:
            raise CalendarGone(f"Google events.insert: HTTP 404 {error_reason(response)[0] or ''}".rstrip(),
                               status=404)
        return remote_event(self._checked_json(response, "events.insert"))

    def _override_instance(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """A changed or cancelled occurrence: Google already has the instance under an id derived from the series and
        its original start, so we edit (or cancel) that instance instead of inserting an event of our own."""
        instance = replace(event, provider_event_id=instance_id(event), etag=None)
        if event.status == "CANCELLED":
            self.delete_event(credentials, calendar_id, instance.provider_event_id, None)
            return instance
        return self.update_event(credentials, calendar_id, instance)

    def get_event(self, credentials: Credentials, calendar_id: str, provider_event_id: str) -> RemoteEvent:
        return remote_event(self._get_json(credentials, self._events_url(calendar_id, provider_event_id), "events.get"))

    def update_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        # PATCH, not PUT: a full replace would wipe what we don't model (guests, colour, conference data, ...).
        response = self._call("PATCH", self._events_url(calendar_id, event.provider_event_id), "events.patch",
                              credentials, params=WRITE_PARAMS, json=google_event_body(event),
                              headers=if_match(event.etag))
        return remote_event(self._checked_json(response, "events.patch"))

    def respond(self, credentials: Credentials, calendar_id: str, event: RemoteEvent, response: str,
                email: str) -> RemoteEvent:
        """Google's way: the account's own attendee entry gets the responseStatus (events.patch of attendees)."""
        attendees = [{key: value for key, value in {
            "email": attendee.get("email"), "displayName": attendee.get("name"),
            "responseStatus": response if (attendee.get("email") or "").lower() == email.lower()
            else attendee.get("responseStatus"),
            "organizer": attendee.get("organizer") or None}.items() if value is not None}
            for attendee in event.attendees or [] if attendee.get("email")]
        answer = self._call("PATCH", self._events_url(calendar_id, event.provider_event_id), "events.patch",
                            credentials, params=WRITE_PARAMS, json={"attendees": attendees},
                            headers=if_match(event.etag))
        return remote_event(self._checked_json(answer, "events.patch"))

    def delete_event(self, credentials: Credentials, calendar_id: str, provider_event_id: str,
                     etag: str | None) -> None:
        response = self._call("DELETE", self._events_url(calendar_id, provider_event_id), "events.delete",
                              credentials, params=WRITE_PARAMS, headers=if_match(etag))
        if response.ok or response.status_code in (404, 410):  # already gone is what we wanted
            return
        raise api_error(response, "events.delete")

    # ---- push notifications (watch channels) ---------------------------------------------------------------------

    def watch_events(self, credentials: Credentials, calendar_id: str, *, channel_id: str, address: str,
                     token: str, ttl_seconds: int) -> Channel:
        """events.watch: Google POSTs to `address` whenever the calendar's events change (message 1 is "sync",
        possibly before this call returns)."""
        try:
            return self._watch(credentials, f"{self._events_url(calendar_id)}/watch", "events.watch",
                               channel_id=channel_id, address=address, token=token, ttl_seconds=ttl_seconds)
        except NotFound as error:
            raise CalendarGone(str(error), status=error.status) from None

    def watch_calendar_list(self, credentials: Credentials, *, channel_id: str, address: str, token: str,
                            ttl_seconds: int) -> Channel:
        """calendarList.watch: notified when the account gains or loses a calendar."""
        return self._watch(credentials, f"{self.api_url}/users/me/calendarList/watch", "calendarList.watch",
                           channel_id=channel_id, address=address, token=token, ttl_seconds=ttl_seconds)

    def stop_channel(self, credentials: Credentials, channel_id: str, resource_id: str) -> None:
        """channels/stop; a channel Google no longer knows (expired, stopped before) is what we wanted."""
        response = self._call("POST", f"{self.api_url}/channels/stop", "channels.stop", credentials,
                              json={"id": channel_id, "resourceId": resource_id})
        if response.ok or response.status_code == 404:
            return
        raise api_error(response, "channels.stop")

    def _watch(self, credentials: Credentials, url: str, operation: str, *, channel_id: str, address: str,
               token: str, ttl_seconds: int) -> Channel:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
                "params": {"ttl": str(ttl_seconds)}}
        response = self._call("POST", url, operation, credentials, json=body)
        if response.status_code == 400:
            raise watch_refusal(response, address)
        channel = self._checked_json(response, operation)
        try:
            expires_at = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
            return Channel(str(channel["id"]), str(channel["resourceId"]), expires_at)
        except (KeyError, TypeError, ValueError):
            raise ProviderError(f"Google {operation}: the channel in the answer is incomplete",
                                status=response.status_code) from None

    # ---- HTTP ---------------------------------------------------------------------------------------------------

    def _events_url(self, calendar_id: str, event_id: str | None = None) -> str:
        # Calendar ids contain "@" and sometimes "#": always encode path segments.
        url = f"{self.api_url}/calendars/{quote(calendar_id, safe='')}/events"
        return f"{url}/{quote(event_id, safe='')}" if event_id else url

    def _get_json(self, credentials: Credentials, url: str, operation: str, params: dict[str, Any] | None = None,
                  gone: type[ProviderError] = NotFound) -> dict[str, Any]:
        response = self._call("GET", url, operation, credentials, params=params)
        return self._checked_json(response, operation, gone=gone)

    def _call(self, method: str, url: str, operation: str, credentials: Credentials, *,
              headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        if not credentials.access_token:
            raise AuthRejected(f"Google {operation}: no access token")
        headers = {"Authorization": f"Bearer {credentials.access_token}", **(headers or {})}
        return self._send(method, url, operation, headers=headers, **kwargs)

    def _send(self, method: str, url: str, operation: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            log.warning("google request failed operation=%s error=%s", operation, type(exc).__name__)
            raise ProviderUnreachable(f"Google {operation}: {type(exc).__name__}") from exc

    @staticmethod
    def _checked_json(response: requests.Response, operation: str,
                      gone: type[ProviderError] = NotFound) -> dict[str, Any]:
        if not response.ok:
            raise api_error(response, operation, gone=gone)
        return json_body(response, operation)


# ---- responses and errors -----------------------------------------------------------------------------------------

def json_body(response: requests.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderError(f"Google {operation}: response is not a JSON object", status=response.status_code)
    return body


def error_reason(response: requests.Response) -> tuple[str | None, str | None]:
    """(reason, domain) of the first error detail; Google says branch on these, never on the message."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    details = error.get("errors") if isinstance(error, dict) else None
    if not details or not isinstance(details[0], dict):
        return None, None
    return details[0].get("reason"), details[0].get("domain")


def oauth_error_code(response: requests.Response) -> str | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, str) else None


def api_error(response: requests.Response, operation: str, gone: type[ProviderError] = NotFound) -> ProviderError:
    status = response.status_code
    reason, domain = error_reason(response)
    message = f"Google {operation}: HTTP {status}" + (f" {reason}" if reason else "")
    log.info("google call rejected operation=%s status=%s reason=%s", operation, status, reason)
    if status == 401:
        return AuthRejected(message, status=status)
    # Google throttles with either status; 403 is also used for real permission problems, hence the reason check.
    if status == 429 or (status == 403 and (reason in RATE_LIMIT_REASONS or domain == "usageLimits")):
        return RateLimited(message, status=status, retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status == 403 and reason in READ_ONLY_REASONS:
        return ReadOnly(message, status=status)
    if status == 404:
        return NotFound(message, status=status)
    if status == 410:
        return gone(message, status=status)
    if status == 412:
        return PreconditionFailed(message, status=status)
    if status >= 500:
        return ProviderUnreachable(message, status=status)
    return ProviderError(message, status=status)


WATCH_REFUSALS = {
    "push.webhookUrlNotHttps": "Google sends notifications only to an https:// address with a valid certificate, "
                               "and {address} is not one",
    "push.webhookUrlUnauthorized": "Google does not accept {address} as a notification address for this project",
    "push.webhookUrlNoHostPort": "Google cannot use {address} as a notification address",
    "channelIdNotUnique": "Google already has a channel with this id",
}


def watch_refusal(response: requests.Response, address: str) -> WatchRefused:
    """A 400 to a watch request, in plain words (the address is ours; Google's own text is not kept)."""
    reason = error_reason(response)[0]
    words = WATCH_REFUSALS.get(reason or "", "Google refused to send notifications to {address}")
    return WatchRefused(words.format(address=address) + ".", status=response.status_code)


def unreadable_reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"unreadable event: the field {str(error.args[0])[:40]!r} is missing"
    if isinstance(error, ProviderError):
        return f"unreadable event: {error}"
    return f"unreadable event ({type(error).__name__})"


def token_failure(response: requests.Response) -> ProviderError:
    """A token endpoint's refusal. Only the error code is kept: the description can echo the request."""
    error = oauth_error_code(response)
    if error == "invalid_grant":
        return InvalidGrant("Google token endpoint: invalid_grant", status=response.status_code)
    if response.status_code == 429 or response.status_code >= 500:
        return api_error(response, "token")
    return ProviderError(f"Google token endpoint: {error or 'HTTP ' + str(response.status_code)}",
                         status=response.status_code)


def missing_scopes(granted_scope: str | None) -> list[str]:
    """Calendar scopes the user unticked on Google's granular consent screen (empty when all is well)."""
    granted = set((granted_scope or "").split())
    if FULL_CALENDAR_SCOPE in granted:
        return []
    return [scope for scope in CALENDAR_SCOPES if scope not in granted]


def if_match(etag: str | None) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


def instance_id(event: RemoteEvent) -> str:
    """Google's id for one occurrence: `<series id>_<original start>` (UTC basic format, or the date if all-day)."""
    original = event.original_start_time.astimezone(UTC)
    stamp = original.strftime("%Y%m%d") if event.is_all_day else original.strftime("%Y%m%dT%H%M%SZ")
    return f"{event.parent_provider_event_id}_{stamp}"


def google_event_id(provider_event_id: str) -> str:
    """The id we ask Google to use, stable across retries so a repeated insert hits 409 instead of duplicating."""
    if GOOGLE_EVENT_ID.fullmatch(provider_event_id):
        return provider_event_id
    if not provider_event_id:
        raise ValueError("an idempotent insert needs a provider_event_id")
    return hashlib.sha256(provider_event_id.encode()).hexdigest()[:32]  # hex digits are base32hex too


# ---- mapping ------------------------------------------------------------------------------------------------------

def remote_calendar(entry: dict[str, Any]) -> RemoteCalendar:
    color = (entry.get("backgroundColor") or "").lower()
    return RemoteCalendar(
        calendar_id=entry["id"],
        name=entry.get("summaryOverride") or entry.get("summary") or entry["id"],
        color=color if HEX_COLOR.fullmatch(color) else None,
        is_primary=bool(entry.get("primary")),
        can_write=entry.get("accessRole") in ("owner", "writer"),
    )


def remote_event(item: dict[str, Any], calendar_zone: str | None = None) -> RemoteEvent:
    # A cancelled occurrence carries only its original start; it gets that as a zero-length span.
    start_field = item.get("start") or item.get("originalStartTime") or {}
    start_time, is_all_day = instant(start_field, calendar_zone)
    end_time = instant(item["end"], calendar_zone)[0] if item.get("end") else start_time
    original = item.get("originalStartTime")
    return RemoteEvent(
        provider_event_id=item["id"],
        title=item.get("summary") or "",
        start_time=start_time,
        end_time=end_time,
        is_all_day=is_all_day,
        timezone=start_field.get("timeZone") or calendar_zone or "UTC",
        status=STATUS_FROM_GOOGLE.get(item.get("status", "confirmed"), "CONFIRMED"),
        description=item.get("description"),
        location=item.get("location"),
        recurrence_rule="\n".join(item["recurrence"]) if item.get("recurrence") else None,
        parent_provider_event_id=item.get("recurringEventId"),
        original_start_time=instant(original, calendar_zone)[0] if original else None,
        attendees=remote_attendees(item.get("attendees")),
        reminders=remote_reminders(item.get("reminders")),
        html_link=item["htmlLink"] if urlsplit(item.get("htmlLink") or "").scheme in ("http", "https") else None,
        etag=item.get("etag"),
        ical_uid=item.get("iCalUID"),
        sequence=item.get("sequence"),
        metadata=_facts(item),
    )


def _facts(item: dict[str, Any]) -> dict[str, Any]:
    """What we keep besides the event itself: free/busy, the user's own answer and whether they organise it."""
    own = next((a for a in item.get("attendees") or [] if a.get("self")), {})
    facts = {
        "updated": item.get("updated"),
        "transparency": item.get("transparency"),
        "self_response": own.get("responseStatus"),
        "is_organizer": bool(item["organizer"].get("self")) if isinstance(item.get("organizer"), dict) else None,
    }
    return {name: value for name, value in facts.items() if value is not None}


def instant(event_time: dict[str, Any], fallback_zone: str | None) -> tuple[datetime, bool]:
    """(aware UTC instant, is all-day); an all-day date is 00:00 UTC of that date."""
    if event_time.get("date"):
        return datetime.combine(date.fromisoformat(event_time["date"]), time(), UTC), True
    if not event_time.get("dateTime"):
        raise ProviderError("Google event without a start or end")
    moment = datetime.fromisoformat(event_time["dateTime"])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(event_time.get("timeZone") or fallback_zone))
    return moment.astimezone(UTC), False


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name if is_iana_zone(name) else "UTC")


def remote_attendees(attendees: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if attendees is None:
        return None
    return [{"email": a.get("email"), "name": a.get("displayName"), "responseStatus": a.get("responseStatus"),
             "organizer": bool(a.get("organizer"))} for a in attendees]


def remote_reminders(reminders: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not reminders or reminders.get("useDefault"):
        return None
    return [{"method": r.get("method"), "minutes": r.get("minutes")} for r in reminders.get("overrides", [])]


def google_event_body(event: RemoteEvent) -> dict[str, Any]:
    """The fields we own, with None for "clear it" (patch semantics); `without_nulls` makes it an insert body."""
    return {
        "summary": event.title,
        "description": event.description,
        "location": event.location,
        "status": event.status.lower(),
        **google_times(event),
        "recurrence": event.recurrence_rule.splitlines() if event.recurrence_rule else None,
        "reminders": google_reminders(event.reminders),
    }


def google_times(event: RemoteEvent) -> dict[str, dict[str, Any]]:
    if event.is_all_day:
        first = event.start_time.astimezone(UTC).date()
        after_last = max(event.end_time.astimezone(UTC).date(), first + timedelta(days=1))
        # Patch merges objects, so the other kind of time must be cleared explicitly when an event changes kind.
        return {"start": {"date": first.isoformat(), "dateTime": None, "timeZone": None},
                "end": {"date": after_last.isoformat(), "dateTime": None, "timeZone": None}}
    event_zone = zone(event.timezone)
    return {
        key: {"date": None, "dateTime": moment.astimezone(event_zone).isoformat(), "timeZone": event_zone.key}
        for key, moment in (("start", event.start_time), ("end", event.end_time))
    }


def google_reminders(reminders: list[dict[str, Any]] | None) -> dict[str, Any]:
    if reminders is None:
        return {"useDefault": True, "overrides": None}
    return {"useDefault": False,
            "overrides": [{"method": r.get("method", "popup"), "minutes": r["minutes"]} for r in reminders]}


def without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    return {key: without_nulls(value) if isinstance(value, dict) else value
            for key, value in body.items() if value is not None}
