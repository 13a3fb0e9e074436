"""Any CalDAV server (RFC 4791: Fastmail, Nextcloud, Radicale, Xandikos, iCloud, …): plain requests + lxml.

Discovery (RFC 6764): the address the user gave (a bare host, a base URL, or a principal or calendar-home URL),
then /.well-known/caldav on its origin, each followed to current-user-principal -> calendar-home-set -> the VEVENT
calendars of the home with their names and Apple colours. Event ids are resource hrefs (see
webapp.providers.ical): a master is its resource's path, an override is "path::<original start>". Writes are
conditional on etags. Quirks handled here: Basic auth sent up front (iCloud's 401 challenge is not Basic), the
calendar home on another host, per-href 404s inside a multiget, a missing ETag after PUT, and servers without
sync-collection (polled by a digest of every member's etag instead).

Every request goes through the request forgery guard (webapp.providers.guard), redirects included. Credentials go
only to the account's server's registrable domain (iCloud answers from pNN-caldav.icloud.com, Fastmail's
well-known address leads to caldav.fastmail.com), never from https down to http: hrefs and redirects that point
anywhere else are refused before a request is sent.
"""
from __future__ import annotations

import hashlib
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

import requests
from lxml import etree

from webapp.providers.base import (
    AuthRejected,
    CalendarGone,
    ChangePage,
    Credentials,
    HttpClient,
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
)
from webapp.providers.guard import GuardedSession, GuardSettings
from webapp.providers.http import is_within, parse_retry_after
from webapp.providers.ical import (
    build_calendar_resource,
    calendar_timezone_name,
    override_event_id,
    parse_calendar_resource,
    parse_recurrence_key,
    split_event_id,
)

log = logging.getLogger(__name__)

# Members per calendar-multiget: fewer round trips; iCloud and Radicale answer a few hundred comfortably. A round's
# changes come back one multiget per page, so a calendar of any size is parsed and stored a batch at a time.
MULTIGET_BATCH_SIZE = 200
# A page token of ours (never a server's): the rest of a listing this provider instance holds.
_LISTING_PAGE_PREFIX = "listing:"
# Returned as the sync token when the server cannot sync-collection: a hash of every member's href and etag.
ETAG_TOKEN_PREFIX = "etags:"  # noqa: S105 - a cursor prefix, not a secret
_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
# Statuses with which a server says it does not do sync-collection here (RFC 6578 servers send 403 + supported-report).
_SYNC_UNSUPPORTED = (400, 403, 405, 501)
_WRITE_PRIVILEGES = {"write", "write-content", "bind", "all"}
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav", "cs": "http://calendarserver.org/ns/",
       "ic": "http://apple.com/ns/ical/"}
_XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in _NS.items())

_PRINCIPAL_BODY = f'<d:propfind {_XMLNS}><d:prop><d:current-user-principal/></d:prop></d:propfind>'
_HOME_SET_BODY = f'<d:propfind {_XMLNS}><d:prop><c:calendar-home-set/></d:prop></d:propfind>'
_ETAG_BODY = f'<d:propfind {_XMLNS}><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>'
_ZONE_BODY = f'<d:propfind {_XMLNS}><d:prop><c:calendar-timezone/></d:prop></d:propfind>'
_CALENDARS_BODY = (
    f"<d:propfind {_XMLNS}><d:prop><d:resourcetype/><d:displayname/><ic:calendar-color/><ic:calendar-order/>"
    "<c:supported-calendar-component-set/><d:current-user-privilege-set/></d:prop></d:propfind>"
)


