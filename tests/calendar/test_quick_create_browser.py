"""Quick create in Chromium: a click or a drag on empty time opens a popover beside the placeholder, which stays;
the line is read as you type (a preview), Enter saves, Esc cancels, "More options" opens the full form with what was
typed; `c` opens a new event from any page."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.factories import BERLIN, at
from tests.helpers import DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarEvent


def slot_point(page, day, hour: float) -> tuple[float, float]:
    column = page.locator(f'.day-column[data-day="{day}"]')
    column.scroll_into_view_if_needed()
    box = column.bounding_box()
    return box["x"] + box["width"] * 0.9, box["y"] + box["height"] * hour / 24


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_quick_create_with_enter_reads_the_line(app, live_server, page, person, width_name, viewport):
    page.set_viewport_size(viewport)
    log_in(page, live_server.url, person["email"])
    today = datetime.now(BERLIN).date()
    kind = "week" if width_name == "desktop" else "3day"
    page.goto(f"{live_server.url}/calendar/{kind}/{today}")
    page.wait_for_load_state("load")
    scroller = page.locator(".time-grid-scroll")
    scroller.evaluate("box => box.scrollTop = box.scrollHeight * 17 / 24")

    page.mouse.click(*slot_point(page, today, 18.5))
    popover = page.locator("#quick-pop.is-open")
    expect(popover.locator("#quick-title")).to_be_focused()
    ghost = page.locator(".create-ghost.is-placeholder")
    expect(ghost).to_be_visible()
    if width_name == "desktop":  # beside the slot, not over it
        assert popover.bounding_box()["x"] >= ghost.bounding_box()["x"] + ghost.bounding_box()["width"] or \
            popover.bounding_box()["x"] + popover.bounding_box()["width"] <= ghost.bounding_box()["x"]
    page.keyboard.type("Lunch with Ann tomorrow 13:00 for 1h")
    tomorrow = today + timedelta(days=1)
    # The first reading in a process loads dateparser's language data: give a loaded machine its time.
    expect(popover.locator(".quick-when")).to_have_text(f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b}, 13:00 – 14:00",
                                                        timeout=20_000)
    expect(popover.locator(".quick-understood")).to_contain_text("tomorrow 13:00")
    expect(ghost).to_be_visible()  # the placeholder stays while the line is typed
    screenshot(page, f"quick-create-{width_name}")
    page.keyboard.press("Enter")
    expect(page.locator("#quick-pop.is-open")).to_have_count(0)
    expect(page.locator(".toast")).to_contain_text("Event saved.")
    with app.app_context():
        event = db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Lunch with Ann")).one()
        assert (event.start_time, event.end_time) == (at(tomorrow, 13), at(tomorrow, 14))


def test_drag_esc_cancels_and_more_options_keeps_what_was_typed(app, live_server, page, person):
    log_in(page, live_server.url, person["email"])
    monday = person["monday"]
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    page.wait_for_load_state("load")
    wednesday = monday + timedelta(days=2)
    start, end = slot_point(page, wednesday, 15), slot_point(page, wednesday, 16.5)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], start[1] + 8, steps=2)
    page.mouse.move(*end, steps=6)
    page.mouse.up()
    popover = page.locator("#quick-pop.is-open")
    expect(popover.locator(".quick-when")).to_contain_text("15:00 – 16:30")
    expect(popover.locator("#quick-title")).to_be_focused()
    page.keyboard.type("Focus time")
    page.keyboard.press("Escape")
    expect(popover).to_have_count(0)
    expect(page.locator(".create-ghost")).to_have_count(0)
    expect(page.locator("#event-panel.is-open")).to_have_count(0)

    page.mouse.click(*slot_point(page, wednesday, 17.5))
    expect(popover.locator("#quick-title")).to_be_focused()
    page.keyboard.type("Piano lesson")
    popover.locator("text=More options").click()
    page.wait_for_selector("#event-panel form")
    assert page.input_value("#title") == "Piano lesson" and page.input_value("#start_time") == "17:00"
    with app.app_context():
        assert db.session.scalars(select(CalendarEvent).where(CalendarEvent.title.like("Focus%"))).all() == []


def test_c_opens_a_new_event_from_any_page(live_server, page, person):
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/settings/profile")
    page.keyboard.press("c")
    page.wait_for_url("**/calendar/events/new**")
    expect(page.locator("#title")).to_be_visible()
