"""Outlook calendars through the Microsoft identity platform v2.0 and Microsoft Graph v1.0.

Sync reads `calendarView/delta` for one calendar inside a fixed window. Graph expands recurring series on the
server and returns occurrences and exceptions, never the series master, so every item becomes a plain
RemoteEvent; `metadata["type"]` and `metadata["seriesMasterId"]` say where it came from.
"""
from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
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
from webapp.providers.windows_zones import windows_to_iana

log = logging.getLogger(__name__)

SCOPES = ("offline_access", "openid", "email", "Calendars.ReadWrite", "User.Read")
DEFAULT_AUTHORITY = "https://login.microsoftonline.com/common"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
TIMEOUT_SECONDS = 30
# Fixed namespace: the same local event always derives the same transactionId, so a retried create is dropped.
_TRANSACTION_NAMESPACE = uuid.UUID("7d0c9c52-5d1f-4c7e-9a55-0f3f2f6f4a11")

_REAUTH_ERRORS = {"invalid_grant", "interaction_required", "consent_required"}
_SYNC_STATE_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
_RESPONSE_STATUS = {"accepted": "accepted", "tentativelyAccepted": "tentative", "declined": "declined",
                    "organizer": "accepted", "none": "needsAction", "notResponded": "needsAction"}
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class MicrosoftProvider(HttpClient):
    kind = "MICROSOFT"

    def __init__(self, client_id: str, client_secret: str, authority: str = DEFAULT_AUTHORITY,
                 graph_url: str = DEFAULT_GRAPH_URL, window_past: timedelta = timedelta(days=365),
                 window_future: timedelta = timedelta(days=730), session: requests.Session | None = None,
                 *, page_size: int = 100, timeout: float = TIMEOUT_SECONDS):
        self.client_id = client_id
        self.client_secret = client_secret
        self.authority = authority.rstrip("/")
        self.graph_url = graph_url.rstrip("/")
        self.window_past = window_past
        self.window_future = window_future
        self.session = session or new_session()
        self.page_size = page_size
        self.timeout = timeout

    # -- OAuth -------------------------------------------------------------------------------------------------

    def _oauth_client(self) -> OAuthClient:
        return OAuthClient("Microsoft", self.client_id, self.client_secret, f"{self.authority}/oauth2/v2.0/authorize",
                           f"{self.authority}/oauth2/v2.0/token", SCOPES, failure=_token_failure,
                           timeout=self.timeout, scopes_in_token_requests=True)

    def authorization_url(self, *, state: str, redirect_uri: str) -> tuple[str, str]:
        return oauth.authorization_url(self._oauth_client(), state=state, redirect_uri=redirect_uri,
                                       response_mode="query", prompt="select_account")

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return oauth.exchange_code(self._oauth_client(), code=code, code_verifier=code_verifier,
                                   redirect_uri=redirect_uri)

    def refresh(self, refresh_token: str) -> TokenSet:
        """Microsoft rotates refresh tokens: the TokenSet carries the new one, which must replace the old."""
        return oauth.refresh(self._oauth_client(), refresh_token)

    def revoke(self, token: str) -> None:
        """No-op: the identity platform v2.0 offers apps no endpoint to revoke a refresh token.

        Access ends when the user removes the app (account.live.com/consent, myapps.microsoft.com) or an admin
        revokes their sessions; disconnecting in Almanac just forgets the tokens.
        """

    def account_email(self, credentials: Credentials) -> str | None:
        """The signed-in mailbox (`mail`, or the sign-in name for accounts without a mailbox address)."""
        body = _json(self._graph("GET", f"{self.graph_url}/me", credentials))
        return (body.get("mail") or body.get("userPrincipalName") or "").lower() or None

    # -- calendars and sync ------------------------------------------------------------------------------------

    def list_calendars(self, credentials: Credentials) -> list[RemoteCalendar]:
        calendars: list[RemoteCalendar] = []
        url: str | None = f"{self.graph_url}/me/calendars"
        while url:
            body = _json(self._graph("GET", url, credentials))
            calendars += [_remote_calendar(item) for item in body.get("value", [])]
            url = body.get("@odata.nextLink")
        return calendars

    def fetch_changes(self, credentials: Credentials, calendar_id: str, sync_token: str | None,
                      page: str | None, *, time_zone: str | None = None) -> ChangePage:
        """One page of a delta round. `page` is the nextLink to continue, `sync_token` the previous deltaLink."""
        url = page or sync_token or self._first_delta_url(calendar_id)
        # UTC keeps dateTime unambiguous; the event's own zone still comes from originalStartTimeZone.
        prefer = f'odata.maxpagesize={self.page_size}, outlook.timezone="UTC"'
        try:
            body = _json(self._graph("GET", url, credentials, headers={"Prefer": prefer}))
        except NotFound as error:
            # Every delta URL lives under the calendar: the calendar is what is missing.
            raise CalendarGone(str(error), status=error.status) from None
        events, removed_ids, skipped = _changes(body.get("value", []))
        next_page, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        if not next_page and not delta_link:
            raise ProviderError("Microsoft Graph delta page carried neither a nextLink nor a deltaLink")
        return ChangePage(events, removed_ids, next_page=next_page, sync_token=None if next_page else delta_link,
                          skipped=skipped)

    def _first_delta_url(self, calendar_id: str) -> str:
        now = datetime.now(UTC).replace(microsecond=0)
        window = {"startDateTime": _utc_text(now - self.window_past),
                  "endDateTime": _utc_text(now + self.window_future)}
        return f"{self._calendar_url(calendar_id)}/calendarView/delta?{urlencode(window)}"

    # -- writes ------------------------------------------------------------------------------------------------

    def create_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        body = _graph_event(event) | {"transactionId": _transaction_id(calendar_id, event.provider_event_id)}
        try:
            response = self._graph("POST", f"{self._calendar_url(calendar_id)}/events", credentials, json=body,
                                   headers={"Prefer": 'outlook.timezone="UTC"'})
        except NotFound as error:
            raise CalendarGone(str(error), status=error.status) from None
        return _written(response, event)

    def update_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        headers = {"Prefer": 'outlook.timezone="UTC"'} | ({"If-Match": event.etag} if event.etag else {})
        response = self._graph("PATCH", self._event_url(event.provider_event_id), credentials,
                               json=_graph_event(event), headers=headers)
        return _written(response, event)

    def respond(self, credentials: Credentials, calendar_id: str, event: RemoteEvent, response: str,
                email: str) -> RemoteEvent:
        """Graph's way: the accept, decline or tentativelyAccept action (the organizer hears of it), then the event
        again for its new changeKey."""
        action = {"accepted": "accept", "declined": "decline", "tentative": "tentativelyAccept"}[response]
        self._graph("POST", f"{self._event_url(event.provider_event_id)}/{action}", credentials,
                    json={"sendResponse": True})
        answer = self._graph("GET", self._event_url(event.provider_event_id), credentials,
                             headers={"Prefer": 'outlook.timezone="UTC"'})
        return _remote_event(_json(answer))

    def split_series(self, credentials: Credentials, calendar_id: str, master_id: str, split_at: datetime,
                     following: RemoteEvent | None) -> RemoteEvent | None:
        """"This and following", Outlook's way: the series master's recurrence range ends the day before the
        occurrence at `split_at`; for an edit, a new series with the same pattern starts on that day with the
        changes. Graph drops the occurrences (and exceptions) past the new end itself."""
        master = _json(self._graph("GET", self._event_url(master_id), credentials))
        recurrence = master.get("recurrence") or {}
        pattern, old_range = recurrence.get("pattern") or {}, dict(recurrence.get("range") or {})
        zone = ZoneInfo(windows_to_iana(old_range.get("recurrenceTimeZone") or master["start"].get("timeZone"))
                        or "UTC")
        split_day = split_at.astimezone(zone).date()
        ended = {key: value for key, value in old_range.items() if key != "numberOfOccurrences"}
        ended |= {"type": "endDate", "endDate": (split_day - timedelta(days=1)).isoformat()}
        headers = {"If-Match": master["@odata.etag"]} if master.get("@odata.etag") else None
        self._graph("PATCH", self._event_url(master_id), credentials,
                    json={"recurrence": {"pattern": pattern, "range": ended}}, headers=headers)
        if following is None:
            return None
        body = _graph_event(following) | {
            "recurrence": {"pattern": pattern, "range": old_range | {"startDate": split_day.isoformat()}},
            "transactionId": _transaction_id(calendar_id, following.provider_event_id + ":following")}
        created = self._graph("POST", f"{self._calendar_url(calendar_id)}/events", credentials, json=body,
                              headers={"Prefer": 'outlook.timezone="UTC"'})
        return _remote_event(_json(created))

    def delete_event(self, credentials: Credentials, calendar_id: str, provider_event_id: str,
                     etag: str | None) -> None:
        try:
            self._graph("DELETE", self._event_url(provider_event_id), credentials,
                        headers={"If-Match": etag} if etag else None)
        except NotFound:
            log.info("event already gone at Microsoft calendar_id=%s", calendar_id)

    # -- change notifications (subscriptions) ------------------------------------------------------------------

    def create_subscription(self, credentials: Credentials, calendar_id: str, *, notification_url: str,
                            lifecycle_url: str, client_state: str, expires_at: datetime) -> Channel:
        """POST /subscriptions on the calendar's events. Graph validates both URLs (a POST with ?validationToken
        that must be echoed) before it answers, so our web server must be reachable while this call waits. The
        expiry in the answer is the one that counts."""
        body = {"changeType": "created,updated,deleted", "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url,
                "resource": f"/me/calendars/{calendar_id}/events",
                "expirationDateTime": _graph_instant(expires_at), "clientState": client_state}
        try:
            response = self._graph("POST", f"{self.graph_url}/subscriptions", credentials, json=body, allow=(400,))
        except NotFound as error:
            raise CalendarGone(str(error), status=error.status) from None
        if response.status_code == 400:
            message = _graph_error_message(response).lower()
            if not notification_url.startswith("https://") and "https" in message:
                raise WatchRefused(f"Microsoft sends notifications only to an https:// address, and "
                                   f"{notification_url} is not one.", status=400)
            if "validation" in message:
                raise WatchRefused(f"Microsoft could not validate {notification_url} (it must answer from the "
                                   "internet over https within 10 seconds).", status=400)
            raise WatchRefused("Microsoft refused the subscription request.", status=400)
        return _subscription(_json(response))

    def renew_subscription(self, credentials: Credentials, subscription_id: str, expires_at: datetime) -> Channel:
        """PATCH the expiry; a subscription Graph no longer has raises NotFound (make a new one)."""
        response = self._graph("PATCH", self._subscription_url(subscription_id), credentials,
                               json={"expirationDateTime": _graph_instant(expires_at)})
        return _subscription(_json(response))

    def delete_subscription(self, credentials: Credentials, subscription_id: str) -> None:
        try:
            self._graph("DELETE", self._subscription_url(subscription_id), credentials)
        except NotFound:
            log.info("subscription already gone at Microsoft")

    def _subscription_url(self, subscription_id: str) -> str:
        return f"{self.graph_url}/subscriptions/{quote(subscription_id, safe='')}"

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _calendar_url(self, calendar_id: str) -> str:
        return f"{self.graph_url}/me/calendars/{quote(calendar_id, safe='')}"

    def _event_url(self, event_id: str) -> str:
        return f"{self.graph_url}/me/events/{quote(event_id, safe='')}"

    def _graph(self, method: str, url: str, credentials: Credentials, *, json: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None, allow: tuple[int, ...] = ()) -> requests.Response:
        """One Graph call; an error status raises (webapp.providers.base), except those in `allow`."""
        self._require_graph_origin(url)
        if not credentials.access_token:
            raise AuthRejected("no Microsoft access token")
        headers = {"Authorization": f"Bearer {credentials.access_token}", "Accept": "application/json"} | (
            headers or {})
        try:
            response = self.session.request(method, url, headers=headers, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"Microsoft Graph unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400 and response.status_code not in allow:
            raise _graph_failure(response)
        return response

    def _require_graph_origin(self, url: str) -> None:
        """Stored links are followed verbatim, so make sure one never sends our bearer token elsewhere."""
        expected, actual = urlsplit(self.graph_url), urlsplit(url)
        if (actual.scheme, actual.netloc) != (expected.scheme, expected.netloc):
            raise ProviderError("refusing to send a Graph request outside the configured Graph host")


# ---------------------------------------------------------------------------------------------- errors


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError("Microsoft answered with something that is not JSON", status=response.status_code) from exc
    if not isinstance(body, dict):
        raise ProviderError("Microsoft answered with unexpected JSON", status=response.status_code)
    return body


def _token_failure(response: requests.Response) -> ProviderError:
    """Name the error and its AADSTS code; the description is not kept (it can echo request details)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = str(body.get("error") or "unknown_error")
    codes = body.get("error_codes") or []
    detail = f"{error} (AADSTS{codes[0]})" if codes else error
    status = response.status_code
    if error in _REAUTH_ERRORS:
        return InvalidGrant(f"Microsoft rejected the grant: {detail}", status=status)
    if status == 429 or status >= 500 or error == "temporarily_unavailable":
        return RateLimited(f"Microsoft login busy: {detail}", status=status,
                           retry_after=parse_retry_after(response.headers.get("Retry-After")))
    return ProviderError(f"Microsoft login refused the request: {detail}", status=status)


def _graph_error_code(response: requests.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def _graph_error_message(response: requests.Response) -> str:
    """Graph's error message, only to tell refusals apart: never stored or shown."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("message") or "") if isinstance(error, dict) else ""


def _graph_failure(response: requests.Response) -> ProviderError:
    status, code = response.status_code, _graph_error_code(response)
    message = f"Microsoft Graph answered {status} {code}".rstrip()
    if status == 401:
        return AuthRejected(message, status=status)
    if status == 410 or code.lower() in _SYNC_STATE_CODES:
        return SyncTokenExpired(message, status=status)
    if status in (429, 503, 504):
        return RateLimited(message, status=status, retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status == 412:
        return PreconditionFailed(message, status=status)
    if status == 403 and code == "ErrorAccessDenied":
        return ReadOnly(message, status=status)
    if status == 404:
        return NotFound(message, status=status)
    return ProviderError(message, status=status)


# ---------------------------------------------------------------------------------------------- Graph -> ours


def _graph_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _subscription(body: dict[str, Any]) -> Channel:
    try:
        expires_at = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", body["expirationDateTime"]))
        return Channel(str(body["id"]), None, expires_at.astimezone(UTC) if expires_at.tzinfo else
                       expires_at.replace(tzinfo=UTC))
    except (KeyError, TypeError, ValueError):
        raise ProviderError("Microsoft Graph answered with an incomplete subscription") from None


def _remote_calendar(item: dict[str, Any]) -> RemoteCalendar:
    hex_color = item.get("hexColor") or ""
    return RemoteCalendar(
        calendar_id=item["id"],
        name=item.get("name") or "",
        color=hex_color.lower() if _HEX_COLOR.fullmatch(hex_color) else None,
        is_primary=bool(item.get("isDefaultCalendar")),
        can_write=bool(item.get("canEdit")),
    )


def _changes(items: list[dict[str, Any]]) -> tuple[list[RemoteEvent], list[str], list[SkippedEvent]]:
    """Split a delta page into upserts, removals and unreadable items; an id seen twice counts as its last
    appearance."""
    latest: dict[Any, dict[str, Any]] = {}
    skipped = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            latest[item["id"]] = item
        else:
            skipped.append(SkippedEvent(None, "unreadable event: it has no id"))
    events, removed = [], []
    for item_id, item in latest.items():
        if "@removed" in item:
            removed.append(item_id)
            continue
        try:
            events.append(_remote_event(item))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # One unreadable event must not stop the calendar; the reason names the problem, not the content.
            name = f"the field {str(error.args[0])[:40]!r} is missing" if isinstance(error, KeyError) else \
                type(error).__name__
            skipped.append(SkippedEvent(item_id, f"unreadable event: {name}"))
    return events, removed, skipped


def _remote_event(item: dict[str, Any]) -> RemoteEvent:
    is_all_day = bool(item.get("isAllDay"))
    return RemoteEvent(
        provider_event_id=item["id"],
        title=item.get("subject") or "",
        start_time=_instant(item["start"], is_all_day),
        end_time=_instant(item["end"], is_all_day),
        is_all_day=is_all_day,
        timezone=_event_zone(item),
        status=_status(item),
        description=(item.get("body") or {}).get("content") or None,
        location=(item.get("location") or {}).get("displayName") or None,
        attendees=_attendees(item),
        reminders=_reminders(item),
        html_link=item["webLink"] if urlsplit(item.get("webLink") or "").scheme in ("http", "https") else None,
        etag=item.get("@odata.etag"),
        ical_uid=item.get("iCalUId"),
        metadata=_metadata(item),
    )


def _instant(value: dict[str, str], is_all_day: bool) -> datetime:
    """Graph dateTime (wall time, up to 7 fractional digits) in its timeZone -> aware UTC.

    All-day events float: their date is taken as is and pinned to 00:00 UTC.
    """
    wall = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value["dateTime"]))
    if is_all_day:
        return datetime.combine(wall.date(), time(0), tzinfo=UTC)
    zone = ZoneInfo(windows_to_iana(value.get("timeZone")) or "UTC")
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _event_zone(item: dict[str, Any]) -> str:
    """The zone the event was created in; unknown names ("tzone://Microsoft/Custom") fall back to UTC."""
    return (windows_to_iana(item.get("originalStartTimeZone")) or windows_to_iana(item["start"].get("timeZone"))
            or "UTC")


