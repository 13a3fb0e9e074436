"""Microsoft push: a Graph subscription on each calendar's events, validated by the emulator against the app on
loopback before it exists; notifications and lifecycle events (reauthorizationRequired, subscriptionRemoved,
missed); renewal by PATCH taking Graph's answer as the expiry; deleted on disconnect."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.helpers import csrf_token_from
from webapp.extensions import db
from webapp.models import CalendarEvent

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


def outlook_event(subject: str, start: datetime = TOMORROW) -> dict:
    return {"subject": subject, "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}


def connected(pusher):
    client = pusher.client_for(pusher.user())
    email, (calendar,) = pusher.connect(client, "microsoft")
    pusher.work()
    return client, email, calendar


def titles(pusher, connection_id) -> set[str]:
    with pusher.app.app_context():
        return set(db.session.scalars(select(CalendarEvent.title).where(
            CalendarEvent.calendar_connection_id == connection_id, CalendarEvent.deleted_at.is_(None))))


def test_a_subscription_is_made_after_graph_validated_both_addresses(pusher):
    microsoft = pusher.providers.microsoft_state
    microsoft.set_push_policy(grant_minutes=90)  # Graph may grant less than asked: its answer is the expiry
    client, email, calendar = connected(pusher)

    (channel,) = pusher.channels()
    (subscription,) = [item for item in microsoft.subscriptions() if item["id"] == channel.channel_id]
    assert subscription["notificationUrl"] == f"{pusher.server.url}/webhooks/microsoft"
    assert subscription["lifecycleNotificationUrl"] == f"{pusher.server.url}/webhooks/microsoft/lifecycle"
    assert subscription["changeType"] == "created,deleted,updated"
    assert subscription["resource"].endswith("/events")
    assert timedelta(minutes=89) < channel.expires_at - datetime.now(UTC) <= timedelta(minutes=90)
    assert channel.connection_id == calendar and channel.token_hash != subscription["clientState"]


def test_a_change_in_outlook_is_answered_202_and_synced_by_the_worker(pusher):
    client, email, calendar = connected(pusher)
    microsoft = pusher.providers.microsoft_state
    microsoft.add_event(microsoft.default_calendar_id(email), outlook_event("Pushed from Outlook"))
    assert microsoft.wait_for_deliveries()

    (delivery,) = [item for item in microsoft.deliveries.log if item.url.endswith("/webhooks/microsoft")][-1:]
    assert delivery.outcome == [202]
    (job_id,) = pusher.queue("live").job_ids
    assert job_id.startswith(f"sync-notified-{calendar}-")
    pusher.work("live")
    assert titles(pusher, calendar) == {"Pushed from Outlook"}


def test_lifecycle_events_renew_recreate_and_resync(pusher):
    client, email, calendar = connected(pusher)
    microsoft = pusher.providers.microsoft_state
    (channel,) = pusher.channels()

    microsoft.send_lifecycle(channel.channel_id, "reauthorizationRequired")
    assert microsoft.wait_for_deliveries()
    assert pusher.queue("default").job_ids == [f"watch-renew-{channel.id}"]
    pusher.work("default")
    (renewed,) = pusher.channels()
    assert renewed.channel_id == channel.channel_id and renewed.renewed_at is not None

    microsoft.lose_notifications(True)
    microsoft.add_event(microsoft.default_calendar_id(email), outlook_event("Missed while away"))
    microsoft.lose_notifications(False)
    assert pusher.queue("live").job_ids == []
    microsoft.send_lifecycle(channel.channel_id, "missed")
    assert microsoft.wait_for_deliveries()
    assert len(pusher.queue("live").job_ids) == 1
    pusher.work("live")
    assert titles(pusher, calendar) == {"Missed while away"}

    microsoft.remove_subscription(channel.channel_id)
    assert microsoft.wait_for_deliveries()
    assert pusher.queue("default").job_ids == [f"watch-recreate-{channel.id}"]
    pusher.work("default")
    (again,) = pusher.channels()
    assert again.channel_id != channel.channel_id
    assert again.channel_id in {item["id"] for item in microsoft.subscriptions()}


def test_renewal_patches_before_expiry_and_keeps_the_answer_and_a_lost_subscription_is_made_anew(pusher):
    from webapp.sync import watch

    microsoft = pusher.providers.microsoft_state
    client, email, calendar = connected(pusher)
    (channel,) = pusher.channels()
    settings = watch.WatchSettings.of(pusher.app.config)
    lifetime = channel.expires_at - channel.created_at
    microsoft.set_push_policy(grant_minutes=120)
    with pusher.app.app_context():
        assert watch.due_work(db.session, settings, now=channel.created_at + lifetime * 0.5).renewals == []
        later = channel.created_at + lifetime * 0.7
        assert watch.due_work(db.session, settings, now=later).renewals == [channel.id]
        assert watch.renew(db.session, channel.id, settings, now=datetime.now(UTC)) == "renewed"
    (renewed,) = pusher.channels()
    assert timedelta(minutes=119) < renewed.expires_at - datetime.now(UTC) <= timedelta(minutes=120)

    microsoft.forget_subscriptions()  # it ran out at Graph
    with pusher.app.app_context():
        assert watch.renew(db.session, channel.id, settings) == "started"
    (fresh,) = pusher.channels()
    assert fresh.id != channel.id and fresh.channel_id in {item["id"] for item in microsoft.subscriptions()}


def test_disconnect_deletes_the_subscription(pusher):
    client, email, calendar = connected(pusher)
    microsoft = pusher.providers.microsoft_state
    (channel,) = pusher.channels()
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    client.post(f"/connections/{calendar}/disconnect", data={"csrf_token": token})
    pusher.work("default")
    assert channel.channel_id not in {item["id"] for item in microsoft.subscriptions()}
    assert pusher.channels() == []


def test_an_http_address_is_refused_and_the_calendar_says_so(pusher):
    microsoft = pusher.providers.microsoft_state
    microsoft.set_push_policy(require_https=True)
    client, email, calendar = connected(pusher)
    assert pusher.channels() == []
    assert pusher.connection(calendar).watch_unavailable_reason == (
        f"Microsoft sends notifications only to an https:// address, and {pusher.server.url}/webhooks/microsoft "
        "is not one.")


def test_an_address_that_does_not_answer_the_validation_is_refused(pusher, monkeypatch):
    monkeypatch.setitem(pusher.app.config, "PUBLIC_URL", f"{pusher.server.url}/nowhere")
    client, email, calendar = connected(pusher)
    assert pusher.channels() == []
    assert "could not validate" in pusher.connection(calendar).watch_unavailable_reason
