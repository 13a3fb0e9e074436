"""The open tab in Chromium: a change made at Google reaches the week on screen by itself (push, worker, change
stamp, redraw) while a new event is being typed in the panel; the form, the grid's scroll position and the focus
stay, and a small "Updated" note shows. Screenshots at desktop and phone sizes, and of a calendar without push."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.helpers import DESKTOP, PHONE, google_timed, log_in, screenshot, wait_for


def event_day() -> date:
    """A weekday of this week (Tuesday to Thursday), in the user's zone (UTC here)."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=2)


def test_a_change_at_google_shows_in_the_open_week_without_losing_what_is_being_typed(pusher, page):
    user = pusher.user(time_zone="UTC")
    client = pusher.client_for(user)
    email, (work,) = pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    google = pusher.providers.google_state
    day = event_day()
    start = datetime(day.year, day.month, day.day, 14, tzinfo=UTC)
    google.add_event(email, google_timed("Planning", start))
    pusher.work()

    page.set_viewport_size(DESKTOP)
    posted = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    log_in(page, pusher.server.url, user.email)
    page.goto(f"{pusher.server.url}/calendar/week/{day.isoformat()}")
    page.wait_for_selector(".event:has-text('Planning')")
    page.wait_for_load_state("load")
    assert any(url.endswith("/live/viewed") for url in posted)  # the page said someone is looking
    scroller = page.locator(".time-grid-scroll")
    scroller.evaluate("element => { element.scrollTop = 500; }")
    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    page.fill("#title", "Half-typed title")
    page.fill("#location", "Room")

    event_id = google.stored_events(email)[0]["id"]
    google.update_event(email, event_id, {"summary": "Planning (moved at Google)",
                                          "start": {"dateTime": (start + timedelta(hours=2)).isoformat()},
                                          "end": {"dateTime": (start + timedelta(hours=3)).isoformat()}})

    def shown():
        pusher.work("live")
        return page.locator(".event:has-text('Planning (moved at Google)')").count() == 1

    wait_for(shown, 30, "the change at Google in the open tab")
    assert page.input_value("#title") == "Half-typed title" and page.input_value("#location") == "Room"
    assert page.evaluate("document.activeElement.id") == "location"
    assert scroller.evaluate("element => element.scrollTop") == 500
    note = page.locator("[data-live-note]")
    note.wait_for()
    assert note.inner_text().startswith("Updated")
    assert page.locator(".event:has-text('Planning')").count() == 1  # the old card is gone, not doubled
    screenshot(page, "live-updated-desktop")

    page.set_viewport_size(PHONE)
    page.goto(f"{pusher.server.url}/calendar/3day/{day.isoformat()}")
    page.wait_for_selector(".event:has-text('Planning (moved at Google)')")
    page.wait_for_load_state("load")
    google.add_event(email, google_timed("Added at Google", start - timedelta(hours=4)))
    wait_for(lambda: (pusher.work("live"), page.locator(".event:has-text('Added at Google')").count() == 1)[1], 30,
             "the new event in the phone's tab")
    page.locator("[data-live-note]").wait_for()
    screenshot(page, "live-updated-phone")


def test_connections_page_says_when_a_calendar_has_no_push(pusher, page):
    pusher.providers.google_state.set_push_policy(require_https=True)
    user = pusher.user(time_zone="UTC", is_admin=True)
    client = pusher.client_for(user)
    pusher.connect(client, calendars=(("Work", "#4285f4", True),))
    pusher.connect(client, "microsoft")
    pusher.work()

    log_in(page, pusher.server.url, user.email)
    page.goto(f"{pusher.server.url}/connections/")
    unavailable = page.locator("[data-push=unavailable]")
    assert "Updates every 5 minutes — push unavailable: Google sends notifications only to an https://" in \
        unavailable.inner_text()
    assert "changes arrive within seconds" in page.locator("[data-push=live]").inner_text()
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"push-unavailable-connections-{name}")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{pusher.server.url}/admin/health")
    assert "push unavailable" in page.locator("#push-unavailable").inner_text()
    screenshot(page, "push-unavailable-health-desktop")