def _reminders(item: dict[str, Any]) -> list[dict[str, Any]]:
    minutes = item.get("reminderMinutesBeforeStart")
    return [{"method": "popup", "minutes": minutes}] if item.get("isReminderOn") and minutes is not None else []


def _status(item: dict[str, Any]) -> str:
    if item.get("isCancelled"):
        return "CANCELLED"
    return "TENTATIVE" if item.get("showAs") == "tentative" else "CONFIRMED"


def _attendees(item: dict[str, Any]) -> list[dict[str, Any]]:
    organizer = ((item.get("organizer") or {}).get("emailAddress") or {}).get("address") or ""
    attendees = []
    for attendee in item.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address") or ""
        response = (attendee.get("status") or {}).get("response") or "none"
        attendees.append({
            "email": address,
            "name": (attendee.get("emailAddress") or {}).get("name") or None,
            "responseStatus": _RESPONSE_STATUS.get(response, "needsAction"),
            "organizer": response == "organizer" or (bool(address) and address.lower() == organizer.lower()),
        })
    return attendees


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    facts = {
        "type": item.get("type"),
        "seriesMasterId": item.get("seriesMasterId"),
        "bodyContentType": (item.get("body") or {}).get("contentType"),
        "showAs": item.get("showAs"),
        # The signed-in user's own answer and role, for double bookings and for picking which copy to edit.
        "self_response": _RESPONSE_STATUS.get((item.get("responseStatus") or {}).get("response")),
        "is_organizer": item.get("isOrganizer"),
        "changeKey": item.get("changeKey"),
        "originalStartTimeZone": item.get("originalStartTimeZone"),
    }
    return {name: value for name, value in facts.items() if value is not None}


