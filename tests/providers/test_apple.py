"""AppleProvider against a real Radicale, plus a thin proxy adding iCloud's quirks; ical.py round trips."""
import re
import socket
import uuid
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.radicale_server import create_calendar, put_event, seed_sample_calendars, start_radicale
from sandbox.serve import serve_in_thread
from tests.factories import utc
from tests.helpers import loopback_names
from webapp.providers import caldav
from webapp.providers.apple import ETAG_TOKEN_PREFIX, AppleProvider, ForeignHost
from webapp.providers.base import (
    AuthRejected,
    Credentials,
    PreconditionFailed,
    ProviderUnreachable,
    RemoteEvent,
    SyncTokenExpired,
)
from webapp.providers.guard import GuardSettings
from webapp.providers.ical import build_calendar_resource, parse_calendar_resource
from webapp.recurrence import Override, SeriesMaster, expand

ALICE = Credentials(username="alice", password="abcd-efgh-ijkl-mnop")
BOB = Credentials(username="bob", password="qrst-uvwx-yzab-cdef")
# The servers here are on loopback: reachable only as ALLOW_PRIVATE_SOURCES=1 allows (tests/providers/test_guard.py
# checks the guard as a deployment runs it).
LOCAL = GuardSettings(allow_private=True)



def ics(*vevent_lines: str, extra: str = "") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", *([extra] if extra else []),
             "BEGIN:VEVENT", "DTSTAMP:20240101T000000Z", *vevent_lines, "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def simple_event(uid: str, summary: str, start: str = "20240510T090000Z", end: str = "20240510T100000Z") -> str:
    return ics(f"UID:{uid}", f"SUMMARY:{summary}", f"DTSTART:{start}", f"DTEND:{end}")


EASTERN_CUSTOM = "\r\n".join([
    "BEGIN:VTIMEZONE", "TZID:Eastern-Custom",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT", "DTSTART:20070311T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "TZNAME:EST", "DTSTART:20071104T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU", "END:STANDARD",
    "END:VTIMEZONE",
])


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    server = start_radicale(tmp_path_factory.mktemp("radicale"), {"alice": ALICE.password, "bob": BOB.password})
    seed_sample_calendars(server.url, "bob", BOB.password)
    create_calendar(server.url, "bob", BOB.password, "work", "Work", "#FF2968FF")
    create_calendar(server.url, "bob", BOB.password, "tasks", "Reminders", "#00FF00", components=("VTODO",))
    yield server
    server.stop()


@pytest.fixture
def provider(radicale):
    return AppleProvider(base_url=radicale.url, timeout=5, guard=LOCAL)


@pytest.fixture
def calendar(radicale) -> str:
    """A fresh, empty calendar of alice's; returns its collection URL."""
    name = f"cal-{uuid.uuid4().hex[:8]}"
    return create_calendar(radicale.url, "alice", ALICE.password, name, name, "#112233")


def put(radicale, calendar: str, filename: str, text: str) -> None:
    put_event(radicale.url, "alice", ALICE.password, calendar, filename, text)


def resource_names(calendar: str) -> list[str]:
    response = requests.request("PROPFIND", calendar, auth=(ALICE.username, ALICE.password),
                                headers={"Depth": "1"}, timeout=5)
    return sorted(set(re.findall(r"<href>[^<]*/([^/<]+\.ics)</href>", response.text)))


# ---------------------------------------------------------------------------- discovery and auth


def test_discover_finds_the_calendar_home(provider, radicale):
    assert provider.discover(BOB) == f"{radicale.url}/bob/"


def test_list_calendars_keeps_event_calendars_with_names_and_colours(provider, radicale):
    calendars = provider.list_calendars(BOB)

    # Home and Trips carry Apple's calendar-order (1, 2); Work has none and goes last.
    assert [(c.name, c.color) for c in calendars] == [("Home", "#34a853"), ("Trips", "#fbbc04"), ("Work", "#ff2968")]
    assert [c.calendar_id for c in calendars] == [f"{radicale.url}/bob/{name}/" for name in ("home", "trips", "work")]
    assert [c.is_primary for c in calendars] == [True, False, False]
    assert all(c.can_write for c in calendars)


