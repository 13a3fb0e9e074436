"""GoogleProvider against the local Google emulator, over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from sandbox.google_emulator import (
    DEFAULT_ACCOUNT,
    FAMILY_CALENDAR_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    GoogleState,
    create_google_emulator,
    sample_google_state,
)
from sandbox.serve import serve_in_thread
from webapp.providers.base import (
    AuthRejected,
    Credentials,
    InvalidGrant,
    NotFound,
    PreconditionFailed,
    ProviderUnreachable,
    RateLimited,
    RemoteEvent,
    SyncTokenExpired,
)
from webapp.providers.google import CALENDAR_SCOPES, GoogleProvider, missing_scopes

CLIENT_ID = "almanac-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"
REDIRECT_URI = "http://almanac.test/connections/google/callback"
ACCOUNT = "ada@example.com"
FAMILY = "family#ada@group.calendar.google.com"  # "#" must survive the trip through the URL path


class SwappableApp:
    """One server for the module; each test plugs in an emulator with fresh state (server start/stop is slow)."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def server():
    target = SwappableApp()
    running = serve_in_thread(target)
    yield running, target
    running.stop()


@pytest.fixture
def state(server):
    state = GoogleState()
    state.add_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    state.add_calendar(ACCOUNT, ACCOUNT, "Ada Lovelace", "#9FE1E7", primary=True, time_zone="Europe/Berlin")
    state.add_calendar(ACCOUNT, FAMILY, "Family", "#33B679", access_role="reader", time_zone="America/Chicago")
    server[1].app = create_google_emulator(state)
    return state


@pytest.fixture
def base_url(server, state):
    return server[0].url


@pytest.fixture
def provider(base_url):
    return provider_at(base_url)


@pytest.fixture
def credentials(provider):
    return Credentials(access_token=connect(provider).access_token)


