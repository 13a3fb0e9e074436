"""MicrosoftProvider against the local Microsoft identity + Graph emulator, over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import re
import socket
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.microsoft_emulator import (
    DEFAULT_ACCOUNT,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MicrosoftState,
    create_microsoft_emulator,
    sample_microsoft_state,
)
from sandbox.serve import serve_in_thread
from webapp.providers.base import (
    AuthRejected,
    Credentials,
    InvalidGrant,
    PreconditionFailed,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    RemoteEvent,
    SyncTokenExpired,
)
from webapp.providers.microsoft import MicrosoftProvider, UnsupportedRecurrence, graph_recurrence
from webapp.providers.windows_zones import WINDOWS_TO_IANA, windows_to_iana

EMAIL = "ada@outlook.com"
REDIRECT_URI = "http://localhost:5000/connections/microsoft/callback"
BERLIN = "W. Europe Standard Time"


def challenge_for(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def emulator_state() -> MicrosoftState:
    state = MicrosoftState(refresh_grace_seconds=0)
    state.add_account(EMAIL, "Ada Lovelace")
    return state


@pytest.fixture(scope="module")
def running_emulator():
    running = serve_in_thread(create_microsoft_emulator(MicrosoftState()))
    yield running
    running.stop()


@pytest.fixture
def emulator(running_emulator, emulator_state):
    # Stopping a server costs half a second, so tests share one and each swaps in a fresh app and state.
    running_emulator.server.app = create_microsoft_emulator(emulator_state)
    return running_emulator


@pytest.fixture
def provider(emulator) -> MicrosoftProvider:
    return MicrosoftProvider(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, authority=f"{emulator.url}/common",
                             graph_url=f"{emulator.url}/v1.0", page_size=3)


@pytest.fixture
def calendar_id(emulator_state) -> str:
    return emulator_state.default_calendar_id(EMAIL)


def authorize(provider: MicrosoftProvider, decision: str = "allow", login_hint: str = EMAIL) -> dict[str, str]:
    """Run the authorize leg with the emulator's test shortcut; returns the redirect's query, with the PKCE
    verifier behind the challenge the emulator saw under "verifier"."""
    url, verifier = provider.authorization_url(state="state-123", redirect_uri=REDIRECT_URI)
    response = requests.get(f"{url}&login_hint={login_hint}&emulator_auto={decision}", allow_redirects=False,
                            timeout=5)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()} | {"verifier": verifier}


@pytest.fixture
def tokens(provider):
    query = authorize(provider)
    return provider.exchange_code(code=query["code"], code_verifier=query["verifier"], redirect_uri=REDIRECT_URI)


@pytest.fixture
def credentials(tokens) -> Credentials:
    return Credentials(access_token=tokens.access_token)


def timed(day: date, start: str, end: str, zone: str = BERLIN, **fields) -> dict:
    return {"start": {"dateTime": f"{day.isoformat()}T{start}:00", "timeZone": zone},
            "end": {"dateTime": f"{day.isoformat()}T{end}:00", "timeZone": zone}} | fields


def soon(days: int = 3) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


def full_round(provider, credentials, calendar_id, sync_token=None):
    """Every page of one delta round: (events, removed ids, pages seen, final sync token)."""
    events, removed, pages, page = [], [], [], None
    while True:
        result = provider.fetch_changes(credentials, calendar_id, sync_token, page)
        pages.append(result)
        events += result.events
        removed += result.removed_ids
        if result.next_page is None:
            return events, removed, pages, result.sync_token
        page = result.next_page


def delta_requests(state: MicrosoftState) -> list[dict]:
    return [r for r in state.requests if r["path"].endswith("/calendarView/delta")]


# -- OAuth ---------------------------------------------------------------------------------------------------------


def test_authorization_url_asks_for_pkce_offline_access_and_account_choice(provider, emulator):
    url, verifier = provider.authorization_url(state="s1", redirect_uri=REDIRECT_URI)
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}

    assert url.startswith(f"{emulator.url}/common/oauth2/v2.0/authorize?")
    assert len(verifier) >= 43 and verifier not in url
    assert query["code_challenge"] == challenge_for(verifier) and query["code_challenge_method"] == "S256"
    assert query["response_mode"] == "query" and query["prompt"] == "select_account"
    assert set(query["scope"].split()) == {"offline_access", "openid", "email", "Calendars.ReadWrite", "User.Read"}
    assert query["state"] == "s1" and query["redirect_uri"] == REDIRECT_URI and query["response_type"] == "code"


def test_code_exchange_returns_tokens_that_graph_accepts(provider, tokens):
    assert tokens.refresh_token and tokens.access_token != tokens.refresh_token
    assert tokens.expires_at.tzinfo is not None
    assert timedelta(minutes=58) < tokens.expires_at - datetime.now(UTC) < timedelta(minutes=61)
    assert "Calendars.ReadWrite" in tokens.scope

    calendars = provider.list_calendars(Credentials(access_token=tokens.access_token))
    assert [c.name for c in calendars] == ["Calendar"]


def test_consent_page_has_no_scripts_and_accepting_it_redirects_with_a_code(provider):
    url, verifier = provider.authorization_url(state="state-9", redirect_uri=REDIRECT_URI)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "<form" in page.text
    assert "<script" not in page.text.lower() and "onclick" not in page.text.lower()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))

    answer = requests.post(page.url.split("?")[0], data=fields | {"login_hint": EMAIL, "decision": "accept"},
                           allow_redirects=False, timeout=5)

    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["state-9"]
    assert provider.exchange_code(code=query["code"][0], code_verifier=verifier, redirect_uri=REDIRECT_URI)


def test_reusing_a_code_is_invalid_grant(provider):
    query = authorize(provider)
    code = query["code"]
    provider.exchange_code(code=code, code_verifier=query["verifier"], redirect_uri=REDIRECT_URI)

    with pytest.raises(InvalidGrant, match="AADSTS54005") as caught:
        provider.exchange_code(code=code, code_verifier=query["verifier"], redirect_uri=REDIRECT_URI)
    assert code not in str(caught.value)


def test_wrong_pkce_verifier_is_invalid_grant(provider):
    code = authorize(provider)["code"]

    with pytest.raises(InvalidGrant, match="AADSTS501481"):
        provider.exchange_code(code=code, code_verifier="another-" + "y" * 50, redirect_uri=REDIRECT_URI)


def test_declined_consent_redirects_with_access_denied(provider):
    query = authorize(provider, decision="deny")

    assert query["error"] == "access_denied" and query["state"] == "state-123"
    assert "code" not in query and query["error_description"].startswith("AADSTS")


def test_refresh_rotates_the_refresh_token_and_the_old_one_dies(provider, tokens):
    rotated = provider.refresh(tokens.refresh_token)
    assert rotated.refresh_token and rotated.refresh_token != tokens.refresh_token
    assert rotated.access_token != tokens.access_token

    with pytest.raises(InvalidGrant, match="AADSTS70008") as caught:
        provider.refresh(tokens.refresh_token)  # grace is 0 in these tests
    assert tokens.refresh_token not in str(caught.value)
    assert provider.refresh(rotated.refresh_token).refresh_token not in (tokens.refresh_token, rotated.refresh_token)


def test_rotated_refresh_token_still_works_within_the_grace_period(provider, tokens, emulator_state):
    emulator_state.refresh_grace_seconds = 60

    first, second = provider.refresh(tokens.refresh_token), provider.refresh(tokens.refresh_token)

    assert first.refresh_token != second.refresh_token


@pytest.mark.parametrize(("knob", "code"), [("revoke_grants", "AADSTS50173"), ("expire_refresh_tokens", "AADSTS700082"),
                                            ("require_interaction", "interaction_required")])
def test_dead_grants_are_invalid_grant(provider, tokens, emulator_state, knob, code):
    getattr(emulator_state, knob)(EMAIL)

    with pytest.raises(InvalidGrant, match=code):
        provider.refresh(tokens.refresh_token)


def test_wrong_client_secret_is_not_mistaken_for_a_dead_grant(emulator, tokens):
    misconfigured = MicrosoftProvider(DEFAULT_CLIENT_ID, "wrong", authority=f"{emulator.url}/common",
                                      graph_url=f"{emulator.url}/v1.0")

    with pytest.raises(ProviderError, match="AADSTS7000215") as caught:
        misconfigured.refresh(tokens.refresh_token)
    assert type(caught.value) is ProviderError and caught.value.status == 401


def test_revoke_is_a_documented_no_op(provider, tokens, credentials):
    provider.revoke(tokens.refresh_token)

    assert provider.refresh(tokens.refresh_token).access_token


# -- calendars -----------------------------------------------------------------------------------------------------


def test_list_calendars_maps_colour_default_and_write_access_across_pages(provider, credentials, emulator_state):
    emulator_state.add_calendar(EMAIL, "team", "Team", "#2D9CDB", color="lightBlue")
    emulator_state.add_calendar(EMAIL, "holidays", "Holidays", can_edit=False)
    for number in range(10):
        emulator_state.add_calendar(EMAIL, f"extra-{number}", f"Extra {number}", "#112233")

    calendars = {c.name: c for c in provider.list_calendars(credentials)}

    assert len(calendars) == 13  # more than one page of 10
    assert calendars["Calendar"].is_primary and calendars["Calendar"].color is None
    assert calendars["Team"].color == "#2d9cdb" and not calendars["Team"].is_primary
    assert calendars["Team"].calendar_id == "team" and calendars["Team"].can_write
    assert not calendars["Holidays"].can_write


# -- delta sync ----------------------------------------------------------------------------------------------------


def test_first_round_pages_through_the_window_and_ends_with_a_delta_link(provider, credentials, calendar_id,
                                                                         emulator_state):
    ids = {emulator_state.add_event(calendar_id, timed(soon(n), "09:00", "10:00", subject=f"Event {n}"))
           for n in range(7)}

    events, removed, pages, sync_token = full_round(provider, credentials, calendar_id)

    assert {e.provider_event_id for e in events} == ids and removed == []
    assert [len(p.events) for p in pages] == [3, 3, 1]
    assert all(p.sync_token is None and p.next_page for p in pages[:-1])
    assert "$deltatoken=" in sync_token and pages[-1].next_page is None
    first, *later = delta_requests(emulator_state)
    start = datetime.fromisoformat(first["query"]["startDateTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(first["query"]["endDateTime"].replace("Z", "+00:00"))
    assert abs(start - (datetime.now(UTC) - timedelta(days=365))) < timedelta(minutes=1)
    assert abs(end - (datetime.now(UTC) + timedelta(days=730))) < timedelta(minutes=1)
    assert all("startDateTime" not in r["query"] and "$skiptoken" in r["query"] for r in later)
    assert 'odata.maxpagesize=3' in first["headers"]["Prefer"]
    assert 'outlook.timezone="UTC"' in first["headers"]["Prefer"]


def test_the_emulator_insists_on_a_window_for_the_first_call(emulator, credentials, calendar_id):
    response = requests.get(f"{emulator.url}/v1.0/me/calendars/{calendar_id}/calendarView/delta",
                            headers={"Authorization": f"Bearer {credentials.access_token}"}, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_next_round_reports_only_additions_changes_and_removals(provider, credentials, calendar_id, emulator_state):
    kept = emulator_state.add_event(calendar_id, timed(soon(1), "09:00", "10:00", subject="Kept"))
    changed = emulator_state.add_event(calendar_id, timed(soon(2), "09:00", "10:00", subject="Before"))
    deleted = emulator_state.add_event(calendar_id, timed(soon(3), "09:00", "10:00", subject="Deleted"))
    moved_away = emulator_state.add_event(calendar_id, timed(soon(4), "09:00", "10:00", subject="Moved away"))
    *_, sync_token = full_round(provider, credentials, calendar_id)

    added = emulator_state.add_event(calendar_id, timed(soon(5), "11:00", "12:00", subject="Added"))
    emulator_state.update_event(changed, {"subject": "After"})
    emulator_state.delete_event(deleted)
    emulator_state.update_event(moved_away, timed(soon(1000), "09:00", "10:00"))
    events, removed, _, next_token = full_round(provider, credentials, calendar_id, sync_token)

    assert {e.provider_event_id: e.title for e in events} == {added: "Added", changed: "After"}
    assert sorted(removed) == sorted([deleted, moved_away]) and kept not in removed
    assert next_token and next_token != sync_token
    assert full_round(provider, credentials, calendar_id, next_token)[:2] == ([], [])


@pytest.mark.parametrize(("code", "with_location"), [("SyncStateNotFound", False), ("resyncRequired", False),
                                                     ("SyncStateNotFound", True)])
def test_stale_delta_link_raises_sync_token_expired(provider, credentials, calendar_id, emulator_state, code,
                                                    with_location):
    emulator_state.add_event(calendar_id, timed(soon(), "09:00", "10:00"))
    *_, sync_token = full_round(provider, credentials, calendar_id)
    emulator_state.expire_delta_tokens(calendar_id, code, with_location)

    with pytest.raises(SyncTokenExpired) as caught:
        provider.fetch_changes(credentials, calendar_id, sync_token, None)
    assert caught.value.status == 410 and code in str(caught.value)


def test_recurring_series_arrives_as_occurrences_and_exceptions(provider, credentials, calendar_id, emulator_state):
    monday = soon(7) - timedelta(days=soon(7).weekday())
    series = emulator_state.add_event(calendar_id, timed(monday, "09:30", "09:45", subject="Standup", recurrence={
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": monday.isoformat(), "numberOfOccurrences": 4}}))
    second = datetime.combine(monday + timedelta(days=7), datetime.min.time()).replace(hour=9, minute=30)
    emulator_state.update_event(emulator_state.occurrence_id(series, second), {"subject": "Standup (moved room)"})

    events, *_ = full_round(provider, credentials, calendar_id)

    assert len(events) == 4 and series not in {e.provider_event_id for e in events}
    assert {e.metadata["seriesMasterId"] for e in events} == {series}
    assert sorted(e.metadata["type"] for e in events) == ["exception", "occurrence", "occurrence", "occurrence"]
    assert all(e.recurrence_rule is None and e.parent_provider_event_id is None for e in events)
    assert len({e.provider_event_id for e in events}) == 4
    assert [e.start_time.date() for e in sorted(events, key=lambda e: e.start_time)] == [
        monday + timedelta(days=7 * week) for week in range(4)]


def test_deleting_one_occurrence_removes_only_that_occurrence(provider, credentials, calendar_id, emulator_state):
    monday = soon(7) - timedelta(days=soon(7).weekday())
    emulator_state.add_event(calendar_id, timed(monday, "09:30", "09:45", recurrence={
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": monday.isoformat(), "numberOfOccurrences": 3}}))
    events, _, _, sync_token = full_round(provider, credentials, calendar_id)
    middle = sorted(events, key=lambda e: e.start_time)[1]

    provider.delete_event(credentials, calendar_id, middle.provider_event_id, middle.etag)
    changed, removed, _, _ = full_round(provider, credentials, calendar_id, sync_token)

    assert (changed, removed) == ([], [middle.provider_event_id])


def test_windows_zone_maps_to_iana_and_times_arrive_in_utc(provider, credentials, calendar_id, emulator_state):
    next_year = datetime.now(UTC).year + 1
    summer = emulator_state.add_event(calendar_id, timed(date(next_year, 7, 1), "09:00", "10:30"))
    winter = emulator_state.add_event(calendar_id, timed(date(next_year, 1, 15), "09:00", "10:30"))

    events = {e.provider_event_id: e for e in full_round(provider, credentials, calendar_id)[0]}

    assert events[summer].timezone == "Europe/Berlin"
    assert events[summer].start_time == datetime(next_year, 7, 1, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert events[summer].end_time == datetime(next_year, 7, 1, 8, 30, tzinfo=UTC)
    assert events[winter].start_time == datetime(next_year, 1, 15, 8, 0, tzinfo=UTC)  # CET, UTC+1


def test_all_day_event_is_midnight_utc_with_an_exclusive_end(provider, credentials, calendar_id, emulator_state):
    first = soon(10)
    offsite = emulator_state.add_event(calendar_id, {
        "subject": "Offsite", "isAllDay": True,
        "start": {"dateTime": f"{first}T00:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": f"{first + timedelta(days=2)}T00:00:00", "timeZone": "Pacific Standard Time"}})

    (event,) = [e for e in full_round(provider, credentials, calendar_id)[0] if e.provider_event_id == offsite]

    assert event.is_all_day and event.timezone == "America/Los_Angeles"
    assert event.start_time == datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    assert event.end_time == datetime.combine(first + timedelta(days=2), datetime.min.time(), tzinfo=UTC)


def test_event_fields_are_mapped(provider, credentials, calendar_id, emulator_state):
    attendee = {"type": "required", "status": {"response": "tentativelyAccepted"},
                "emailAddress": {"name": "Bo", "address": "bo@contoso.com"}}
    host = {"type": "required", "status": {"response": "organizer"}, "emailAddress": {"address": EMAIL}}
    review = emulator_state.add_event(calendar_id, timed(
        soon(), "15:00", "16:00", "Eastern Standard Time", subject="Review", showAs="tentative",
        body={"contentType": "html", "content": "<p>Agenda</p>"}, location={"displayName": "Room 1"},
        attendees=[attendee, host], reminderMinutesBeforeStart=10))
    cancelled = emulator_state.add_event(calendar_id, timed(soon(), "17:00", "18:00", isCancelled=True,
                                                            isReminderOn=False))

    events = {e.provider_event_id: e for e in full_round(provider, credentials, calendar_id)[0]}

    event = events[review]
    assert (event.title, event.status, event.location) == ("Review", "TENTATIVE", "Room 1")
    assert event.description == "<p>Agenda</p>" and event.metadata["bodyContentType"] == "html"
    assert event.timezone == "America/New_York"
    assert event.attendees == [
        {"email": "bo@contoso.com", "name": "Bo", "responseStatus": "tentative", "organizer": False},
        {"email": EMAIL, "name": None, "responseStatus": "accepted", "organizer": True}]
    assert event.reminders == [{"method": "popup", "minutes": 10}]
    assert event.html_link.startswith("https://") and event.etag.startswith('W/"')
    assert event.ical_uid and event.metadata["type"] == "singleInstance"
    assert events[cancelled].status == "CANCELLED" and events[cancelled].reminders == []


def test_sample_state_delta_covers_series_all_day_and_windows_zones(emulator, provider):
    emulator.server.app = create_microsoft_emulator(sample_microsoft_state())
    query = authorize(provider, login_hint=DEFAULT_ACCOUNT)
    token = provider.exchange_code(code=query["code"], code_verifier=query["verifier"], redirect_uri=REDIRECT_URI)
    credentials = Credentials(access_token=token.access_token)
    calendars = provider.list_calendars(credentials)
    default = next(c for c in calendars if c.is_primary)

    events = full_round(provider, credentials, default.calendar_id)[0]

    assert sorted(c.name for c in calendars) == ["Calendar", "Team"]
    kinds = {e.metadata["type"] for e in events}
    assert {"occurrence", "exception", "singleInstance"} <= kinds
    assert any(e.is_all_day for e in events)
    assert any(e.status == "CANCELLED" and e.metadata["type"] == "exception" for e in events)
    assert {"Europe/Berlin", "America/Los_Angeles", "Europe/London"} <= {e.timezone for e in events}


def test_replayed_items_count_once_and_foreign_zones_are_converted(provider, credentials, calendar_id,
                                                                    emulator_state):
    # A scripted page: Graph may replay an id within a page, and may answer in a zone other than the one we asked.
    pacific = {"dateTime": "2030-03-01T09:00:00.0000000", "timeZone": "Pacific Standard Time"}
    item = {"id": "e1", "subject": "Call", "start": pacific, "end": pacific | {"dateTime": "2030-03-01T09:30:00"},
            "originalStartTimeZone": "Pacific Standard Time"}
    page = {"value": [item, item | {"subject": "Renamed"}, {"id": "e2", "subject": "Gone", "start": pacific,
                                                            "end": pacific},
                      {"id": "e2", "@removed": {"reason": "deleted"}}],
            "@odata.deltaLink": f"{provider.graph_url}/me/calendars/x/calendarView/delta?$deltatoken=t"}
    emulator_state.fail_next("/v1.0/me/calendars/", 200, body=page)

    result = provider.fetch_changes(credentials, calendar_id, None, None)

    assert [(e.provider_event_id, e.title) for e in result.events] == [("e1", "Renamed")]
    assert result.removed_ids == ["e2"]
    assert result.events[0].start_time == datetime(2030, 3, 1, 17, 0, tzinfo=UTC)  # PST, UTC-8


# -- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "retry_after"), [(429, {"Retry-After": "7"}, 7.0), (503, {}, None),
                                                                (504, {}, None)])
def test_throttling_and_outages_are_rate_limited(provider, credentials, emulator_state, status, headers,
                                                 retry_after):
    emulator_state.fail_next("/v1.0/me/calendars", status, headers=headers)

    with pytest.raises(RateLimited) as caught:
        provider.list_calendars(credentials)
    assert caught.value.retry_after == retry_after and caught.value.status == status
    assert provider.list_calendars(credentials)  # the fault was one-shot


def test_expired_access_token_is_auth_rejected(provider, credentials, emulator_state):
    emulator_state.expire_access_tokens()

    with pytest.raises(AuthRejected) as caught:
        provider.list_calendars(credentials)
    assert caught.value.status == 401 and "InvalidAuthenticationToken" in str(caught.value)


def test_network_failure_is_provider_unreachable(tokens):
    with socket.socket() as probe:  # a port that was free a moment ago has nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    provider = MicrosoftProvider(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, authority=f"{closed}/common",
                                 graph_url=f"{closed}/v1.0", timeout=2)

    with pytest.raises(ProviderUnreachable):
        provider.list_calendars(Credentials(access_token=tokens.access_token))
    with pytest.raises(ProviderUnreachable):
        provider.refresh(tokens.refresh_token)


def test_links_to_other_hosts_are_not_followed(provider, credentials, calendar_id):
    with pytest.raises(ProviderError, match="outside the configured Graph host"):
        provider.fetch_changes(credentials, calendar_id, None, "https://attacker.example/v1.0/me/calendarView/delta")


# -- writes --------------------------------------------------------------------------------------------------------


def local_event(local_id: str = "local-42", **fields) -> RemoteEvent:
    start = datetime.combine(soon(4), datetime.min.time(), tzinfo=UTC).replace(hour=8)
    return RemoteEvent(**{"provider_event_id": local_id, "title": "Planning", "start_time": start,
                          "end_time": start + timedelta(hours=1), "timezone": "Europe/Berlin"} | fields)


def test_creating_twice_with_the_same_local_id_makes_one_event(provider, credentials, calendar_id, emulator_state):
    first = provider.create_event(credentials, calendar_id, local_event())
    retried = provider.create_event(credentials, calendar_id, local_event())
    other = provider.create_event(credentials, calendar_id, local_event("local-43"))

    assert first.provider_event_id == retried.provider_event_id != other.provider_event_id
    assert len(emulator_state.list_events(calendar_id)) == 2
    stored = next(e for e in emulator_state.list_events(calendar_id) if e["id"] == first.provider_event_id)
    assert stored["originalStartTimeZone"] == "Europe/Berlin" and stored["subject"] == "Planning"
    assert first.start_time == local_event().start_time and first.timezone == "Europe/Berlin"


def test_created_all_day_and_recurring_events_come_back_through_delta(provider, credentials, calendar_id):
    day = datetime.combine(soon(20), datetime.min.time(), tzinfo=UTC)
    provider.create_event(credentials, calendar_id, local_event(
        "all-day", title="Holiday", is_all_day=True, start_time=day, end_time=day + timedelta(days=1)))
    created = provider.create_event(credentials, calendar_id, local_event(
        "series", title="Gym", recurrence_rule="RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"))

    events = full_round(provider, credentials, calendar_id)[0]

    holiday = next(e for e in events if e.title == "Holiday")
    assert holiday.is_all_day and (holiday.start_time, holiday.end_time) == (day, day + timedelta(days=1))
    gym = [e for e in events if e.title == "Gym"]
    assert len(gym) == 4 and {e.metadata["seriesMasterId"] for e in gym} == {created.provider_event_id}
    assert {e.start_time.astimezone(UTC).hour for e in gym} == {8}
    assert {e.start_time.weekday() for e in gym} == {0, 2}


def test_update_with_a_stale_etag_is_precondition_failed(provider, credentials, calendar_id):
    created = provider.create_event(credentials, calendar_id, local_event())
    created.title = "Renamed"
    updated = provider.update_event(credentials, calendar_id, created)
    assert updated.title == "Renamed" and updated.etag != created.etag

    created.title = "Lost update"
    with pytest.raises(PreconditionFailed):
        provider.update_event(credentials, calendar_id, created)  # still carries the first etag


def test_writes_url_encode_ids_with_slashes(provider, credentials, calendar_id, emulator_state):
    awkward = "AAMkAG/a+b=="
    emulator_state.add_event(calendar_id, timed(soon(), "09:00", "10:00", id=awkward, subject="Awkward"))
    event = local_event(awkward, title="Fine")

    assert provider.update_event(credentials, calendar_id, event).title == "Fine"
    provider.delete_event(credentials, calendar_id, awkward, None)
    assert emulator_state.list_events(calendar_id) == []


def test_the_emulator_rejects_ids_whose_slash_was_not_encoded(emulator, credentials, calendar_id, emulator_state):
    awkward = emulator_state.add_event(calendar_id, timed(soon(), "09:00", "10:00", id="AAMkAG/abc"))

    response = requests.get(f"{emulator.url}/v1.0/me/events/{awkward}", timeout=5,
                            headers={"Authorization": f"Bearer {credentials.access_token}"})

    assert response.status_code == 400 and response.json()["error"]["code"] == "ErrorInvalidIdMalformed"


def test_delete_honours_etag_and_treats_missing_events_as_deleted(provider, credentials, calendar_id,
                                                                  emulator_state):
    created = provider.create_event(credentials, calendar_id, local_event())
    with pytest.raises(PreconditionFailed):
        provider.delete_event(credentials, calendar_id, created.provider_event_id, 'W/"stale"')

    provider.delete_event(credentials, calendar_id, created.provider_event_id, created.etag)
    provider.delete_event(credentials, calendar_id, created.provider_event_id, None)

    assert emulator_state.list_events(calendar_id) == []


@pytest.mark.parametrize(("rule", "pattern", "range_type"), [
    ("RRULE:FREQ=DAILY;INTERVAL=2;COUNT=5", {"type": "daily", "interval": 2}, "numbered"),
    ("RRULE:FREQ=WEEKLY;BYDAY=MO,FR;UNTIL=20300105T225959Z",
     {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "friday"], "firstDayOfWeek": "monday"}, "endDate"),
    ("RRULE:FREQ=MONTHLY;BYDAY=-1FR", {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"],
                                       "index": "last"}, "noEnd"),
    ("RRULE:FREQ=YEARLY", {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 2, "month": 1}, "noEnd"),
])
def test_simple_rrules_translate_to_graph_recurrence(rule, pattern, range_type):
    recurrence = graph_recurrence(rule, datetime(2030, 1, 2, 9, 0), "Europe/Berlin")

    assert recurrence["pattern"] == pattern and recurrence["range"]["type"] == range_type
    assert recurrence["range"]["startDate"] == "2030-01-02"
    if range_type == "endDate":
        assert recurrence["range"]["endDate"] == "2030-01-05"  # 22:59:59Z is still the 5th in Berlin


@pytest.mark.parametrize("rule", ["RRULE:FREQ=HOURLY", "RRULE:FREQ=MONTHLY;BYSETPOS=1;BYDAY=MO",
                                  "RRULE:FREQ=WEEKLY\nEXDATE:20300107T090000Z", "RRULE:FREQ=MONTHLY;BYDAY=MO"])
def test_rrules_without_an_outlook_equivalent_are_refused(rule):
    with pytest.raises(UnsupportedRecurrence):
        graph_recurrence(rule, datetime(2030, 1, 2, 9, 0), "Europe/Berlin")


# -- Windows zones -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("windows", "iana"), [
    ("W. Europe Standard Time", "Europe/Berlin"), ("Pacific Standard Time", "America/Los_Angeles"),
    ("Eastern Standard Time", "America/New_York"), ("China Standard Time", "Asia/Shanghai"),
    ("India Standard Time", "Asia/Kolkata"), ("FLE Standard Time", "Europe/Kyiv"), ("UTC", "UTC"),
    ("Dateline Standard Time", "Etc/GMT+12"), ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Europe/Zurich", "Europe/Zurich"), ("tzone://Microsoft/Custom", None), ("Customized Time Zone", None),
    ("", None), (None, None),
])
def test_windows_to_iana(windows, iana):
    assert windows_to_iana(windows) == iana


def test_windows_table_covers_cldr_and_every_zone_exists():
    from zoneinfo import ZoneInfo

    assert len(WINDOWS_TO_IANA) >= 139
    for name in WINDOWS_TO_IANA.values():
        ZoneInfo(name)
    assert WINDOWS_TO_IANA["W. Europe Standard Time"] == "Europe/Berlin"
    # Current tzdb names, never the retired ones CLDR keeps.
    assert WINDOWS_TO_IANA["India Standard Time"] == "Asia/Kolkata"
    assert WINDOWS_TO_IANA["FLE Standard Time"] == "Europe/Kyiv"
