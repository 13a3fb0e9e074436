"""Subscribe by URL against a local feed server serving the corpus in sandbox/feeds/: the form, the first refresh,
304s that change nothing, a feed that changes, one that breaks (its last good copy stays, the reason shows), one
that redirects to an address inside the network (refused), time-zone quirks, the size cap, gzip, the refresh
period, and read-only refusals."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sandbox.feed_server import CORPUS, FeedServer
from sandbox.serve import serve_in_thread
from tests.helpers import audit_rows, csrf_token_from, live_events
from webapp.models import CalendarConnection, CalendarProvider, CalendarSubscription
from webapp.providers.ics import FeedError, IcsProvider, feed_url
from webapp.sync.due import due_connections


@pytest.fixture
def feeds():
    app = FeedServer()
    server = serve_in_thread(app)
    app.url = server.url
    yield app
    server.stop()


def subscribe(client, url: str, **fields):
    token = csrf_token_from(client.get("/connections/subscribe").get_data(as_text=True))
    return client.post("/connections/subscribe", data={"url": url, "refresh_minutes": "30", "csrf_token": token,
                                                      **fields})


def subscription_of(db_session, user) -> CalendarConnection:
    return db_session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id, CalendarConnection.provider == CalendarProvider.ICS,
        CalendarConnection.deleted_at.is_(None))).one()


@pytest.fixture
def subscribed(client, db_session, user, login, feeds, run_sync, redis):
    """The sample holidays feed, subscribed through the form and refreshed once (here, not by a worker: the job the
    form queued is dropped, or the page would show it as syncing)."""
    login(user)
    feeds.put_corpus("/holidays.ics", "holidays.ics")
    response = subscribe(client, feeds.url + "/holidays.ics")
    assert response.status_code == 302, response.get_data(as_text=True)
    connection = subscription_of(db_session, user)
    redis.flushdb()
    run_sync(connection.id)
    return connection


def test_subscribing_names_colours_and_fills_a_read_only_calendar(subscribed, db_session, feeds):
    db_session.refresh(subscribed)
    assert (subscribed.calendar_name, subscribed.calendar_color) == ("Public holidays", "#e6c800")
    assert (subscribed.can_write, subscribed.access_token, subscribed.refresh_token) == (False, None, None)
    assert subscribed.calendar_id == feeds.url + "/holidays.ics"
    assert sorted(event.title for event in live_events(db_session, subscribed)) == [
        "Christmas", "Labour Day", "New Year's Day"]
    stored = db_session.get(CalendarSubscription, subscribed.id)
    assert stored.etag == feeds.routes["/holidays.ics"].etag and stored.refresh_minutes == 30
    assert stored.content_sha256 and stored.last_status == 200


def test_an_unchanged_feed_costs_a_304_and_changes_nothing(subscribed, db_session, feeds, run_sync):
    before = {event.id: event.updated_at for event in live_events(db_session, subscribed)}
    served = feeds.requests

    run_sync(subscribed.id)

    assert (feeds.requests - served, feeds.not_modified) == (1, 1)
    db_session.expire_all()
    assert {event.id: event.updated_at for event in live_events(db_session, subscribed)} == before
    assert db_session.get(CalendarConnection, subscribed.id).sync_failures == 0


def test_a_feed_that_changes_brings_its_changes_and_removals(subscribed, db_session, feeds, run_sync):
    body = (CORPUS / "holidays.ics").read_bytes()
    start = body.index(b"BEGIN:VEVENT\r\nUID:christmas")
    end = body.index(b"END:VEVENT\r\n", start) + len(b"END:VEVENT\r\n")
    feeds.put("/holidays.ics", (body[:start] + body[end:]).replace(b"Labour Day", b"May Day"))

    run_sync(subscribed.id)

    db_session.expire_all()
    assert sorted(event.title for event in live_events(db_session, subscribed)) == ["May Day", "New Year's Day"]


@pytest.mark.parametrize("breakage", ["html", "500", "404", "garbage"])
def test_a_broken_feed_keeps_its_last_good_copy_and_says_why(subscribed, client, db_session, feeds, run_sync,
                                                            breakage):
    if breakage == "html":
        feeds.put_corpus("/holidays.ics", "broken.html", content_type="text/html")
    elif breakage == "garbage":
        feeds.put("/holidays.ics", b"BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n")
    else:
        feeds.put("/holidays.ics", b"oops", status=int(breakage))

    with pytest.raises(Exception):  # noqa: B017 - the job raises so RQ records it; what it leaves is checked below
        run_sync(subscribed.id)

    db_session.expire_all()
    assert len(live_events(db_session, subscribed)) == 3
    connection = db_session.get(CalendarConnection, subscribed.id)
    expected = {"html": "does not serve an iCalendar feed", "garbage": "does not serve an iCalendar feed",
                "500": "temporary problem (HTTP 500)", "404": "answered HTTP 404"}[breakage]
    assert expected in connection.last_sync_error
    page = client.get("/connections/").get_data(as_text=True)
    assert expected in page, page[page.find('class="status"'):][:600]
    assert audit_rows(db_session, "EVENT_SYNC_FAILURE")


def test_a_redirect_to_an_address_inside_the_network_is_refused(subscribed, db_session, feeds, run_sync):
    feeds.routes["/holidays.ics"].location = "http://169.254.169.254/latest/meta-data/"
    feeds.routes["/holidays.ics"].validators = False

    with pytest.raises(Exception):  # noqa: B017
        run_sync(subscribed.id)

    db_session.expire_all()
    connection = db_session.get(CalendarConnection, subscribed.id)
    assert "169.254.169.254 is a link-local address" in connection.last_sync_error
    assert len(live_events(db_session, subscribed)) == 3


def test_the_form_refuses_inside_addresses_when_the_operator_has_not_allowed_them(
        app, client, db_session, user, login, feeds, monkeypatch):
    monkeypatch.setitem(app.config["PROVIDERS"], "allow_private_sources", False)
    login(user)
    feeds.put_corpus("/holidays.ics", "holidays.ics")

    response = subscribe(client, feeds.url + "/holidays.ics")

    assert response.status_code == 422
    assert "127.0.0.1 is a loopback address; Almanac does not fetch from there." in response.get_data(as_text=True)
    assert feeds.requests == 0
    assert db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).all() == []
    (row,) = audit_rows(db_session, "SUBSCRIPTION_CREATE")
    assert row.error_message == "address_refused"


def test_time_zone_quirks_read_as_the_caldav_path_reads_them(client, db_session, user, login, feeds, run_sync):
    login(user)
    feeds.put_corpus("/fixtures.ics", "fixtures.ics")
    feeds.put_corpus("/rota.ics", "outlook-rota.ics")
    subscribe(client, feeds.url + "/fixtures.ics")
    subscribe(client, feeds.url + "/rota.ics", name="On call")
    rows = {row.calendar_name: row for row in db_session.scalars(select(CalendarConnection).where(
        CalendarConnection.user_id == user.id))}
    for row in rows.values():
        run_sync(row.id)

    fixtures = {event.title: event for event in live_events(db_session, rows["Lisbon FC fixtures"])}
    # Floating times follow X-WR-TIMEZONE: 20:00 in Lisbon in winter is 20:00 UTC, in summer 18:00 UTC.
    assert fixtures["Lisbon FC v Porto"].start_time == datetime(2026, 12, 12, 20, tzinfo=UTC)
    assert fixtures["Summer friendly"].start_time == datetime(2026, 7, 10, 18, tzinfo=UTC)
    assert fixtures["Braga v Lisbon FC (no UID)"].timezone == "Europe/Lisbon"
    rota = {event.title: event for event in live_events(db_session, rows["On call"])}
    assert rota["On call hand-over"].timezone == "Europe/Berlin"  # a Windows zone name
    assert rota["On call hand-over"].start_time == datetime(2026, 12, 7, 8, tzinfo=UTC)
    assert rota["On call hand-over (late)"].start_time == datetime(2026, 12, 14, 10, tzinfo=UTC)


def test_size_cap_and_gzip(feeds):
    feeds.put("/big.ics", b"BEGIN:VCALENDAR\r\n" + b"X-FILLER:" + b"x" * 70 + b"\r\n" * 1 + (
        b"X-FILLER:" + b"y" * 70 + b"\r\n") * 20_000 + b"END:VCALENDAR\r\n")
    feeds.put_corpus("/holidays.ics", "holidays.ics")
    from webapp.providers.guard import GuardSettings

    with IcsProvider(guard=GuardSettings(allow_private=True), max_bytes=1024 * 1024) as provider:
        with pytest.raises(FeedError, match="larger than 1 MB"):
            provider.fetch(feeds.url + "/big.ics")
        copy = provider.fetch(feeds.url + "/holidays.ics")
    assert copy.contents.name == "Public holidays"
    assert copy.bytes_moved < len((CORPUS / "holidays.ics").read_bytes())  # it came gzipped


def test_webcal_means_https_and_credentials_in_the_address_are_refused():
    assert feed_url("webcal://example.org/cal.ics") == "https://example.org/cal.ics"
    assert feed_url("http://example.org/cal.ics") == "http://example.org/cal.ics"
    with pytest.raises(FeedError):
        feed_url("https://user:secret@example.org/cal.ics")
    with pytest.raises(FeedError):
        feed_url("ftp://example.org/cal.ics")


def test_each_feed_is_due_after_its_own_refresh_period(subscribed, db_session):
    now = datetime.now(UTC)
    assert subscribed.id not in due_connections(db_session, now + timedelta(minutes=29))
    assert subscribed.id in due_connections(db_session, now + timedelta(minutes=31))
    db_session.get(CalendarSubscription, subscribed.id).refresh_minutes = 180
    db_session.flush()
    assert subscribed.id not in due_connections(db_session, now + timedelta(minutes=31))


def test_events_of_a_feed_show_a_lock_and_refuse_changes(subscribed, client, db_session):
    event = live_events(db_session, subscribed)[0]

    panel = client.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    refused = client.post(f"/calendar/events/{event.id}/delete", data={
        "csrf_token": csrf_token_from(panel), "scope": "this"})

    assert "is a subscribed feed: its events come from the feed" in panel
    assert refused.status_code == 403
    week = client.get(f"/calendar/week/{event.start_time.date().isoformat()}").get_data(as_text=True)
    assert "lock-mark" in week and ", read-only" in week


def test_renaming_and_the_refresh_period_are_the_users(subscribed, client, db_session):
    page = client.get("/connections/").get_data(as_text=True)
    response = client.post(f"/connections/{subscribed.id}/subscription", data={
        "name": "Holidays (DE)", "refresh_minutes": "720", "csrf_token": csrf_token_from(page)},
        headers={"HX-Request": "true"})

    assert response.status_code == 200 and "Holidays (DE)" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(CalendarConnection, subscribed.id).calendar_name == "Holidays (DE)"
    assert db_session.get(CalendarSubscription, subscribed.id).refresh_minutes == 720
