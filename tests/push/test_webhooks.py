"""The webhooks as a provider (or a forger) meets them: each notification must name a channel we made and carry
its secret; only then is a sync owed, coalesced in Redis; the request writes nothing else, sets no cookie, and a
source of bad notifications is refused before any lookup. Graph's validation handshake is echoed as plain text."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from rq import Queue
from sqlalchemy import func, select

from tests.factories import make_channel, make_connection
from webapp.models import AuditLog, CalendarProvider, WatchChannel, WatchKind

GOOGLE_SECRET = "the-channel-secret"


def google_headers(channel, token=GOOGLE_SECRET, state="exists", number=7):
    return {"X-Goog-Channel-ID": channel.channel_id, "X-Goog-Channel-Token": token, "X-Goog-Resource-State": state,
            "X-Goog-Resource-ID": channel.resource_id, "X-Goog-Message-Number": str(number),
            "User-Agent": "APIs-Google"}


def live_jobs(redis) -> list[str]:
    return Queue("live", connection=redis).job_ids


def plain(channel) -> SimpleNamespace:
    """What the tests need of a channel, read now: each request ends the session the row was loaded in."""
    return SimpleNamespace(id=channel.id, channel_id=channel.channel_id, resource_id=channel.resource_id,
                           connection_id=channel.connection_id)


@pytest.fixture
def google_channel(db_session, user):
    return plain(make_channel(db_session, make_connection(db_session, user, account_email="ada@gmail.com")))


@pytest.fixture
def graph_channel(db_session, user):
    calendar = make_connection(db_session, user, provider=CalendarProvider.MICROSOFT, account_email="ada@outlook.com")
    return plain(make_channel(db_session, calendar, token="graph-client-state", resource_id=None))


def graph_item(channel, client_state="graph-client-state", **extra):
    return {"subscriptionId": channel.channel_id, "clientState": client_state, "changeType": "updated",
            "resource": "Users/x/Events/y", "resourceData": {"id": "y"}, "tenantId": "t", **extra}


def test_an_exists_notification_owes_one_sync_and_writes_nothing(client, db_session, redis, google_channel):
    audit_rows = db_session.scalar(select(func.count()).select_from(AuditLog))
    response = client.post("/webhooks/google", headers=google_headers(google_channel))

    assert response.status_code == 200 and response.get_data() == b""
    assert "Set-Cookie" not in response.headers
    (job_id,) = live_jobs(redis)
    assert job_id.startswith(f"sync-notified-{google_channel.connection_id}-")
    assert db_session.scalar(select(func.count()).select_from(AuditLog)) == audit_rows


def test_duplicates_and_bursts_are_coalesced_into_the_waiting_sync(client, redis, google_channel):
    for number in range(100):
        assert client.post("/webhooks/google", headers=google_headers(google_channel, number=number)).status_code == 200
    assert len(live_jobs(redis)) == 1


def test_the_first_sync_message_asks_for_nothing(client, redis, google_channel):
    response = client.post("/webhooks/google", headers=google_headers(google_channel, state="sync", number=1))
    assert response.status_code == 200 and live_jobs(redis) == []


@pytest.mark.parametrize(("change", "status"), [
    ({"X-Goog-Channel-ID": "no-such-channel"}, 404),
    ({"X-Goog-Channel-Token": "a-guess"}, 403),
    ({"X-Goog-Channel-Token": None}, 403),
    ({"X-Goog-Channel-ID": None}, 400),
])
def test_unknown_or_forged_google_notifications_queue_nothing(client, redis, google_channel, change, status):
    headers = {**google_headers(google_channel), **change}
    response = client.post("/webhooks/google", headers={k: v for k, v in headers.items() if v is not None})
    assert response.status_code == status and live_jobs(redis) == []


def test_a_calendar_list_notification_queues_one_look_at_the_account(client, db_session, redis, user):
    calendar = make_connection(db_session, user, account_email="ada@gmail.com")
    channel = plain(make_channel(db_session, calendar, kind=WatchKind.CALENDAR_LIST, connection_id=None))
    for number in range(5):
        client.post("/webhooks/google", headers=google_headers(channel, number=number))
    assert Queue("default", connection=redis).job_ids == [f"watch-list-{channel.id}"]
    assert live_jobs(redis) == []


def test_a_source_of_bad_notifications_is_refused_before_any_lookup(client, redis, google_channel):
    forged = {**google_headers(google_channel), "X-Goog-Channel-ID": "made-up"}
    statuses = [client.post("/webhooks/google", headers=forged).status_code for _ in range(61)]
    assert statuses[:60] == [404] * 60 and statuses[60] == 429
    # Refused whatever it sends now, even a real notification; another address is not affected.
    assert client.post("/webhooks/google", headers=google_headers(google_channel)).status_code == 429
    other = client.post("/webhooks/google", headers=google_headers(google_channel),
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200 and len(live_jobs(redis)) == 1


def test_bodies_are_capped(client, google_channel, graph_channel):
    assert client.post("/webhooks/google", headers=google_headers(google_channel), data=b"x" * 5000).status_code == 413
    huge = json.dumps({"value": [graph_item(graph_channel, padding="x" * 300_000)]})
    response = client.post("/webhooks/microsoft", data=huge, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/webhooks/microsoft", "/webhooks/microsoft/lifecycle"])
def test_the_validation_handshake_echoes_the_token_as_plain_text(client, redis, path):
    token = "Validation: Testing client application reachability for subscription Request-Id: 5f1f-…"
    response = client.post(path, query_string={"validationToken": token}, content_type="text/plain")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == token
    assert "Set-Cookie" not in response.headers
    assert client.post(path, query_string={"validationToken": "x" * 2000}).status_code == 400


def test_graph_notifications_are_answered_202_and_each_item_must_carry_its_client_state(client, redis, graph_channel):
    def post(*items):
        return client.post("/webhooks/microsoft", data=json.dumps({"value": list(items)}),
                           content_type="application/json")

    assert post(graph_item(graph_channel, client_state="wrong")).status_code == 403
    assert post({**graph_item(graph_channel), "subscriptionId": "unknown"}).status_code == 404
    assert live_jobs(redis) == []
    # A batch: the forged item is dropped, the genuine one counts.
    assert post(graph_item(graph_channel, client_state="wrong"), graph_item(graph_channel)).status_code == 202
    assert len(live_jobs(redis)) == 1
    assert client.post("/webhooks/microsoft", data="not json", content_type="application/json").status_code == 400


def test_lifecycle_events_queue_their_jobs(client, redis, graph_channel):
    def lifecycle(event):
        item = graph_item(graph_channel, lifecycleEvent=event)
        return client.post("/webhooks/microsoft/lifecycle", data=json.dumps({"value": [item]}),
                           content_type="application/json")

    assert lifecycle("reauthorizationRequired").status_code == 202
    assert lifecycle("subscriptionRemoved").status_code == 202
    assert Queue("default", connection=redis).job_ids == [f"watch-renew-{graph_channel.id}",
                                                           f"watch-recreate-{graph_channel.id}"]
    assert lifecycle("missed").status_code == 202
    assert len(live_jobs(redis)) == 1


def test_a_channel_being_stopped_still_proves_itself_but_owes_nothing(client, db_session, redis, google_channel):
    db_session.execute(WatchChannel.__table__.update().values(connection_id=None, stop_requested_at=func.now()))
    db_session.commit()
    assert client.post("/webhooks/google", headers=google_headers(google_channel)).status_code == 200
    assert live_jobs(redis) == []
