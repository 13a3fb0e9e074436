"""Feedback in Chromium: the title and the highlighted days change as soon as a date link is followed, the next
week is fetched ahead and shown without asking the server again, ? opens the shortcut sheet, "Skip to calendar" is
the first Tab stop and leads to the first event, the mini-month is one Tab stop walked with the arrow keys, and a
short card's "Saving…" fits (a mark at its edge)."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.factories import at, berlin_event
from tests.helpers import log_in, screenshot, wait_for
from webapp.extensions import db
from webapp.models import CalendarConnection, SyncStatus


def test_navigation_says_where_it_goes_at_once_and_the_next_week_is_fetched_ahead(live_server, page, person):
    log_in(page, live_server.url, person["email"])
    monday = person["monday"]
    next_monday = monday + timedelta(days=7)
    next_url = f"/calendar/week/{next_monday}"
    fetched, asked = [], []
    page.on("requestfinished", lambda request: fetched.append(request.url.split(live_server.url, 1)[-1]))
    page.on("request", lambda request: asked.append(request.url.split(live_server.url, 1)[-1]))
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    page.locator('[data-nav="next"]').hover()
    # Playwright hands over the page's events during its own calls: ask the page something while waiting.
    wait_for(lambda: page.evaluate("0") == 0 and next_url in fetched, 15, "the next week fetched ahead")
    title = page.locator('[data-nav="next"]').get_attribute("data-title")
    asked.clear()

    page.click('[data-nav="next"]')
    expect(page.locator("#calendar h1")).to_have_text(title)
    page.wait_for_url(f"**{next_url}")
    expect(page.locator(f'.day-column[data-day="{next_monday}"]')).to_have_count(1)
    expect(page.locator("#mini-month td.is-shown")).to_have_count(7)
    assert next_url not in asked  # shown from what was fetched ahead, not asked for again

    # Without a page fetched ahead, the title has changed before the request even leaves.
    page.evaluate("""() => document.addEventListener("htmx:beforeSend", () => {
        window.titleWhenSent = document.querySelector("#calendar .period-title").textContent; }, {once: true})""")
    month = page.locator('[data-nav="month"]')
    expected = month.get_attribute("data-title")
    month.click()
    page.wait_for_url("**/calendar/month/*")
    assert page.evaluate("window.titleWhenSent") == expected


def test_shortcut_sheet_skip_link_and_one_tab_stop_mini_month(live_server, page, person):
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{person['monday']}")
    page.wait_for_load_state("load")

    page.keyboard.press("?")
    sheet = page.locator("#shortcuts")
    expect(sheet).to_be_visible()
    expect(sheet.locator("h2")).to_have_text("Keyboard shortcuts")
    screenshot(page, "shortcuts-desktop")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    page.locator("body").focus()
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to calendar")
    page.keyboard.press("Enter")
    presses = 0
    while not page.evaluate("document.activeElement.matches('.time-grid .event')") and presses < 20:
        page.keyboard.press("Tab")
        presses += 1
    assert presses <= 8  # past the seven day headings at most (the issue counted about 35)

    stops = page.locator("#mini-month td a[tabindex='0']")
    expect(stops).to_have_count(1)  # 42 days, one Tab stop
    day = stops.get_attribute("href").rsplit("/", 1)[-1]
    stops.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#mini-month td a[tabindex='0']")).to_be_focused()
    moved = page.locator("#mini-month td a[tabindex='0'] time").get_attribute("datetime")
    assert moved > day
    page.keyboard.press("ArrowDown")
    assert page.locator("#mini-month td a[tabindex='0'] time").get_attribute("datetime") > moved
    page.keyboard.press("Tab")  # out of the mini-month in one press
    expect(page.locator("#go-to-date")).to_be_focused()


def test_a_short_cards_saving_mark_fits(app, live_server, page, person):
    monday = person["monday"]
    with app.app_context():
        work = db.session.get(CalendarConnection, person["work_id"])
        berlin_event(db.session, work, at(monday + timedelta(days=5), 12), at(monday + timedelta(days=5), 12, 30),
                     title="Quick sync with the design team", sync_status=SyncStatus.PENDING)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    card = page.locator(".event:has-text('Quick sync')")
    mark = card.locator(".sync-mark")
    expect(mark).to_be_visible()
    card_box, mark_box = card.bounding_box(), mark.bounding_box()
    assert mark_box["y"] + mark_box["height"] <= card_box["y"] + card_box["height"] + 0.5
    assert mark_box["x"] + mark_box["width"] <= card_box["x"] + card_box["width"] + 0.5