def _clark(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


@dataclass
class _DavResponse:
    """One <d:response> of a 207: its href path, a response-level status, and the props that came back 200."""

    href: str
    status: int | None
    props: dict[str, etree._Element] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        element = self.props.get(_clark(name))
        return element.text.strip() if element is not None and element.text else None


@dataclass
class _Listing:
    """What sync-collection (or the etag listing) returned, fetched a multiget at a time: the hrefs still to
    fetch, and how the round ends (the server's next token: `next_page` when it truncated the round, else
    `sync_token`)."""

    hrefs: list[str]
    next_page: str | None
    sync_token: str | None
    is_full_listing: bool
    coming: Future[requests.Response] | None = None  # the multiget of hrefs[:MULTIGET_BATCH_SIZE], on its way


@dataclass(frozen=True)
class _Zones:
    """Where floating times belong: the collection's calendar-timezone, else (after X-WR-TIMEZONE) the user's."""

    calendar: str | None
    user: str


class ForeignHost(ProviderError):
    """The server pointed us (an href or a redirect) outside its own registrable domain."""

    kind = "foreign_host"


class NotCalDav(ProviderError):
    """Nothing at the address answered as a CalDAV server (no principal, no calendar home)."""

    kind = "not_caldav"


def server_address(typed: str) -> str:
    """What the user typed as a server, as a URL: "fastmail.com" -> "https://fastmail.com/"; a URL keeps its path
    (a principal or a calendar home), with a trailing slash."""
    text = typed.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    path = parts.path or "/"
    return f"{parts.scheme.lower()}://{parts.netloc}{path if path.endswith('/') else path + '/'}"


class CalDavProvider(HttpClient):
    kind = "CALDAV"
    label = "The CalDAV server"

    def __init__(self, base_url: str | None = None, session: requests.Session | None = None, timeout: float = 30.0,
                 guard: GuardSettings | None = None):
        self.base_url = server_address(base_url) if base_url else None
        self.session = session or GuardedSession(guard or GuardSettings())
        self.timeout = timeout
        self._collection_zones: dict[str, str | None] = {}
        self._listings: dict[str, _Listing] = {}
        self._requester: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._requester is not None:
            self._requester.shutdown(wait=True, cancel_futures=True)
        super().close()

    def server(self, credentials: Credentials) -> str:
        """The account's server: its own (a CalDAV account), else the configured one (iCloud)."""
        server = credentials.server_url or self.base_url
        if not server:
            raise ProviderError("No CalDAV server address was given")
        return server_address(server)

    # ------------------------------------------------------------------ discovery

    def discover(self, credentials: Credentials) -> str:
        """The calendar-home-set URL; may be on another host. The address itself is tried first when it has a
        path (the user may have given a principal or a home), then RFC 6764's /.well-known/caldav on its origin;
        a server whose principal names no home keeps its calendars at the principal itself."""
        server = self.server(credentials)
        candidates = [server] if urlsplit(server).path != "/" else []
        candidates += [self._context_url(credentials, server), server]
        for context in dict.fromkeys(candidates):
            principal = self._optional_href(credentials, context, _PRINCIPAL_BODY, "d:current-user-principal")
            if principal is None:
                continue
            home = self._optional_href(credentials, principal, _HOME_SET_BODY, "c:calendar-home-set") or principal
            return home if home.endswith("/") else home + "/"
        raise NotCalDav(f"No CalDAV server answered at {server}")

    def list_calendars(self, credentials: Credentials) -> list[RemoteCalendar]:
        home = self.discover(credentials)
        responses, _ = _multistatus(self._request(credentials, "PROPFIND", home, _CALENDARS_BODY, depth="1"))
        found = [entry for entry in (_calendar(home, response) for response in responses) if entry]
        found.sort(key=lambda entry: (entry[0] is None, entry[0] or 0))  # iCloud's own ordering when it sends one
        return [replace(calendar, is_primary=index == 0) for index, (_, calendar) in enumerate(found)]

    def _context_url(self, credentials: Credentials, server: str) -> str:
        response = self._request(credentials, "PROPFIND", urljoin(server, "/.well-known/caldav"),
                                 _PRINCIPAL_BODY, depth="0", ok=range(200, 600))
        if response.status_code == 401:
            self._raise_for(response, "PROPFIND")
        return response.url if response.status_code == 207 else server

    def _optional_href(self, credentials: Credentials, url: str, body: str, name: str) -> str | None:
        """The href property `name` of `url`, or None when the address does not answer it (not a DAV resource,
        or the property is missing). A refused password still raises."""
        response = self._request(credentials, "PROPFIND", url, body, depth="0", ok=range(200, 600))
        if response.status_code == 401 or response.status_code in (429, 503):
            self._raise_for(response, "PROPFIND")
        if response.status_code != 207:
            return None
        try:
            responses, _ = _multistatus(response)
        except ProviderError:
            return None
        for item in responses:
            element = item.props.get(_clark(name))
            href = element.find(_clark("d:href")) if element is not None else None
            if href is not None and href.text:
                return urljoin(url, href.text.strip())
        return None

    # ------------------------------------------------------------------ reading

    def fetch_changes(
        self, credentials: Credentials, calendar_id: str, sync_token: str | None, page: str | None, *,
        time_zone: str | None = None,
    ) -> ChangePage:
        """RFC 6578 sync-collection, then calendar-multiget of what changed.

        A 507 in the response means the server truncated the round: we return its intermediate token as
        `next_page` and the real `sync_token` only on the last page. Servers without sync-collection get a
        full listing each time with a synthetic "etags:<hash>" token; the engine reconciles removals itself.
        Floating times belong to the collection's calendar-timezone, else the resource's X-WR-TIMEZONE, else
        `time_zone` (the user's).
        """
        collection = _collection_url(calendar_id)
        try:
            return self._changes(credentials, collection, sync_token, page, time_zone)
        except NotFound as error:
            # A 404 on the collection itself (a member that is gone is a removal, never an exception).
            raise CalendarGone(str(error), status=error.status) from None

    def _changes(self, credentials: Credentials, collection: str, sync_token: str | None, page: str | None,
                 time_zone: str | None) -> ChangePage:
        zone = _Zones(self._collection_zone(credentials, collection), time_zone or "UTC")
        token = page or sync_token or ""
        if token.startswith(_LISTING_PAGE_PREFIX):
            listing = self._listings.get(token)
            if listing is None:
                raise ProviderError("CalDAV listing lost mid-round")  # only this instance's own tokens come here
            del self._listings[token]
            return self._listing_page(credentials, collection, listing, [], zone)
        if token.startswith(ETAG_TOKEN_PREFIX):
            return self._full_listing(credentials, collection, token, zone)
        response = self._request(credentials, "REPORT", collection, _sync_collection_body(token), depth="0",
                                 ok=(207, *_SYNC_UNSUPPORTED))
        if response.status_code != 207:
            if _is_token_error(response):
                raise SyncTokenExpired("CalDAV sync token is no longer valid", status=response.status_code)
            log.info("sync-collection unsupported (HTTP %s); listing the collection", response.status_code)
            return self._full_listing(credentials, collection, None, zone)
        responses, new_token = _multistatus(response)
        if not new_token:
            raise ProviderError("CalDAV server sent no sync token")
        collection_path = urlsplit(collection).path
        truncated = any(r.status == 507 for r in responses)
        members = [r for r in responses if r.href.rstrip("/") != collection_path.rstrip("/")]
        changed = [r.href for r in members if r.status in (None, 200)]
        removed = [r.href for r in members if r.status == 404]
        listing = _Listing(changed, new_token if truncated else None, None if truncated else new_token, False)
        return self._listing_page(credentials, collection, listing, removed, zone)

    def _listing_page(self, credentials: Credentials, collection: str, listing: _Listing, removed: list[str],
                      zone: _Zones) -> ChangePage:
        """The next multiget of a listing; the page after it is the rest of the listing (kept on this instance
        under a token of ours), and the last page ends the round as the server said."""
        batch, listing.hrefs = listing.hrefs[:MULTIGET_BATCH_SIZE], listing.hrefs[MULTIGET_BATCH_SIZE:]
        coming, listing.coming = listing.coming, None
        response = coming.result() if coming else self._multiget(credentials, collection, batch)
        if listing.hrefs:
            # The server answers the next multiget while this one is parsed (and stored).
            if self._requester is None:
                self._requester = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caldav-multiget")
            listing.coming = self._requester.submit(self._multiget, credentials, collection,
                                                    listing.hrefs[:MULTIGET_BATCH_SIZE])
        events, skipped = _multiget_events(response, batch, zone)
        next_page, sync_token = listing.next_page, listing.sync_token
        if listing.hrefs:
            next_page, sync_token = f"{_LISTING_PAGE_PREFIX}{id(listing)}:{len(listing.hrefs)}", None
            self._listings[next_page] = listing
        return ChangePage(events=events, removed_ids=removed, next_page=next_page, sync_token=sync_token,
                          is_full_listing=listing.is_full_listing, series_complete=True, skipped=skipped)

    def _collection_zone(self, credentials: Credentials, collection: str) -> str | None:
        """The TZID of the collection's calendar-timezone property (RFC 4791), read once per provider instance."""
        if collection not in self._collection_zones:
            response = self._request(credentials, "PROPFIND", collection, _ZONE_BODY, depth="0")
            text = next((r.text("c:calendar-timezone") for r in _multistatus(response)[0]
                         if r.text("c:calendar-timezone")), None)
            self._collection_zones[collection] = calendar_timezone_name(text) if text else None
        return self._collection_zones[collection]

    def _full_listing(self, credentials: Credentials, collection: str, previous_token: str | None,
                      zone: _Zones) -> ChangePage:
        responses, _ = _multistatus(self._request(credentials, "PROPFIND", collection, _ETAG_BODY, depth="1"))
        etags = {r.href: r.text("d:getetag") or "" for r in responses if not _is_collection(r)}
        digest = hashlib.sha256("\n".join(f"{href} {etags[href]}" for href in sorted(etags)).encode()).hexdigest()
        token = ETAG_TOKEN_PREFIX + digest
        if token == previous_token:
            return ChangePage(events=[], removed_ids=[], sync_token=token)
        return self._listing_page(credentials, collection, _Listing(sorted(etags), None, token, True), [], zone)

    def _multiget(self, credentials: Credentials, collection: str, hrefs: list[str]) -> requests.Response:
        return self._request(credentials, "REPORT", collection, _multiget_body(hrefs), depth="1")

    def _get_resource(self, credentials: Credentials, collection: str, href: str) -> tuple[list[RemoteEvent], str]:
        url = urljoin(collection, href)
        response = self._request(credentials, "GET", url, ok=(200,))
        etag = response.headers.get("ETag") or self._etag(credentials, url)
        # text/calendar defaults to UTF-8 (RFC 5545); requests would guess Latin-1 without a charset.
        return parse_calendar_resource(response.content.decode("utf-8", errors="replace"), href, etag), etag

    def _etag(self, credentials: Credentials, url: str) -> str | None:
        responses, _ = _multistatus(self._request(credentials, "PROPFIND", url, _ETAG_BODY, depth="0"))
        return next((r.text("d:getetag") for r in responses if r.text("d:getetag")), None)

    # ------------------------------------------------------------------ writing

    def create_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """PUT a new resource named after the caller's stable id; a retry finds it there (412) and returns it."""
        if event.parent_provider_event_id:
            return self._write_instance(credentials, calendar_id, event)
        collection = _collection_url(calendar_id)
        href = _resource_href(collection, event.provider_event_id)
        master = replace(event, ical_uid=event.ical_uid or _uid_for(event.provider_event_id))
        response = self._put(credentials, collection, href, build_calendar_resource(master), {"If-None-Match": "*"},
                             ok=(200, 201, 204, 409, 412))
        if response.status_code == 412:
            existing, _, _ = self._series(credentials, collection, href)
            return replace(existing, found_existing=True)
        if response.status_code == 409:
            # RFC 4918: a PUT whose collection is missing answers 409; so does a refused precondition. Ask.
            try:
                self._request(credentials, "PROPFIND", collection, _ETAG_BODY, depth="0")
            except NotFound:
                raise CalendarGone("CalDAV PUT: the calendar collection is gone", status=404) from None
            self._raise_for(response, "PUT")
        return self._written(credentials, collection, href, master, response)

    def update_event(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """PUT If-Match the event's etag. The resource's overrides are re-read and kept; only the master changes."""
        if event.parent_provider_event_id:
            return self._write_instance(credentials, calendar_id, event)
        collection = _collection_url(calendar_id)
        href = _href_path(event.provider_event_id)
        current, current_etag = self._get_resource(credentials, collection, href)
        uid = event.ical_uid or (current[0].ical_uid if current else None) or _uid_for(href)
        master = replace(event, ical_uid=uid)
        overrides = [item for item in current if item.parent_provider_event_id]
        ics = build_calendar_resource(master, overrides)
        response = self._put(credentials, collection, href, ics, {"If-Match": event.etag or current_etag})
        return self._written(credentials, collection, href, master, response)

    def respond(self, credentials: Credentials, calendar_id: str, event: RemoteEvent, response: str,
                email: str) -> RemoteEvent:
        """CalDAV's way: the account's ATTENDEE line gets the PARTSTAT, in a PUT of the resource (If-Match)."""
        return self.update_event(credentials, calendar_id, event)

    def delete_event(
        self, credentials: Credentials, calendar_id: str, provider_event_id: str, etag: str | None
    ) -> None:
        """DELETE If-Match; already gone counts as done. An instance id cancels that instance (EXDATE) instead."""
        href, recurrence_key = split_event_id(provider_event_id)
        collection = _collection_url(calendar_id)
        if recurrence_key:
            self._cancel_instance(credentials, collection, href, recurrence_key, etag)
            return
        headers = {"If-Match": etag} if etag else {}
        self._request(credentials, "DELETE", urljoin(collection, _href_path(href)), headers=headers,
                      ok=(200, 204, 404))

    def _write_instance(self, credentials: Credentials, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """Add or replace one override inside its series' resource (read, modify, PUT If-Match)."""
        collection = _collection_url(calendar_id)
        href = _href_path(event.parent_provider_event_id)
        master, overrides, current_etag = self._series(credentials, collection, href)
        kept = [item for item in overrides if item.original_start_time != event.original_start_time]
        ics = build_calendar_resource(master, [*kept, event])
        response = self._put(credentials, collection, href, ics, {"If-Match": event.etag or current_etag})
        written = replace(event, parent_provider_event_id=href,
                          provider_event_id=override_event_id(href, event.original_start_time, master.is_all_day))
        return self._written(credentials, collection, href, written, response)

    def _cancel_instance(
        self, credentials: Credentials, collection: str, href: str, recurrence_key: str, etag: str | None
    ) -> None:
        try:
            master, overrides, current_etag = self._series(credentials, collection, _href_path(href))
        except NotFound:
            return
        original_start, _ = parse_recurrence_key(recurrence_key)
        kept = [item for item in overrides if item.original_start_time != original_start]
        cancelled = replace(master, status="CANCELLED", parent_provider_event_id=href,
                            original_start_time=original_start, recurrence_rule=None)
        ics = build_calendar_resource(master, [*kept, cancelled])
        self._put(credentials, collection, _href_path(href), ics, {"If-Match": etag or current_etag})

    def _series(self, credentials: Credentials, collection: str, href: str):
        events, etag = self._get_resource(credentials, collection, href)
        masters = [item for item in events if not item.parent_provider_event_id]
        if not masters:
            raise NotFound("The series this instance belongs to has no master event", status=404)
        return masters[0], [item for item in events if item.parent_provider_event_id], etag

    def _put(self, credentials: Credentials, collection: str, href: str, ics: str, conditions: dict[str, str],
             ok: tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        headers = {"Content-Type": "text/calendar; charset=utf-8", **{k: v for k, v in conditions.items() if v}}
        return self._request(credentials, "PUT", urljoin(collection, href), ics, headers=headers, ok=ok)

    def _written(self, credentials: Credentials, collection: str, href: str, event: RemoteEvent,
                 response: requests.Response) -> RemoteEvent:
        # RFC 4791 lets the server omit ETag when it rewrote the data (iCloud often does): read it back.
        etag = response.headers.get("ETag") or self._etag(credentials, urljoin(collection, href))
        master_id = href if not event.parent_provider_event_id else event.provider_event_id
        return replace(event, provider_event_id=master_id, etag=etag, metadata={**event.metadata, "href": href})

    # ------------------------------------------------------------------ HTTP

    def _request(self, credentials: Credentials, method: str, url: str, body: str | None = None, *,
                 depth: str | None = None, headers: dict[str, str] | None = None, ok=(200, 207)) -> requests.Response:
        """One CalDAV call, following redirects only inside the server's registrable domain."""
        if not (credentials.username and credentials.password):
            raise AuthRejected("A user name and password are required")
        server = self.server(credentials)
        headers = dict(headers or {})
        if body is not None and "Content-Type" not in headers:
            headers["Content-Type"] = "application/xml; charset=utf-8"
        if depth is not None:
            headers["Depth"] = depth
        for _ in range(_MAX_REDIRECTS + 1):
            self._require_home_domain(url, server)
            try:
                # auth=(user, password) sends Basic on every request: iCloud's 401 challenge is not Basic.
                response = self.session.request(
                    method, url, data=body.encode() if body is not None else None, headers=headers,
                    auth=(credentials.username, credentials.password), timeout=self.timeout, allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ProviderUnreachable(f"CalDAV server unreachable ({type(exc).__name__})") from exc
            if response.status_code not in _REDIRECTS or not response.headers.get("Location"):
                break
            url = urljoin(url, response.headers["Location"])
        else:
            raise ProviderError(f"CalDAV {method}: too many redirects")
        if response.status_code not in ok:
            self._raise_for(response, method)
        return response

    def _raise_for(self, response: requests.Response, method: str) -> None:
        _raise_for(response, method, self.label)

    def _require_home_domain(self, url: str, server: str) -> None:
        if not is_within(url, server):
            log.warning("refused a CalDAV request outside the server's domain host=%s", urlsplit(url).hostname)
            raise ForeignHost("The calendar server pointed Almanac at another site; nothing was sent there")


# ---------------------------------------------------------------------- helpers


def _raise_for(response: requests.Response, method: str, label: str = CalDavProvider.label) -> None:
    status = response.status_code
    if status == 401:
        raise AuthRejected(f"{label} rejected this password", status=status)
    if status in (403, 409) and _is_token_error(response):
        raise SyncTokenExpired("CalDAV sync token is no longer valid", status=status)
    if status == 412:
        raise PreconditionFailed("The event changed on the server since we last read it", status=status)
    if status == 403 and method in ("PUT", "DELETE"):
        raise ReadOnly(f"CalDAV {method}: the server refused the write (read-only)", status=status)
    if status in (429, 503):
        raise RateLimited(f"CalDAV server is throttling (HTTP {status})", status=status,
                          retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status == 404:
        raise NotFound(f"CalDAV {method}: not found", status=status)
    raise ProviderError(f"CalDAV {method} failed with HTTP {status}", status=status)


def _is_token_error(response: requests.Response) -> bool:
    return b"valid-sync-token" in response.content


def _multistatus(response: requests.Response) -> tuple[list[_DavResponse], str | None]:
    """The <d:response>s of a 207 and its top-level sync-token."""
    try:
        root = etree.fromstring(response.content, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ProviderError("CalDAV server sent malformed XML", status=response.status_code) from exc
    responses = [_dav_response(element) for element in root.iterfind(_clark("d:response"))]
    token = root.findtext(_clark("d:sync-token"))
    return responses, token.strip() if token else None


def _dav_response(element: etree._Element) -> _DavResponse:
    status = element.findtext(_clark("d:status"))
    parsed = _DavResponse(href=_href_path(element.findtext(_clark("d:href")) or ""), status=_status_code(status))
    for propstat in element.iterfind(_clark("d:propstat")):
        if _status_code(propstat.findtext(_clark("d:status"))) == 200:
            for prop in propstat.iterfind(f"{_clark('d:prop')}/*"):
                parsed.props[prop.tag] = prop
    return parsed


def _status_code(status_line: str | None) -> int | None:
    """"HTTP/1.1 404 Not Found" -> 404."""
    parts = (status_line or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _calendar(home: str, response: _DavResponse) -> tuple[int | None, RemoteCalendar] | None:
    """A VEVENT calendar collection of the home set, with its calendar-order; None for anything else."""
    url = urljoin(home, response.href)
    if urlsplit(url).path.rstrip("/") == urlsplit(home).path.rstrip("/"):
        return None
    resource_type = response.props.get(_clark("d:resourcetype"))
    if resource_type is None or resource_type.find(_clark("c:calendar")) is None:
        return None  # the home itself, inbox/outbox, notifications, address books
    components = response.props.get(_clark("c:supported-calendar-component-set"))
    if components is not None and not any(
        (comp.get("name") or "").upper() == "VEVENT" for comp in components.iterfind(_clark("c:comp"))
    ):
        return None  # Reminders (VTODO-only) lists
    privileges = response.props.get(_clark("d:current-user-privilege-set"))
    can_write = privileges is None or any(
        etree.QName(privilege).localname in _WRITE_PRIVILEGES for privilege in privileges.iter(etree.Element)
    )
    name = response.text("d:displayname") or unquote(url.rstrip("/").rsplit("/", 1)[-1])
    order = response.text("ic:calendar-order")
    calendar = RemoteCalendar(calendar_id=_collection_url(url), name=name,
                              color=_normalise_color(response.text("ic:calendar-color")), can_write=can_write)
    return (int(order) if order and order.lstrip("-").isdigit() else None), calendar


def _normalise_color(value: str | None) -> str | None:
    """"#FBBC04" / "#FBBC04FF" (iCloud adds alpha) -> "#fbbc04"."""
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?", (value or "").strip())
    return f"#{match.group(1).lower()}" if match else None


def _is_collection(response: _DavResponse) -> bool:
    resource_type = response.props.get(_clark("d:resourcetype"))
    return resource_type is not None and resource_type.find(_clark("d:collection")) is not None


def _collection_url(calendar_id: str) -> str:
    return calendar_id if calendar_id.endswith("/") else calendar_id + "/"


def _href_path(href: str) -> str:
    """The path of an href, whether the server sent it absolute or not."""
    href = href.strip()
    return urlsplit(href).path if "://" in href else href


def _resource_href(collection: str, provider_event_id: str) -> str:
    """Where a new event lives: an href we were given, else "<collection>/<url-safe local id>.ics"."""
    if provider_event_id.startswith("/") or "://" in provider_event_id:
        return _href_path(provider_event_id)
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "-", provider_event_id)
    return f"{urlsplit(collection).path}{safe_name}.ics"


def _uid_for(provider_event_id: str) -> str:
    """A UID for an event that has none: the local id, or an href's resource name."""
    name = provider_event_id.rstrip("/").rsplit("/", 1)[-1]
    return unquote(name.removesuffix(".ics"))


def _sync_collection_body(token: str) -> str:
    return (f"<d:sync-collection {_XMLNS}><d:sync-token>{escape(token)}</d:sync-token>"
            "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>")


def _multiget_events(response: requests.Response, hrefs: list[str],
                     zone: _Zones) -> tuple[list[RemoteEvent], list[SkippedEvent]]:
    """The events of a multiget's answer; one unreadable resource is skipped, never the whole calendar."""
    events, skipped = [], []
    # Keep the href spelling sync-collection used, whatever encoding the multiget answers with.
    requested = {unquote(href): href for href in hrefs}
    for item in _multistatus(response)[0]:
        data = item.text("c:calendar-data")
        if item.status == 404 or not data:
            log.info("multiget skipped a member that is gone or empty status=%s", item.status)
            continue
        href = requested.get(unquote(item.href), item.href)
        try:
            events += parse_calendar_resource(data, href, item.text("d:getetag"), zone.user, zone.calendar)
        except ValueError as error:
            log.warning("skipping unparsable calendar resource href=%s", href)
            skipped.append(SkippedEvent(href, f"unreadable iCalendar data ({type(error).__name__})"))
    return events, skipped


def _multiget_body(hrefs: list[str]) -> str:
    listed = "".join(f"<d:href>{escape(href)}</d:href>" for href in hrefs)
    return (f"<c:calendar-multiget {_XMLNS}><d:prop><d:getetag/><c:calendar-data/></d:prop>{listed}"
            "</c:calendar-multiget>")