def _written(response: requests.Response, sent: RemoteEvent) -> RemoteEvent:
    event = _remote_event(_json(response))
    # A created series comes back as its master; keep the RRULE we sent rather than re-deriving it.
    event.recurrence_rule = sent.recurrence_rule
    return event


# ---------------------------------------------------------------------------------------------- ours -> Graph


def _transaction_id(calendar_id: str, local_id: str) -> str:
    # Graph refuses a transactionId already used in another calendar, so the calendar is part of the key.
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, f"{calendar_id}\n{local_id}"))


def _graph_event(event: RemoteEvent) -> dict[str, Any]:
    zone = windows_to_iana(event.timezone) or "UTC"
    body: dict[str, Any] = {
        "subject": event.title,
        "body": {"contentType": event.metadata.get("bodyContentType", "text"), "content": event.description or ""},
        "start": _graph_time(event.start_time, zone, event.is_all_day),
        "end": _graph_time(event.end_time, zone, event.is_all_day),
        "isAllDay": event.is_all_day,
        "location": {"displayName": event.location or ""},
        "showAs": _show_as(event),
    }
    # Attendees are left out on purpose: writing them makes Outlook send invitations on the user's behalf.
    if event.reminders is not None:
        minutes = [r["minutes"] for r in event.reminders if r.get("minutes") is not None]
        body |= {"isReminderOn": bool(minutes)} | ({"reminderMinutesBeforeStart": min(minutes)} if minutes else {})
    if event.recurrence_rule:
        # An all-day series starts on its UTC date; a timed one on its local date.
        first_start = event.start_time.astimezone(UTC if event.is_all_day else ZoneInfo(zone))
        body["recurrence"] = graph_recurrence(event.recurrence_rule, first_start, zone)
    return body


