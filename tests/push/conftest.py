"""Push notifications end to end: the app served on loopback (the emulators POST their notifications and Graph its
validation requests to it), real commits, calendars connected through the real OAuth flow, and the jobs run here
by a real RQ worker on the test app."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from tests.factories import PASSWORD, make_user, new_google_account, new_microsoft_account
from tests.helpers import authorize, csrf_token_from, start_connect
from webapp.extensions import db
from webapp.models import CalendarConnection, WatchChannel


@dataclass
class Pusher:
    app: object
    server: object
    redis: object
    providers: object

    def user(self, email: str | None = None, **values):
        with self.app.app_context():
            user = make_user(db.session, email=email or f"push-{uuid.uuid4().hex[:8]}@example.com", **values)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    def client_for(self, user):
        client = self.app.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    def connect(self, client, provider: str = "google", calendars=None) -> tuple[str, list[uuid.UUID]]:
        """Connect a fresh provider account through the OAuth flow; (account email, calendar ids)."""
        if provider == "google":
            email = new_google_account(self.providers, calendars) if calendars else new_google_account(self.providers)
        else:
            email = new_microsoft_account(self.providers)
        response = client.get(authorize(start_connect(client, provider), email))
        assert response.status_code == 302, response.get_data(as_text=True)
        with self.app.app_context():
            ids = list(db.session.scalars(select(CalendarConnection.id).where(
                CalendarConnection.account_email == email).order_by(CalendarConnection.is_primary.desc(),
                                                                    CalendarConnection.calendar_name)))
        return email, ids

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.redis)

    def work(self, *names: str) -> None:
        """Run what waits on these queues with a real worker in this process, until they are empty."""
        queues = [self.queue(name) for name in names or ("live", "sync", "default")]
        SimpleWorker(queues, connection=self.redis).work(burst=True)
        for queue in queues:
            failed = queue.failed_job_registry
            assert failed.count == 0, queue.fetch_job(failed.get_job_ids()[0]).latest_result().exc_string

    def channels(self, **where) -> list[WatchChannel]:
        with self.app.app_context():
            query = select(WatchChannel).order_by(WatchChannel.created_at)
            for name, value in where.items():
                query = query.where(getattr(WatchChannel, name) == value)
            rows = list(db.session.scalars(query))
            db.session.expunge_all()
            return rows

    def connection(self, connection_id) -> CalendarConnection:
        with self.app.app_context():
            row = db.session.get(CalendarConnection, connection_id)
            db.session.expunge_all()
            return row


@pytest.fixture
def pusher(app, live_server, redis, provider_servers, monkeypatch):
    import jobs.sync
    import jobs.watch

    monkeypatch.setitem(app.config, "PUSH_NOTIFICATIONS", True)
    monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
    monkeypatch.setattr(jobs.watch, "job_app", lambda: app)
    google, microsoft = provider_servers.google_state, provider_servers.microsoft_state
    yield Pusher(app, live_server, redis, provider_servers)
    google.forget_channels()
    microsoft.forget_subscriptions()
    for state in (google, microsoft):
        state.wait_for_deliveries(30)
        state.lose_notifications(False)
        state.set_push_policy(require_https=False)
    google.set_push_policy(channel_max_ttl=604_800)
    microsoft.set_push_policy(max_minutes=10_070, grant_minutes=None)