def provider_at(base_url: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> GoogleProvider:
    return GoogleProvider(
        client_id, client_secret, auth_url=f"{base_url}/o/oauth2/v2/auth", token_url=f"{base_url}/token",
        revoke_url=f"{base_url}/revoke", api_url=f"{base_url}/calendar/v3", userinfo_url=f"{base_url}/v1/userinfo",
    )


def challenge_for(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize(provider: GoogleProvider, decision: str = "allow", state_value: str = "csrf-123",
              email: str = ACCOUNT) -> tuple[dict[str, str], str]:
    """The redirect's query and the PKCE verifier behind the challenge the consent page saw."""
    url, verifier = provider.authorization_url(state=state_value, redirect_uri=REDIRECT_URI)
    return follow_consent(url, decision, email), verifier


def follow_consent(url: str, decision: str = "allow", email: str = ACCOUNT) -> dict[str, str]:
    """The browser leg, with the emulator's auto-consent: returns the query of the redirect back to us."""
    response = requests.get(url, params={"login_hint": email, "emulator_auto": decision}, allow_redirects=False,
                            timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def connect(provider: GoogleProvider, email: str = ACCOUNT):
    back, verifier = authorize(provider, email=email)
    return provider.exchange_code(code=back["code"], code_verifier=verifier, redirect_uri=REDIRECT_URI)


def timed(start: str, end: str, zone: str = "Europe/Berlin") -> dict:
    return {"start": {"dateTime": start, "timeZone": zone}, "end": {"dateTime": end, "timeZone": zone}}


def sync_round(provider, credentials, calendar_id, sync_token=None):
    pages, page_token = [], None
    while len(pages) < 20:
        pages.append(provider.fetch_changes(credentials, calendar_id, sync_token, page_token))
        page_token = pages[-1].next_page
        if page_token is None:
            return pages
    raise AssertionError("the round never ended")


def events_url(base_url: str, calendar_id: str = ACCOUNT) -> str:
    return f"{base_url}/calendar/v3/calendars/{calendar_id}/events"


def bearer(credentials: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.access_token}"}


def requests_to(state: GoogleState, path_suffix: str, method: str = "GET"):
    return [r for r in state.requests if r.path.endswith(path_suffix) and r.method == method]


# ---- OAuth ----------------------------------------------------------------------------------------------------------

def test_authorization_url_asks_for_offline_access_with_pkce(provider):
    url, verifier = provider.authorization_url(state="s-1", redirect_uri=REDIRECT_URI)
    params = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(provider.auth_url + "?")
    assert len(verifier) >= 43 and verifier not in url
    assert params["code_challenge"] == challenge_for(verifier)
    assert params["code_challenge_method"] == "S256"
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["state"] == "s-1"
    assert params["redirect_uri"] == REDIRECT_URI
    assert set(params["scope"].split()) == {"openid", "email", *CALENDAR_SCOPES}


def test_consent_page_shows_the_account_and_allow_posts_back_a_code(provider, base_url):
    url, verifier = provider.authorization_url(state="s-2", redirect_uri=REDIRECT_URI)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert ACCOUNT in page.text and 'value="allow"' in page.text and 'value="deny"' in page.text
    assert "<script" not in page.text
    form = dict(parse_qsl(urlsplit(url).query)) | {"login_hint": ACCOUNT, "decision": "allow"}
    decision = requests.post(f"{base_url}/o/oauth2/v2/auth", data=form, allow_redirects=False, timeout=5)
    back = dict(parse_qsl(urlsplit(decision.headers["Location"]).query))
    assert back["state"] == "s-2"
    tokens = provider.exchange_code(code=back["code"], code_verifier=verifier, redirect_uri=REDIRECT_URI)
    assert tokens.access_token


def test_code_exchange_returns_tokens_that_work(provider):
    tokens = connect(provider)
    assert tokens.access_token and tokens.refresh_token
    expected_expiry = datetime.now(UTC) + timedelta(seconds=3599)
    assert abs((tokens.expires_at - expected_expiry).total_seconds()) < 5
    assert missing_scopes(tokens.scope) == []
    assert provider.account_email(Credentials(access_token=tokens.access_token)) == ACCOUNT


def test_code_is_single_use(provider):
    back, verifier = authorize(provider)
    code = back["code"]
    provider.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
    with pytest.raises(InvalidGrant):
        provider.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)


def test_pkce_verifier_mismatch_is_invalid_grant(provider):
    code = authorize(provider)[0]["code"]
    with pytest.raises(InvalidGrant):
        provider.exchange_code(code=code, code_verifier=secrets.token_urlsafe(48), redirect_uri=REDIRECT_URI)


def test_expired_code_is_invalid_grant(provider, state):
    back, verifier = authorize(provider)
    code = back["code"]
    state.advance_clock(11 * 60)
    with pytest.raises(InvalidGrant):
        provider.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)


def test_denied_consent_redirects_with_access_denied(provider):
    back, _ = authorize(provider, decision="deny", state_value="s-3")
    assert back == {"error": "access_denied", "state": "s-3"}


def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(provider):
    url, _ = provider.authorization_url(state="s", redirect_uri="https://evil.test/cb")
    response = requests.get(url, params={"emulator_auto": "allow"}, allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "redirect_uri_mismatch" in response.text


def test_refresh_returns_a_new_access_token_and_keeps_the_refresh_token(provider, state):
    tokens = connect(provider)
    state.expire_access_tokens()
    refreshed = provider.refresh(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token
    assert provider.list_calendars(Credentials(access_token=refreshed.access_token))


def test_refresh_token_comes_only_with_the_first_consent_unless_consent_is_forced(provider):
    assert connect(provider).refresh_token
    url, verifier = provider.authorization_url(state="s", redirect_uri=REDIRECT_URI)
    code = follow_consent(url.replace("prompt=consent&", ""))["code"]
    again = provider.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
    assert again.access_token and again.refresh_token is None


def test_revoked_refresh_token_is_invalid_grant(provider, state):
    tokens = connect(provider)
    state.revoke_refresh_tokens(ACCOUNT)
    with pytest.raises(InvalidGrant):
        provider.refresh(tokens.refresh_token)


def test_revoke_kills_the_grant_and_tolerates_a_second_call(provider):
    tokens = connect(provider)
    provider.revoke(tokens.refresh_token)
    provider.revoke(tokens.refresh_token)
    with pytest.raises(InvalidGrant):
        provider.refresh(tokens.refresh_token)
    with pytest.raises(AuthRejected):
        provider.list_calendars(Credentials(access_token=tokens.access_token))


# ---- calendars and reading ----------------------------------------------------------------------------------------

def test_list_calendars(provider, credentials):
    calendars = {c.calendar_id: c for c in provider.list_calendars(credentials)}
    assert set(calendars) == {ACCOUNT, FAMILY}
    assert calendars[ACCOUNT].name == "Ada Lovelace"
    assert calendars[ACCOUNT].color == "#9fe1e7"
    assert calendars[ACCOUNT].is_primary and calendars[ACCOUNT].can_write
    assert not calendars[FAMILY].is_primary and not calendars[FAMILY].can_write


def test_first_sync_pages_and_gives_the_sync_token_only_on_the_last_page(provider, credentials, state):
    seeded = {state.add_event(ACCOUNT, {"summary": f"Event {n}", **timed(f"2024-05-0{n + 1}T09:00:00+02:00",
                                                                          f"2024-05-0{n + 1}T10:00:00+02:00")})["id"]
              for n in range(7)}
    state.set_page_size(3)
    pages = sync_round(provider, credentials, ACCOUNT)
    assert [len(p.events) for p in pages] == [3, 3, 1]
    assert [p.sync_token is None for p in pages] == [True, True, False]
    assert {e.provider_event_id for p in pages for e in p.events} == seeded
    first, *continued = requests_to(state, f"/calendars/{ACCOUNT}/events")
    assert first.query == {"maxResults": "250", "showDeleted": "true"}
    assert all(r.query["pageToken"] and "singleEvents" not in r.query for r in continued)


def test_incremental_sync_reports_additions_changes_and_deletions(provider, credentials, state):
    kept, changed, deleted = (state.add_event(ACCOUNT, {"summary": name, **timed("2024-05-01T09:00:00Z",
                                                                                "2024-05-01T10:00:00Z")})["id"]
                              for name in ("Kept", "Changed", "Deleted"))
    sync_token = sync_round(provider, credentials, ACCOUNT)[-1].sync_token
    added = state.add_event(ACCOUNT, {"summary": "Added", **timed("2024-05-02T09:00:00Z", "2024-05-02T10:00:00Z")})
    state.update_event(ACCOUNT, changed, {"summary": "Changed again"})
    state.delete_event(ACCOUNT, deleted)
    state.set_page_size(1)
    pages = sync_round(provider, credentials, ACCOUNT, sync_token)
    titles = {e.provider_event_id: e.title for p in pages for e in p.events}
    assert titles == {added["id"]: "Added", changed: "Changed again"}
    assert [i for p in pages for i in p.removed_ids] == [deleted]
    assert kept not in titles
    assert all(r.query["syncToken"] == sync_token for r in requests_to(state, f"/calendars/{ACCOUNT}/events")[1:])
    assert sync_round(provider, credentials, ACCOUNT, pages[-1].sync_token)[0].events == []


def test_a_change_made_while_a_round_is_paged_comes_again_next_round(provider, credentials, state):
    first, *_ = (state.add_event(ACCOUNT, {"summary": f"Event {n}", **timed("2024-05-01T09:00:00Z",
                                                                           "2024-05-01T10:00:00Z")})["id"]
                 for n in range(4))
    state.set_page_size(2)
    page = provider.fetch_changes(credentials, ACCOUNT, None, None)
    state.update_event(ACCOUNT, first, {"summary": "Renamed mid-round"})
    last = provider.fetch_changes(credentials, ACCOUNT, None, page.next_page)
    changes = sync_round(provider, credentials, ACCOUNT, last.sync_token)
    assert [e.title for p in changes for e in p.events] == ["Renamed mid-round"]


def test_series_exceptions_and_cancelled_occurrences(provider, credentials, state):
    master = state.add_event(ACCOUNT, {"summary": "Standup", "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
                                       **timed("2024-05-06T09:00:00", "2024-05-06T09:15:00")})
    first_round = sync_round(provider, credentials, ACCOUNT)
    assert first_round[0].events[0].recurrence_rule == "RRULE:FREQ=DAILY;COUNT=5"
    state.delete_event(ACCOUNT, f"{master['id']}_20240507T070000Z")
    state.update_event(ACCOUNT, f"{master['id']}_20240508T070000Z",
                       timed("2024-05-08T10:00:00", "2024-05-08T10:15:00"))
    page = provider.fetch_changes(credentials, ACCOUNT, first_round[-1].sync_token, None)
    by_id = {e.provider_event_id: e for e in page.events}
    cancelled, moved = by_id[f"{master['id']}_20240507T070000Z"], by_id[f"{master['id']}_20240508T070000Z"]
    assert page.removed_ids == []
    assert (cancelled.status, cancelled.parent_provider_event_id) == ("CANCELLED", master["id"])
    assert cancelled.original_start_time == datetime(2024, 5, 7, 7, tzinfo=UTC)
    assert (moved.status, moved.parent_provider_event_id) == ("CONFIRMED", master["id"])
    assert moved.original_start_time == datetime(2024, 5, 8, 7, tzinfo=UTC)
    assert moved.start_time == datetime(2024, 5, 8, 8, tzinfo=UTC)


def test_expired_sync_token_raises_sync_token_expired(provider, credentials, state):
    sync_token = sync_round(provider, credentials, ACCOUNT)[-1].sync_token
    state.expire_sync_tokens(ACCOUNT)
    with pytest.raises(SyncTokenExpired):
        provider.fetch_changes(credentials, ACCOUNT, sync_token, None)


@pytest.mark.parametrize(("status", "headers", "retry_after"), [
    (429, {"Retry-After": "7"}, 7.0),
    (403, {}, None),  # Google's usageLimits/rateLimitExceeded flavour
])
def test_throttling_is_rate_limited(provider, credentials, state, status, headers, retry_after):
    state.fail_next("/calendar/v3/calendars/", status, headers=headers)
    with pytest.raises(RateLimited) as caught:
        provider.fetch_changes(credentials, ACCOUNT, None, None)
    assert caught.value.retry_after == retry_after
    assert caught.value.status == status


def test_rejected_access_token_is_auth_rejected(provider, credentials, state):
    state.expire_access_tokens()
    with pytest.raises(AuthRejected) as caught:
        provider.fetch_changes(credentials, ACCOUNT, None, None)
    assert caught.value.status == 401


def test_unreachable_google_is_provider_unreachable(credentials):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ProviderUnreachable):
        provider_at(f"http://127.0.0.1:{closed_port}").list_calendars(credentials)


# ---- mapping ------------------------------------------------------------------------------------------------------

def test_all_day_event_maps_to_utc_midnights_with_exclusive_end(provider, credentials, state):
    state.add_event(FAMILY, {"summary": "Ski trip", "start": {"date": "2024-02-09"}, "end": {"date": "2024-02-12"}})
    (event,) = provider.fetch_changes(credentials, FAMILY, None, None).events
    assert event.is_all_day
    assert event.start_time == datetime(2024, 2, 9, tzinfo=UTC)
    assert event.end_time == datetime(2024, 2, 12, tzinfo=UTC)
    assert event.timezone == "America/Chicago"  # no zone of its own: the calendar's


def test_timed_event_keeps_its_own_zone(provider, credentials, state):
    # Rendered by Google in the calendar's zone (Berlin, +01:00): the instant must still come out right.
    state.add_event(ACCOUNT, {"summary": "NY call", **timed("2024-11-04T09:00:00", "2024-11-04T09:30:00",
                                                            zone="America/New_York")})
    (event,) = provider.fetch_changes(credentials, ACCOUNT, None, None).events
    assert event.start_time == datetime(2024, 11, 4, 14, tzinfo=UTC)
    assert event.end_time == datetime(2024, 11, 4, 14, 30, tzinfo=UTC)
    assert event.timezone == "America/New_York"
    assert not event.is_all_day


def test_event_details_map_from_google(provider, credentials, state):
    state.add_event(ACCOUNT, {
        "summary": "Planning", "description": "<b>Q3</b>", "location": "Room 1", "status": "tentative",
        **timed("2024-05-01T10:00:00", "2024-05-01T11:00:00"),
        "attendees": [{"email": ACCOUNT, "responseStatus": "accepted"},
                      {"email": "sam@example.com", "displayName": "Sam", "responseStatus": "declined"}],
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
    })
    (event,) = provider.fetch_changes(credentials, ACCOUNT, None, None).events
    assert (event.title, event.description, event.location, event.status) == (
        "Planning", "<b>Q3</b>", "Room 1", "TENTATIVE")
    assert event.attendees == [
        {"email": ACCOUNT, "name": None, "responseStatus": "accepted", "organizer": True},
        {"email": "sam@example.com", "name": "Sam", "responseStatus": "declined", "organizer": False},
    ]
    assert event.reminders == [{"method": "popup", "minutes": 15}]
    assert event.html_link.startswith("https://www.google.com/calendar/event?eid=")
    assert event.etag.startswith('"') and event.ical_uid.endswith("@google.com") and event.sequence == 0
    assert event.metadata["updated"]


# ---- writing ------------------------------------------------------------------------------------------------------

def new_event(**overrides) -> RemoteEvent:
    values = {"provider_event_id": uuid.uuid4().hex, "title": "Lunch", "timezone": "America/New_York",
              "start_time": datetime(2024, 11, 4, 17, tzinfo=UTC), "end_time": datetime(2024, 11, 4, 18, tzinfo=UTC)}
    return RemoteEvent(**(values | overrides))


def test_create_with_our_id_is_idempotent(provider, credentials, state):
    event = new_event()
    first = provider.create_event(credentials, ACCOUNT, event)
    again = provider.create_event(credentials, ACCOUNT, event)
    assert first.provider_event_id == again.provider_event_id == event.provider_event_id
    assert first.etag == again.etag
    assert [e["id"] for e in state.stored_events(ACCOUNT)] == [event.provider_event_id]


def test_create_writes_the_time_in_the_events_own_zone(provider, credentials, state):
    created = provider.create_event(credentials, ACCOUNT, new_event(reminders=[{"method": "email", "minutes": 60}]))
    (sent,) = requests_to(state, f"/calendars/{ACCOUNT}/events", method="POST")
    assert sent.json["start"] == {"dateTime": "2024-11-04T12:00:00-05:00", "timeZone": "America/New_York"}
    assert sent.json["reminders"] == {"useDefault": False, "overrides": [{"method": "email", "minutes": 60}]}
    assert sent.query == {"sendUpdates": "none"}
    assert created.start_time == datetime(2024, 11, 4, 17, tzinfo=UTC)
    assert created.timezone == "America/New_York"


def test_create_all_day_sends_dates_with_exclusive_end(provider, credentials, state):
    event = new_event(is_all_day=True, start_time=datetime(2024, 5, 1, tzinfo=UTC),
                      end_time=datetime(2024, 5, 3, tzinfo=UTC), recurrence_rule="RRULE:FREQ=YEARLY")
    created = provider.create_event(credentials, ACCOUNT, event)
    (stored,) = state.stored_events(ACCOUNT)
    assert (stored["start"], stored["end"]) == ({"date": "2024-05-01"}, {"date": "2024-05-03"})
    assert stored["recurrence"] == ["RRULE:FREQ=YEARLY"]
    assert (created.start_time, created.end_time) == (event.start_time, event.end_time)


def test_update_with_stale_etag_is_precondition_failed(provider, credentials, state):
    created = provider.create_event(credentials, ACCOUNT, new_event())
    state.update_event(ACCOUNT, created.provider_event_id,
                       {"attendees": [{"email": "guest@example.com"}]})  # another client adds a guest
    with pytest.raises(PreconditionFailed):
        provider.update_event(credentials, ACCOUNT, created)
    current = provider.get_event(credentials, ACCOUNT, created.provider_event_id)
    current.title, current.description = "Late lunch", None
    updated = provider.update_event(credentials, ACCOUNT, current)
    assert updated.title == "Late lunch" and updated.etag != current.etag
    assert [a["email"] for a in updated.attendees] == ["guest@example.com"]  # a patch keeps what we don't model


def test_update_can_turn_a_timed_event_into_an_all_day_one(provider, credentials):
    created = provider.create_event(credentials, ACCOUNT, new_event())
    created.is_all_day = True
    created.start_time, created.end_time = datetime(2024, 11, 4, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC)
    updated = provider.update_event(credentials, ACCOUNT, created)
    assert updated.is_all_day and updated.end_time == datetime(2024, 11, 5, tzinfo=UTC)


def test_delete_twice_is_not_an_error(provider, credentials, state):
    created = provider.create_event(credentials, ACCOUNT, new_event())
    provider.delete_event(credentials, ACCOUNT, created.provider_event_id, created.etag)
    provider.delete_event(credentials, ACCOUNT, created.provider_event_id, None)
    assert [e["status"] for e in state.stored_events(ACCOUNT)] == ["cancelled"]
    assert requests_to(state, created.provider_event_id, method="DELETE")[0].headers["If-Match"] == created.etag


def test_delete_with_stale_etag_is_precondition_failed(provider, credentials, state):
    created = provider.create_event(credentials, ACCOUNT, new_event())
    state.update_event(ACCOUNT, created.provider_event_id, {"summary": "Renamed elsewhere"})
    with pytest.raises(PreconditionFailed):
        provider.delete_event(credentials, ACCOUNT, created.provider_event_id, created.etag)


def test_get_of_unknown_event_is_not_found(provider, credentials):
    with pytest.raises(NotFound):
        provider.get_event(credentials, ACCOUNT, "nosuchevent0")


# ---- emulator rules the provider relies on ------------------------------------------------------------------------

def test_emulator_refuses_sync_token_with_a_time_window(base_url, credentials, provider):
    sync_token = sync_round(provider, credentials, ACCOUNT)[-1].sync_token
    response = requests.get(events_url(base_url), params={"syncToken": sync_token, "timeMin": "2024-01-01T00:00:00Z"},
                            headers=bearer(credentials), timeout=5)
    assert response.status_code == 400


def test_emulator_page_token_only_continues_its_own_query(base_url, credentials, state):
    for n in range(3):
        state.add_event(ACCOUNT, timed(f"2024-05-0{n + 1}T09:00:00Z", f"2024-05-0{n + 1}T10:00:00Z"))
    url, auth = events_url(base_url), bearer(credentials)
    first = requests.get(url, params={"maxResults": 2, "showDeleted": "true"}, headers=auth, timeout=5).json()
    assert "nextSyncToken" not in first
    mismatched = requests.get(url, params={"pageToken": first["nextPageToken"]}, headers=auth, timeout=5)
    assert mismatched.status_code == 400
    last = requests.get(url, params={"pageToken": first["nextPageToken"], "showDeleted": "true"}, headers=auth,
                        timeout=5).json()
    assert "nextPageToken" not in last and last["nextSyncToken"] and len(last["items"]) == 1


def test_emulator_insert_rules(base_url, credentials):
    url, auth = events_url(base_url), bearer(credentials)
    body = timed("2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z") | {"id": "abcdev0123"}
    assert requests.post(url, json=body, headers=auth, timeout=5).status_code == 200
    duplicate = requests.post(url, json=body, headers=auth, timeout=5)
    assert (duplicate.status_code, duplicate.json()["error"]["errors"][0]["reason"]) == (409, "duplicate")
    assert requests.post(url, json=body | {"id": "UPPER_case"}, headers=auth, timeout=5).status_code == 400
    assert requests.delete(f"{url}/abcdev0123", headers=auth, timeout=5).status_code == 204
    gone = requests.delete(f"{url}/abcdev0123", headers=auth, timeout=5)
    assert (gone.status_code, gone.json()["error"]["errors"][0]["reason"]) == (410, "deleted")


def test_plain_list_keeps_cancelled_occurrences_of_a_live_series(base_url, credentials, state):
    master = state.add_event(ACCOUNT, {"summary": "Standup", "recurrence": ["RRULE:FREQ=DAILY"],
                                       **timed("2024-05-06T09:00:00", "2024-05-06T09:15:00")})
    single = state.add_event(ACCOUNT, timed("2024-05-06T12:00:00", "2024-05-06T13:00:00"))
    state.delete_event(ACCOUNT, f"{master['id']}_20240507T070000Z")
    state.delete_event(ACCOUNT, single["id"])
    response = requests.get(events_url(base_url), headers=bearer(credentials), timeout=5)
    items = {item["id"]: item for item in response.json()["items"]}
    assert set(items) == {master["id"], f"{master['id']}_20240507T070000Z"}
    assert items[f"{master['id']}_20240507T070000Z"] == {
        "kind": "calendar#event", "id": f"{master['id']}_20240507T070000Z", "status": "cancelled",
        "recurringEventId": master["id"],
        "originalStartTime": {"dateTime": "2024-05-07T09:00:00+02:00", "timeZone": "Europe/Berlin"},
    }


def test_control_api_scripts_the_emulator_from_another_process(base_url, provider, credentials):
    def control(action, **arguments):
        response = requests.post(f"{base_url}/_emulator/{action}", json=arguments, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    added = control("add_event", calendar_id=ACCOUNT,
                    resource={"summary": "From outside", **timed("2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z")})
    control("fail_next", path_prefix="/calendar/v3/", status=503)
    with pytest.raises(ProviderUnreachable):
        provider.fetch_changes(credentials, ACCOUNT, None, None)
    assert [e.provider_event_id for e in provider.fetch_changes(credentials, ACCOUNT, None, None).events] == [
        added["id"]]
    recorded = requests.get(f"{base_url}/_emulator/requests", timeout=5).json()
    assert all("Authorization" not in entry["headers"] for entry in recorded)


def test_sample_state_serves_a_realistic_sandbox(server):
    server[1].app = create_google_emulator(sample_google_state())
    provider = provider_at(server[0].url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    credentials = Credentials(access_token=connect(provider, email=DEFAULT_ACCOUNT).access_token)
    calendars = {c.name: c for c in provider.list_calendars(credentials)}
    assert set(calendars) == {"Work", "Family"} and calendars["Work"].is_primary
    work = provider.fetch_changes(credentials, calendars["Work"].calendar_id, None, None).events
    (series,) = [e for e in work if e.is_recurring]
    assert "EXDATE" in series.recurrence_rule
    assert [e.parent_provider_event_id for e in work if e.parent_provider_event_id] == [series.provider_event_id]
    family = provider.fetch_changes(credentials, FAMILY_CALENDAR_ID, None, None).events
    assert sorted((e.end_time - e.start_time).days for e in family if e.is_all_day) == [1, 3]
    assert len(work) + len(family) >= 10