def test_wrong_password_is_rejected(provider):
    with pytest.raises(AuthRejected, match="Apple rejected this password"):
        provider.list_calendars(Credentials(username="bob", password="wrong-pass-word-xxxx"))


def test_unreachable_server():
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"

        with pytest.raises(ProviderUnreachable):
            AppleProvider(base_url=url, timeout=2, guard=LOCAL).discover(BOB)


# ---------------------------------------------------------------------------- sync


def test_first_sync_lists_everything_then_incremental_changes(provider, radicale, calendar):
    put(radicale, calendar, "a.ics", simple_event("uid-a", "Alpha"))
    put(radicale, calendar, "b.ics", simple_event("uid-b", "Beta"))
    put(radicale, calendar, "c.ics", simple_event("uid-c", "Gamma"))

    first = provider.fetch_changes(ALICE, calendar, None, None)

    path = urlsplit(calendar).path
    assert sorted((e.provider_event_id, e.title, e.ical_uid) for e in first.events) == [
        (f"{path}a.ics", "Alpha", "uid-a"), (f"{path}b.ics", "Beta", "uid-b"), (f"{path}c.ics", "Gamma", "uid-c")]
    assert first.removed_ids == [] and first.next_page is None and first.sync_token
    assert all(e.etag and e.metadata["href"] == e.provider_event_id for e in first.events)

    put(radicale, calendar, "d.ics", simple_event("uid-d", "Delta"))
    put(radicale, calendar, "a.ics", simple_event("uid-a", "Alpha moved", "20240511T090000Z", "20240511T100000Z"))
    requests.delete(f"{calendar}b.ics", auth=(ALICE.username, ALICE.password), timeout=5)

    second = provider.fetch_changes(ALICE, calendar, first.sync_token, None)

    assert sorted((e.title, e.start_time) for e in second.events) == [
        ("Alpha moved", utc(2024, 5, 11, 9)), ("Delta", utc(2024, 5, 10, 9))]
    assert second.removed_ids == [f"{path}b.ics"]
    assert second.sync_token and second.sync_token != first.sync_token

    assert provider.fetch_changes(ALICE, calendar, second.sync_token, None).events == []


def test_a_first_sync_comes_a_multiget_at_a_time(provider, radicale, calendar, monkeypatch):
    monkeypatch.setattr(caldav, "MULTIGET_BATCH_SIZE", 2)
    for letter in "abcde":
        put(radicale, calendar, f"{letter}.ics", simple_event(f"uid-{letter}", letter.upper()))

    pages = [provider.fetch_changes(ALICE, calendar, None, None)]
    while pages[-1].next_page:
        pages.append(provider.fetch_changes(ALICE, calendar, None, pages[-1].next_page))

    assert [len(page.events) for page in pages] == [2, 2, 1]
    assert sorted(event.title for page in pages for event in page.events) == ["A", "B", "C", "D", "E"]
    assert [bool(page.sync_token) for page in pages] == [False, False, True]  # the round ends with the last
    put(radicale, calendar, "f.ics", simple_event("uid-f", "F"))
    later = provider.fetch_changes(ALICE, calendar, pages[-1].sync_token, None)
    assert [event.title for event in later.events] == ["F"] and later.next_page is None


def test_invalid_sync_token_means_full_resync(provider, calendar):
    with pytest.raises(SyncTokenExpired):
        provider.fetch_changes(ALICE, calendar, "http://radicale.org/ns/sync/0000", None)


