"""Stepping through weeks in Chromium: the sidebar stays the same element (it is not sent again), its mini-month
marks the days now shown, a revisited week comes from the browser's cache (304), and a click on an empty all-day
row opens a new all-day event on that day."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import request, request_finished
from playwright.sync_api import expect

from tests.helpers import DESKTOP, log_in, screenshot

pytestmark = pytest.mark.slow


def test_the_sidebar_stays_while_the_weeks_change_and_a_revisit_is_a_304(app, live_server, page, person):
    page.set_viewport_size(DESKTOP)
    monday = person["monday"]
    answered = []  # what the server answered (a browser shows a revalidated page as its cached 200)

    def note(sender, response, **extra):
        answered.append((request.path, response.status_code))

    request_finished.connect(note, app)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{monday.isoformat()}")
    page.wait_for_load_state("load")
    page.evaluate("document.getElementById('calendar-list').dataset.marker = 'first drawn'")
    expect(page.locator(f'#mini-month td.is-shown time[datetime="{monday.isoformat()}"]')).to_have_count(1)

    page.locator('[data-nav="next"]').click()
    next_monday = monday + timedelta(days=7)
    expect(page.locator("#calendar")).to_have_attribute("data-first", next_monday.isoformat())
    assert page.evaluate("document.getElementById('calendar-list').dataset.marker") == "first drawn"
    expect(page.locator(".calendar-list .calendar-item")).to_have_count(2)  # still there, not sent again
    shown = page.locator("#mini-month td.is-shown time")
    if next_monday.month == monday.month:  # the same month stays; its marks move to the new week
        expect(shown.first).to_have_attribute("datetime", next_monday.isoformat())
    page.wait_for_url(f"**/calendar/week/{next_monday.isoformat()}")

    page.locator('[data-nav="previous"]').click()
    expect(page.locator(".event", has_text="Planning")).to_be_visible()
    week_url = f"{live_server.url}/calendar/week/{monday.isoformat()}"
    page.goto(week_url)  # the page as it is now (the browser's clock setting was adopted since the first drawing)
    page.wait_for_load_state("load")
    answered.clear()
    page.goto(week_url)  # back to it: the browser asks whether it changed, and the server says no
    expect(page.locator(".event", has_text="Planning")).to_be_visible()
    request_finished.disconnect(note, app)
    assert (f"/calendar/week/{monday.isoformat()}", 304) in answered, [a for a in answered if "week" in a[0]]
    screenshot(page, "week-after-navigation")


def test_a_click_on_an_empty_all_day_row_opens_a_new_all_day_event(live_server, page, person):
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{person['monday'].isoformat()}")
    page.wait_for_load_state("load")
    lanes = page.locator(".all-day-lanes")
    box = lanes.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 7 * 0.5, box["y"] + box["height"] - 2)  # Monday, below any banner

    expect(page.locator("#event-panel form")).to_be_visible()
    expect(page.locator("#event-panel [name=start_date]")).to_have_value(person["monday"].isoformat())
    expect(page.locator("#event-panel [name=is_all_day]")).to_be_checked()
