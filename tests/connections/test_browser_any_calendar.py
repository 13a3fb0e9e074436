"""A new user in Chromium adds another CalDAV account and an ICS subscription, at a desktop's and a phone's width,
in the forms a sandbox offers (its CalDAV server and sample feed), and sees the feed's events with a lock."""
from __future__ import annotations

import pytest
from rq import Queue, SimpleWorker

from sandbox.feed_server import FeedServer
from sandbox.serve import serve_in_thread
from tests.factories import make_user
from tests.helpers import APPLE_USER, DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_add_a_caldav_account_and_a_feed(app, live_server, browser, provider_servers, redis, monkeypatch,
                                         width_name, viewport):
    import jobs.sync
    from sandbox.radicale_server import create_calendar

    feeds = FeedServer()
    feeds.put_corpus("/holidays.ics", "holidays.ics")
    feed_server = serve_in_thread(feeds)
    create_calendar(provider_servers.radicale.url, *APPLE_USER, f"any-{width_name}", f"Team ({width_name})",
                    "#8e24aa")
    with app.app_context():
        user = make_user(db.session, email=f"any-calendar-{width_name}@example.com")
        email = user.email
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        log_in(page, live_server.url, email)
        page.goto(live_server.url + "/connections/")
        page.click("text=Connect another CalDAV account")
        page.fill("#server", provider_servers.radicale.url)
        page.fill("#username", APPLE_USER[0])
        page.fill("#password", "wrong-password-here")
        page.click("button:has-text('Connect')")
        page.wait_for_selector("text=did not accept this user name and password")
        screenshot(page, f"caldav-form-wrong-password-{width_name}")
        page.fill("#password", APPLE_USER[1])
        page.click("button:has-text('Connect')")
        page.wait_for_selector("text=CalDAV calendar")

        page.click("text=Subscribe by URL")
        page.wait_for_selector("#url")
        screenshot(page, f"subscribe-form-{width_name}")
        page.fill("#url", feed_server.url + "/holidays.ics")
        page.click("button:has-text('Subscribe')")
        page.wait_for_selector("text=Subscribed to Public holidays.")

        monkeypatch.setattr(jobs.sync, "job_app", lambda: app)
        SimpleWorker([Queue("sync", connection=redis)], connection=redis).work(burst=True)
        page.reload()
        page.wait_for_selector("text=Read-only feed from")
        screenshot(page, f"connections-caldav-and-feed-{width_name}")

        page.goto(live_server.url + "/calendar/month/2026-12")
        page.wait_for_selector(".event .lock-mark:visible")  # a month cell may hide some chips behind "+N more"
        screenshot(page, f"calendar-feed-lock-{width_name}")
    finally:
        context.close()
        feed_server.stop()