def test_recurring_event_with_custom_vtimezone_override_and_exdate(provider, radicale, calendar):
    put(radicale, calendar, "series.ics", "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", EASTERN_CUSTOM,
        "BEGIN:VEVENT", "UID:series-1", "DTSTAMP:20240101T000000Z", "SUMMARY:Standup",
        "DTSTART;TZID=Eastern-Custom:20240304T090000", "DTEND;TZID=Eastern-Custom:20240304T093000",
        "RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=MO", "EXDATE;TZID=Eastern-Custom:20240318T090000", "END:VEVENT",
        "BEGIN:VEVENT", "UID:series-1", "DTSTAMP:20240101T000000Z", "SUMMARY:Standup (late)",
        "RECURRENCE-ID;TZID=Eastern-Custom:20240325T090000",
        "DTSTART;TZID=Eastern-Custom:20240325T110000", "DTEND;TZID=Eastern-Custom:20240325T113000", "END:VEVENT",
        "END:VCALENDAR", "",
    ]))

    events = provider.fetch_changes(ALICE, calendar, None, None).events

    master, override = sorted(events, key=lambda e: e.parent_provider_event_id is not None)
    href = urlsplit(calendar).path + "series.ics"
    assert (master.provider_event_id, master.start_time, master.end_time) == (
        href, utc(2024, 3, 4, 14), utc(2024, 3, 4, 14, 30))
    assert master.timezone == "America/New_York"
    assert master.recurrence_rule == "RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=MO\nEXDATE:20240318T130000Z"
    assert override.provider_event_id == f"{href}::2024-03-25T13:00:00Z"
    assert (override.parent_provider_event_id, override.original_start_time) == (href, utc(2024, 3, 25, 13))
    assert (override.start_time, override.title) == (utc(2024, 3, 25, 15), "Standup (late)")

    occurrences = expand(
        SeriesMaster(master.provider_event_id, master.start_time, master.end_time, False, master.timezone,
                     master.recurrence_rule),
        [Override(override.provider_event_id, override.original_start_time, override.start_time, override.end_time)],
        utc(2024, 3, 1), utc(2024, 5, 1),
    )
    assert [(o.start, o.override_id is not None) for o in occurrences] == [
        (utc(2024, 3, 4, 14), False), (utc(2024, 3, 11, 13), False), (utc(2024, 3, 25, 15), True),
        (utc(2024, 4, 1, 13), False)]


# ---------------------------------------------------------------------------- writes


def new_event(local_id: str, title: str = "Lunch") -> RemoteEvent:
    return RemoteEvent(provider_event_id=local_id, title=title, start_time=utc(2024, 6, 3, 16),
                       end_time=utc(2024, 6, 3, 17), timezone="Europe/Berlin", location="Canteen",
                       reminders=[{"method": "popup", "minutes": 10}])


def test_create_event_is_idempotent(provider, calendar):
    local_id = str(uuid.uuid4())

    first = provider.create_event(ALICE, calendar, new_event(local_id))
    again = provider.create_event(ALICE, calendar, new_event(local_id))

    assert resource_names(calendar) == [f"{local_id}.ics"]
    assert first.provider_event_id == again.provider_event_id == f"{urlsplit(calendar).path}{local_id}.ics"
    assert first.etag and again.etag == first.etag
    assert (again.title, again.ical_uid, again.start_time, again.timezone) == (
        "Lunch", local_id, utc(2024, 6, 3, 16), "Europe/Berlin")
    assert again.reminders == [{"method": "popup", "minutes": 10}]


def test_update_with_stale_etag_fails_and_fresh_etag_wins(provider, calendar):
    created = provider.create_event(ALICE, calendar, new_event(str(uuid.uuid4())))
    updated = provider.update_event(ALICE, calendar, RemoteEvent(**{**vars(created), "title": "Long lunch"}))

    with pytest.raises(PreconditionFailed):
        provider.update_event(ALICE, calendar, RemoteEvent(**{**vars(created), "title": "Stale"}))

    (current,) = provider.fetch_changes(ALICE, calendar, None, None).events
    assert (current.title, current.etag) == ("Long lunch", updated.etag)
    assert updated.etag != created.etag


def test_delete_twice_is_fine(provider, calendar):
    created = provider.create_event(ALICE, calendar, new_event(str(uuid.uuid4())))

    provider.delete_event(ALICE, calendar, created.provider_event_id, created.etag)
    provider.delete_event(ALICE, calendar, created.provider_event_id, created.etag)

    assert resource_names(calendar) == []


