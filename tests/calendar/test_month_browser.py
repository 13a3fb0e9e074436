"""The month in Chromium, as Google draws it: a multi-day event is one bar across its days (split only where the
week row ends), a timed event a dot in its calendar's colour, its start time and its title; "+N more" opens the
day."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import at, berlin_event
from tests.helpers import DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarConnection


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_month_bars_span_their_days_and_timed_events_read_dot_time_title(app, live_server, page, person,
                                                                         width_name, viewport):
    monday = person["monday"]
    with app.app_context():
        work = db.session.get(CalendarConnection, person["work_id"])
        thursday = monday + timedelta(days=3)
        for hour in (8, 10, 12, 14):
            berlin_event(db.session, work, at(thursday, hour), title=f"Busy {hour}")
    page.set_viewport_size(viewport)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/month/{monday:%Y-%m}")
    page.wait_for_load_state("load")

    # Family visit, Wednesday to Friday: one bar, as wide as the three cells.
    visit = page.locator(".month-grid .event.bar:has-text('Family visit')")
    cells = [page.locator(f'.month-cell[data-day="{monday + timedelta(days=n)}"]').bounding_box() for n in (2, 4)]
    expect(visit).to_have_count(1)  # the grid shows whole weeks, so one row holds Wednesday to Friday
    bar = visit.bounding_box()
    assert bar["x"] <= cells[0]["x"] + 6 and bar["x"] + bar["width"] >= cells[1]["x"] + cells[1]["width"] - 6

    # A timed event: dot, then (on a desktop) the start time, then the title, on one line.
    planning = page.locator(".month-grid .event.dot-event:has-text('Planning')").first
    dot, title = planning.locator(".event-dot").bounding_box(), planning.locator(".event-title").bounding_box()
    assert dot["x"] < title["x"] and abs((dot["y"] + dot["height"] / 2) - (title["y"] + title["height"] / 2)) < 4
    if width_name == "desktop":
        time = planning.locator(".event-time")
        expect(time).to_have_text("09:00")
        assert dot["x"] < time.bounding_box()["x"] < title["x"]
    expect(planning.locator(".event-dot")).to_have_css("background-color", "rgb(26, 115, 232)")

    # Thursday: the visit's bar, the lunch talk and four meetings do not fit three lanes.
    more = page.locator(".month-more a").first
    assert more.inner_text().strip() == ("+3 more" if width_name == "desktop" else "+3")
    screenshot(page, f"month-{width_name}")
    if width_name == "desktop":
        more.click()
    else:  # on a phone the whole cell (wider and taller than 44 px) opens the day
        page.locator(f'.month-day:has(time[datetime="{thursday}"]) a').click()
    page.wait_for_selector('#calendar[data-view="day"]')
    expect(page.locator(".event:has-text('Busy 14')")).to_have_count(1)
