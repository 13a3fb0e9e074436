"""On a phone: the + button never covers an event (the grid ends above it, pages scroll their last lines above it),
a tap on empty time places a placeholder with the quick-create sheet, and a long press drags an event."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from tests.factories import at
from tests.helpers import PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarEvent


def overlaps(first: dict, second: dict) -> bool:
    return not (first["x"] + first["width"] <= second["x"] or second["x"] + second["width"] <= first["x"]
                or first["y"] + first["height"] <= second["y"] or second["y"] + second["height"] <= first["y"])


def test_the_plus_button_never_covers_the_grid_or_the_last_agenda_line(live_server, page, person):
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, person["email"])
    page.wait_for_selector('#calendar[data-view="3day"]')  # a phone's week is three days (swapped in after load)
    plus = page.locator("[data-new-event]")
    expect(plus).to_be_visible()
    assert not overlaps(plus.bounding_box(), page.locator(".time-grid-scroll").bounding_box())
    page.goto(f"{live_server.url}/calendar/agenda?start={person['monday']}")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    last = page.locator(".agenda .event").last
    assert not overlaps(plus.bounding_box(), last.bounding_box())


def test_tap_places_a_placeholder_and_long_press_drags(app, live_server, browser, person):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, person["email"])
        monday = person["monday"]
        page.goto(f"{live_server.url}/calendar/3day/{monday}")
        column = page.locator(f'.day-column[data-day="{monday + timedelta(days=1)}"]')
        box = column.bounding_box()
        page.locator(".time-grid-scroll").evaluate("box => box.scrollTop = box.scrollHeight * 11.5 / 24")
        box = column.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] * 12.5 / 24)
        expect(page.locator(".create-ghost.is-placeholder")).to_be_visible()
        expect(page.locator("#quick-pop.is-open .quick-when")).to_contain_text("12:00 – 13:00")
        screenshot(page, "quick-create-tap-phone")
        page.keyboard.press("Escape")
        expect(page.locator(".create-ghost")).to_have_count(0)

        # Long press on an event, then drag: it moves by whole quarter hours.
        card = page.locator(".event:has-text('Call with New York')")
        card.scroll_into_view_if_needed()
        expect(card).to_be_in_viewport()
        start = card.bounding_box()
        hour = box["height"] / 24
        x, y = start["x"] + start["width"] / 2, start["y"] + 10
        client = page.context.new_cdp_session(page)
        touch = lambda kind, y_: client.send("Input.dispatchTouchEvent", {  # noqa: E731
            "type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": y_}]})
        touch("touchStart", y)
        expect(page.locator(".event.is-dragging")).to_have_count(1)  # held long enough: it follows the finger
        for step in range(1, 9):
            touch("touchMove", y + step * hour / 4)
        touch("touchEnd", y + 2 * hour)
        expect(page.locator(".toast:has-text('Event moved.')")).to_be_visible()
        with app.app_context():
            moved = db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Call with New York")).one()
            assert moved.start_time == at(monday + timedelta(days=1), 17)
    finally:
        context.close()