def test_instance_edits_live_inside_the_series_resource(provider, calendar):
    series = RemoteEvent(provider_event_id=str(uuid.uuid4()), title="Yoga", start_time=utc(2024, 3, 5, 17),
                         end_time=utc(2024, 3, 5, 18), timezone="America/New_York",
                         recurrence_rule="RRULE:FREQ=WEEKLY;COUNT=4")
    created = provider.create_event(ALICE, calendar, series)
    moved = RemoteEvent(provider_event_id="local-override", title="Yoga (moved)", start_time=utc(2024, 3, 13, 22),
                        end_time=utc(2024, 3, 13, 23), timezone="America/New_York",
                        parent_provider_event_id=created.provider_event_id, original_start_time=utc(2024, 3, 12, 21),
                        etag=created.etag)

    written = provider.update_event(ALICE, calendar, moved)
    renamed = provider.update_event(ALICE, calendar, RemoteEvent(**{**vars(created), "title": "Yoga class",
                                                                   "etag": written.etag}))
    provider.delete_event(ALICE, calendar, f"{created.provider_event_id}::2024-03-19T21:00:00Z", renamed.etag)

    events = provider.fetch_changes(ALICE, calendar, None, None).events
    master = next(e for e in events if not e.parent_provider_event_id)
    (override,) = [e for e in events if e.parent_provider_event_id]
    assert written.provider_event_id == override.provider_event_id
    assert override.provider_event_id == f"{created.provider_event_id}::2024-03-12T21:00:00Z"
    assert (override.title, override.start_time) == ("Yoga (moved)", utc(2024, 3, 13, 22))
    assert master.title == "Yoga class"
    assert master.recurrence_rule == "RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE;TZID=America/New_York:20240319T170000"


# ---------------------------------------------------------------------------- iCloud quirks through a proxy


class ICloudLikeProxy:
    """Forwards to Radicale and adds what iCloud does and Radicale doesn't.

    Always: a non-Basic 401 challenge, the calendar home on another host name, no ETag after PUT.
    On demand: phantom hrefs in sync-collection (so the multiget 404s them), a 507-truncated first round,
    and no sync-collection support at all.
    """

    _FORWARDED = {"HTTP_AUTHORIZATION": "Authorization", "HTTP_DEPTH": "Depth", "CONTENT_TYPE": "Content-Type",
                  "HTTP_IF_MATCH": "If-Match", "HTTP_IF_NONE_MATCH": "If-None-Match"}
    REST_TOKEN = "urn:proxy:rest-of-round"

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.partition_url = ""
        self.reset()

    def reset(self) -> None:
        self.phantom_hrefs: list[str] = []
        self.first_page_href = b""
        self.truncate_sync = False
        self.sync_unsupported = False
        self.home_url = ""  # where the home set points; empty: the partition host
        self.redirect_to = ""  # answer the first request with a redirect here
        self.requests: list[tuple[str, bool]] = []  # (Host header, whether credentials came with it)

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        self.requests.append((environ.get("HTTP_HOST", ""), bool(environ.get("HTTP_AUTHORIZATION"))))
        if self.redirect_to:
            target, self.redirect_to = self.redirect_to, ""
            return self._reply(start_response, 301, {"Location": target}, b"")
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        is_sync = method == "REPORT" and b"sync-collection" in body
        if is_sync and self.sync_unsupported:
            return self._reply(start_response, 403, {}, b'<error xmlns="DAV:"><supported-report/></error>')
        page = None
        if is_sync and self.truncate_sync:
            page = "rest" if self.REST_TOKEN.encode() in body else "first"
            body = re.sub(rb"<d:sync-token>[^<]*</d:sync-token>", b"<d:sync-token></d:sync-token>", body)
        headers = {name: environ[key] for key, name in self._FORWARDED.items() if environ.get(key)}
        upstream = requests.request(method, self.upstream + environ.get("RAW_URI", environ["PATH_INFO"]), data=body,
                                    headers=headers, allow_redirects=False, timeout=5)
        content = upstream.content
        reply_headers = {k: v for k, v in upstream.headers.items()
                         if k.lower() not in ("content-encoding", "content-length", "transfer-encoding", "connection")}
        if upstream.status_code == 401:
            reply_headers["WWW-Authenticate"] = 'X-MobileMe-AuthToken realm="Newcastle", Basic realm="Newcastle"'
        if method == "PUT":
            reply_headers.pop("ETag", None)
        home = (self.home_url or self.partition_url).encode()
        content = re.sub(rb"(calendar-home-set><href>)(/[^<]*)", rb"\1" + home + rb"\2", content)
        if is_sync:
            content = self._rewrite_sync(content, page)
        return self._reply(start_response, upstream.status_code, reply_headers, content)

    def _rewrite_sync(self, content: bytes, page: str | None) -> bytes:
        responses = re.findall(rb"<response>.*?</response>", content, flags=re.S)
        if page == "first":  # one member, then "507: come back with this token for the rest"
            self.first_page_href = re.search(rb"<href>(.*?)</href>", responses[0]).group(1)
            collection = self.first_page_href.rsplit(b"/", 1)[0] + b"/"
            truncated = (b"<response><href>" + collection + b"</href><status>HTTP/1.1 507 Insufficient Storage"
                         b"</status></response>")
            content = content.replace(b"".join(responses), responses[0] + truncated)
            content = re.sub(rb"<sync-token>[^<]*</sync-token>", b"<sync-token>" + self.REST_TOKEN.encode()
                             + b"</sync-token>", content)
        elif page == "rest":
            content = b"".join(r for r in responses if self.first_page_href not in r).join(
                content.split(b"".join(responses)))
        phantoms = b"".join(b'<response><href>' + href.encode() + b'</href><propstat><prop><getetag>"x"</getetag>'
                            b"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
                            for href in self.phantom_hrefs)
        return content.replace(b"</multistatus>", phantoms + b"</multistatus>")

    @staticmethod
    def _reply(start_response, status: int, headers: dict, content: bytes):
        headers = [*headers.items(), ("Content-Length", str(len(content)))]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [content]