def _graph_time(instant: datetime, zone: str, is_all_day: bool) -> dict[str, str]:
    if is_all_day:  # Outlook wants midnight-to-midnight in one zone; the date is what matters
        return {"dateTime": f"{instant.astimezone(UTC).date().isoformat()}T00:00:00", "timeZone": zone}
    return {"dateTime": instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def _show_as(event: RemoteEvent) -> str:
    if event.status == "TENTATIVE":
        return "tentative"
    previous = event.metadata.get("showAs")
    return previous if previous and previous != "tentative" else "busy"


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------- RRULE -> Graph

_DAY_NAMES = {"MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday", "FR": "friday",
              "SA": "saturday", "SU": "sunday"}
_WEEK_INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_RRULE_PARTS = {"FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT", "WKST", "BYMONTHDAY", "BYMONTH"}


class UnsupportedRecurrence(ProviderError):
    """The rule has no Outlook equivalent (EXDATE/RDATE lines, BYSETPOS, FREQ=HOURLY, ...)."""

    kind = "unsupported_recurrence"


def graph_recurrence(rule_text: str, first_start: datetime, zone: str) -> dict[str, Any]:
    """A simple RRULE as Graph's patternedRecurrence; `first_start` is the first instance in `zone`."""
    lines = [line.strip() for line in rule_text.strip().splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].upper().startswith("RRULE:"):
        raise UnsupportedRecurrence("Outlook takes exactly one RRULE line (no EXDATE/RDATE)")
    parts = dict(part.split("=", 1) for part in lines[0][6:].upper().split(";") if "=" in part)
    if set(parts) - _RRULE_PARTS or ("UNTIL" in parts and "COUNT" in parts):
        raise UnsupportedRecurrence(f"RRULE parts without an Outlook equivalent: {sorted(set(parts) - _RRULE_PARTS)}")
    return {"pattern": _pattern(parts, first_start), "range": _range(parts, first_start, zone)}


def _pattern(parts: dict[str, str], first_start: datetime) -> dict[str, Any]:
    frequency, interval = parts.get("FREQ"), int(parts.get("INTERVAL", "1"))
    days = [_by_day(value) for value in parts["BYDAY"].split(",")] if "BYDAY" in parts else []
    day_names = [name for _, name in days]
    index = _shared_index(frequency, days)
    if frequency == "DAILY":
        return {"type": "daily", "interval": interval}
    if frequency == "WEEKLY":
        return {"type": "weekly", "interval": interval,
                "daysOfWeek": day_names or [_DAY_NAMES[_weekday_code(first_start)]],
                "firstDayOfWeek": _DAY_NAMES[parts.get("WKST", "MO")]}
    day_of_month = int(parts.get("BYMONTHDAY", first_start.day))
    month = int(parts.get("BYMONTH", first_start.month))
    if frequency == "MONTHLY":
        if index is not None:
            return {"type": "relativeMonthly", "interval": interval, "daysOfWeek": day_names,
                    "index": _WEEK_INDEX[index]}
        return {"type": "absoluteMonthly", "interval": interval, "dayOfMonth": day_of_month}
    if frequency == "YEARLY":
        if index is not None:
            return {"type": "relativeYearly", "interval": interval, "daysOfWeek": day_names, "month": month,
                    "index": _WEEK_INDEX[index]}
        return {"type": "absoluteYearly", "interval": interval, "dayOfMonth": day_of_month, "month": month}
    raise UnsupportedRecurrence(f"FREQ={frequency} has no Outlook equivalent")


def _shared_index(frequency: str | None, days: list[tuple[int | None, str]]) -> int | None:
    """Outlook has one week index for all days, and only monthly/yearly patterns use it (and need it)."""
    indexes = {index for index, _ in days}
    relative = frequency in ("MONTHLY", "YEARLY")
    if len(indexes) > 1 or (days and relative and None in indexes) or (days and not relative and frequency != "WEEKLY"):
        raise UnsupportedRecurrence(f"BYDAY with FREQ={frequency} has no Outlook equivalent")
    if indexes - {None} and not relative:
        raise UnsupportedRecurrence("BYDAY ordinals only work with monthly or yearly rules in Outlook")
    return next(iter(indexes), None)


def _by_day(value: str) -> tuple[int | None, str]:
    match = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", value.strip())
    if not match:
        raise UnsupportedRecurrence(f"BYDAY value {value!r} has no Outlook equivalent")
    index = int(match.group(1)) if match.group(1) else None
    if index is not None and index not in _WEEK_INDEX:
        raise UnsupportedRecurrence(f"BYDAY ordinal {index} has no Outlook equivalent")
    return index, _DAY_NAMES[match.group(2)]


def _weekday_code(value: datetime) -> str:
    return list(_DAY_NAMES)[value.weekday()]


def _range(parts: dict[str, str], first_start: datetime, zone: str) -> dict[str, Any]:
    recurrence_range: dict[str, Any] = {"startDate": first_start.date().isoformat(), "recurrenceTimeZone": zone}
    if "COUNT" in parts:
        return recurrence_range | {"type": "numbered", "numberOfOccurrences": int(parts["COUNT"])}
    if "UNTIL" in parts:
        return recurrence_range | {"type": "endDate", "endDate": _until_date(parts["UNTIL"], zone).isoformat()}
    return recurrence_range | {"type": "noEnd"}


def _until_date(value: str, zone: str) -> date:
    """UNTIL is a UTC instant (or a date for all-day series); Outlook wants the last local day."""
    if len(value) == 8:
        return datetime.strptime(value, "%Y%m%d").date()
    instant = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(zone)).date()