# Names under one registrable domain, as iCloud's caldav.icloud.com and pNN-caldav.icloud.com, plus one outside it.
ICLOUD_LIKE = "caldav.icloud-like.localhost"
PARTITION = "p42-caldav.icloud-like.localhost"
ELSEWHERE = "caldav.elsewhere.localhost"


@pytest.fixture(scope="module")
def proxy_server(radicale):
    proxy = ICloudLikeProxy(radicale.url)
    running = serve_in_thread(proxy)
    port = urlsplit(running.url).port
    with pytest.MonkeyPatch.context() as patch, loopback_names(patch, ICLOUD_LIKE, PARTITION, ELSEWHERE):
        # The home set names another host of the same domain, as iCloud's partition hosts do.
        proxy.partition_url = f"http://{PARTITION}:{port}"
        proxy.base_url = f"http://{ICLOUD_LIKE}:{port}"
        proxy.elsewhere_url = f"http://{ELSEWHERE}:{port}"
        yield proxy, running
    running.stop()


@pytest.fixture
def icloud(proxy_server):
    proxy, running = proxy_server
    proxy.reset()
    yield proxy, AppleProvider(base_url=proxy.base_url, timeout=5, guard=LOCAL)
    proxy.reset()


def test_icloud_like_home_on_another_host(icloud):
    proxy, provider = icloud

    assert provider.discover(BOB) == f"{proxy.partition_url}/bob/"
    assert {c.calendar_id for c in provider.list_calendars(BOB)} == {
        f"{proxy.partition_url}/bob/{name}/" for name in ("home", "trips", "work")}


def test_a_home_set_on_another_domain_gets_no_credentials(icloud):
    proxy, provider = icloud
    proxy.home_url = proxy.elsewhere_url

    with pytest.raises(ForeignHost):
        provider.list_calendars(BOB)

    assert proxy.requests and all(not host.startswith(ELSEWHERE) for host, _ in proxy.requests)


def test_a_redirect_is_followed_within_the_domain_and_refused_outside_it(icloud):
    proxy, provider = icloud
    proxy.redirect_to = f"{proxy.partition_url}/.well-known/caldav"
    assert provider.discover(BOB) == f"{proxy.partition_url}/bob/"

    proxy.reset()
    proxy.redirect_to = f"{proxy.elsewhere_url}/.well-known/caldav"
    with pytest.raises(ForeignHost):
        provider.discover(BOB)
    assert [host for host, _ in proxy.requests if host.startswith(ELSEWHERE)] == []


def test_icloud_like_401_with_non_basic_challenge(icloud):
    _, provider = icloud

    with pytest.raises(AuthRejected, match="Apple rejected this password"):
        provider.discover(Credentials(username="alice", password="revoked-pass-word"))


def test_icloud_like_multiget_404_is_skipped(icloud, radicale, calendar):
    proxy, provider = icloud
    put(radicale, calendar, "real.ics", simple_event("uid-real", "Real"))
    proxy.phantom_hrefs = [urlsplit(calendar).path + "vanished.ics"]

    page = provider.fetch_changes(ALICE, calendar.replace(radicale.url, proxy.partition_url), None, None)

    assert [e.title for e in page.events] == ["Real"]
    assert page.sync_token


def test_icloud_like_missing_etag_after_put_is_read_back(icloud, radicale, calendar):
    proxy, provider = icloud
    via_proxy = calendar.replace(radicale.url, proxy.partition_url)

    created = provider.create_event(ALICE, via_proxy, new_event(str(uuid.uuid4())))

    (listed,) = provider.fetch_changes(ALICE, via_proxy, None, None).events
    assert created.etag == listed.etag
    provider.update_event(ALICE, via_proxy, RemoteEvent(**{**vars(created), "title": "Renamed"}))


def test_truncated_round_returns_next_page_before_the_sync_token(icloud, radicale, calendar):
    proxy, provider = icloud
    for name in ("one", "two", "three"):
        put(radicale, calendar, f"{name}.ics", simple_event(f"uid-{name}", name))
    proxy.truncate_sync = True
    via_proxy = calendar.replace(radicale.url, proxy.partition_url)

    first = provider.fetch_changes(ALICE, via_proxy, None, None)
    rest = provider.fetch_changes(ALICE, via_proxy, None, first.next_page)

    assert (first.next_page, first.sync_token, len(first.events)) == (ICloudLikeProxy.REST_TOKEN, None, 1)
    assert rest.next_page is None and rest.sync_token
    assert sorted(e.title for e in first.events + rest.events) == ["one", "three", "two"]


def test_without_sync_collection_falls_back_to_full_listings(icloud, radicale, calendar):
    proxy, provider = icloud
    proxy.sync_unsupported = True
    via_proxy = calendar.replace(radicale.url, proxy.partition_url)
    put(radicale, calendar, "one.ics", simple_event("uid-one", "one"))

    first = provider.fetch_changes(ALICE, via_proxy, None, None)
    unchanged = provider.fetch_changes(ALICE, via_proxy, first.sync_token, None)
    put(radicale, calendar, "two.ics", simple_event("uid-two", "two"))
    changed = provider.fetch_changes(ALICE, via_proxy, first.sync_token, None)

    assert [e.title for e in first.events] == ["one"] and first.sync_token.startswith(ETAG_TOKEN_PREFIX)
    assert (unchanged.events, unchanged.sync_token) == ([], first.sync_token)
    assert sorted(e.title for e in changed.events) == ["one", "two"] and changed.removed_ids == []
    assert changed.sync_token != first.sync_token


# ---------------------------------------------------------------------------- ical.py


def test_parse_all_day_without_dtend_lasts_one_day():
    (event,) = parse_calendar_resource(ics("UID:d", "DTSTART;VALUE=DATE:20240704"), "/c/d.ics", '"1"')

    assert (event.is_all_day, event.start_time, event.end_time) == (True, utc(2024, 7, 4), utc(2024, 7, 5))
    assert (event.title, event.etag, event.timezone) == ("(No title)", '"1"', "UTC")


def test_parse_durations_zero_length_and_floating_times():
    (with_duration,) = parse_calendar_resource(
        ics("UID:a", "DTSTART;TZID=Europe/Berlin:20240330T120000", "DURATION:P1DT1H"), "/c/a.ics", None)
    (no_end,) = parse_calendar_resource(ics("UID:b", "DTSTART:20240330T120000Z"), "/c/b.ics", None)
    (floating,) = parse_calendar_resource(ics("UID:c", "DTSTART:20240330T120000", "DTEND:20240330T130000"),
                                          "/c/c.ics", None, default_timezone="Asia/Tokyo")

    # A nominal day across Berlin's spring-forward is 23 hours long; the extra hour is exact.
    assert (with_duration.start_time, with_duration.end_time) == (utc(2024, 3, 30, 11), utc(2024, 3, 31, 11))
    assert no_end.start_time == no_end.end_time == utc(2024, 3, 30, 12)
    assert (floating.start_time, floating.timezone, floating.metadata["floating"]) == (
        utc(2024, 3, 30, 3), "Asia/Tokyo", True)


@pytest.mark.filterwarnings("ignore::icalendar.error.GloballyUniqueTZIDGuessed")
def test_parse_windows_and_vendor_prefixed_tzids():
    (windows,) = parse_calendar_resource(
        ics("UID:w", "DTSTART;TZID=Pacific Standard Time:20240701T090000"), "/c/w.ics", None)
    (vendor,) = parse_calendar_resource(
        ics("UID:v", "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20240701T090000"), "/c/v.ics", None)

    assert (windows.start_time, windows.timezone) == (utc(2024, 7, 1, 16), "America/Los_Angeles")
    assert (vendor.start_time, vendor.timezone) == (utc(2024, 7, 1, 7), "Europe/Berlin")


def test_parse_people_reminders_links_and_cancelled_override():
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN",
        "BEGIN:VEVENT", "UID:meet", "DTSTAMP:20240101T000000Z", "SUMMARY:Planning", "SEQUENCE:3",
        "DTSTART:20240506T150000Z", "DTEND:20240506T160000Z", "RRULE:FREQ=WEEKLY", "URL:https://example.com/m",
        "ORGANIZER;CN=Ann:mailto:ann@example.com", "ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.com",
        "ATTENDEE;PARTSTAT=DECLINED:MAILTO:bo@example.com", "ATTENDEE:mailto:cy@example.com",
        "X-ALMANAC-TEST;X-P=1:kept",
        "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:r", "TRIGGER:-PT15M", "END:VALARM",
        "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:r", "TRIGGER;VALUE=DATE-TIME:20240506T140000Z", "END:VALARM",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:meet", "DTSTAMP:20240101T000000Z", "RECURRENCE-ID:20240513T150000Z",
        "DTSTART:20240513T150000Z", "DTEND:20240513T160000Z", "STATUS:CANCELLED", "END:VEVENT",
        "END:VCALENDAR", "",
    ])

    master, cancelled = parse_calendar_resource(text, "/c/meet.ics", '"e"')

    assert master.attendees == [
        {"email": "ann@example.com", "name": "Ann", "responseStatus": "accepted", "organizer": True},
        {"email": "bo@example.com", "name": None, "responseStatus": "declined", "organizer": False},
        {"email": "cy@example.com", "name": None, "responseStatus": "needsAction", "organizer": False}]
    assert master.reminders == [{"method": "popup", "minutes": 15}]
    assert (master.html_link, master.sequence, master.ical_uid) == ("https://example.com/m", 3, "meet")
    assert master.metadata == {"href": "/c/meet.ics", "x_props": ["X-ALMANAC-TEST;X-P=1:kept"]}
    assert (cancelled.status, cancelled.title, cancelled.parent_provider_event_id) == (
        "CANCELLED", "Planning", "/c/meet.ics")
    assert cancelled.provider_event_id == "/c/meet.ics::2024-05-13T15:00:00Z"


def test_non_http_url_is_not_a_link():
    (event,) = parse_calendar_resource(ics("UID:j", "DTSTART:20240101T100000Z", "URL:javascript:alert(1)"), "/x", None)

    assert event.html_link is None


def test_vevent_with_broken_dtstart_is_skipped_not_fatal():
    assert parse_calendar_resource(ics("UID:b", "DTSTART:2024XX"), "/x", None) == []
    with pytest.raises(ValueError):
        parse_calendar_resource("not a calendar", "/x", None)


def test_round_trip_keeps_series_overrides_zones_people_and_x_props():
    master = RemoteEvent(
        provider_event_id="/c/r.ics", title="Review", start_time=utc(2024, 3, 4, 14), end_time=utc(2024, 3, 4, 15),
        timezone="America/New_York", description="Quarterly", location="Room 1", ical_uid="r-uid", sequence=2,
        recurrence_rule="RRULE:FREQ=WEEKLY;UNTIL=20240401T130000Z;BYDAY=MO\nEXDATE:20240311T130000Z",
        attendees=[{"email": "ann@example.com", "name": "Ann", "responseStatus": "accepted", "organizer": True},
                   {"email": "bo@example.com", "name": None, "responseStatus": "tentative", "organizer": False}],
        reminders=[{"method": "popup", "minutes": 30}], html_link="https://example.com/r",
        metadata={"href": "/c/r.ics", "x_props": ["X-ALMANAC-TEST:kept"]},
    )
    moved = RemoteEvent(provider_event_id="/c/r.ics::2024-03-18T13:00:00Z", title="Review (moved)",
                        start_time=utc(2024, 3, 19, 13), end_time=utc(2024, 3, 19, 14), timezone="America/New_York",
                        parent_provider_event_id="/c/r.ics", original_start_time=utc(2024, 3, 18, 13),
                        metadata={"href": "/c/r.ics"})
    cancelled = RemoteEvent(provider_event_id="/c/r.ics::2024-03-25T13:00:00Z", title="Review", status="CANCELLED",
                            start_time=utc(2024, 3, 25, 13), end_time=utc(2024, 3, 25, 14),
                            parent_provider_event_id="/c/r.ics", original_start_time=utc(2024, 3, 25, 13))

    text = build_calendar_resource(master, [moved, cancelled])
    parsed_master, parsed_moved = parse_calendar_resource(text, "/c/r.ics", '"2"')

    assert "PRODID:-//Almanac//EN" in text and "TZID:America/New_York" in text
    assert "DTSTART;TZID=America/New_York:20240304T090000" in text
    assert "RECURRENCE-ID;TZID=America/New_York:20240318T090000" in text
    assert parsed_master == RemoteEvent(**{
        **vars(master), "etag": '"2"',
        "recurrence_rule": master.recurrence_rule + "\nEXDATE;TZID=America/New_York:20240325T090000"})
    assert parsed_moved == RemoteEvent(**{**vars(moved), "etag": '"2"', "ical_uid": "r-uid"})


def test_round_trip_all_day_and_utc_events():
    all_day = RemoteEvent(provider_event_id="/c/h.ics", title="Holiday", start_time=utc(2024, 12, 24),
                          end_time=utc(2024, 12, 27), is_all_day=True, ical_uid="h", metadata={"href": "/c/h.ics"})
    in_utc = RemoteEvent(provider_event_id="/c/u.ics", title="Deploy", start_time=utc(2024, 12, 2, 8),
                         end_time=utc(2024, 12, 2, 8), ical_uid="u", metadata={"href": "/c/u.ics"})

    all_day_text = build_calendar_resource(all_day)
    utc_text = build_calendar_resource(in_utc)

    assert "DTSTART;VALUE=DATE:20241224" in all_day_text and "DTEND;VALUE=DATE:20241227" in all_day_text
    assert "DTSTART:20241202T080000Z" in utc_text and "DTEND:20241202T080000Z" in utc_text
    assert "BEGIN:VTIMEZONE" not in all_day_text + utc_text
    assert parse_calendar_resource(all_day_text, "/c/h.ics", None) == [all_day]
    assert parse_calendar_resource(utc_text, "/c/u.ics", None) == [in_utc]
