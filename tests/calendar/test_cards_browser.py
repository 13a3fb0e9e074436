"""Event cards in Chromium as Google draws them: title first, short events on one line keeping the title's first
words, later overlapping events indented over earlier ones at three quarters of the width or more, a covered card
shown whole on hover, marks at the card's edge; and the week opening at working hours despite an event that ran
past midnight."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import at, berlin_event
from tests.helpers import DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarConnection, SyncStatus


def box(locator) -> dict:
    return locator.bounding_box()


def inside(inner: dict, outer: dict, slack: float = 1) -> bool:
    x, y, right, bottom = inner["x"], inner["y"], inner["x"] + inner["width"], inner["y"] + inner["height"]
    return (x >= outer["x"] - slack and right <= outer["x"] + outer["width"] + slack
            and y >= outer["y"] - slack and bottom <= outer["y"] + outer["height"] + slack)


def apart(first: dict, second: dict) -> bool:
    return (first["x"] + first["width"] <= second["x"] + 0.5 or second["x"] + second["width"] <= first["x"] + 0.5
            or first["y"] + first["height"] <= second["y"] + 0.5 or second["y"] + second["height"] <= first["y"] + 0.5)


@pytest.fixture
def crowded(app, person):
    """The person's week plus an overlapping pair, a short stand-up with a long title, a double booking and an
    event from Sunday night that ends after midnight."""
    monday = person["monday"]
    tuesday = monday + timedelta(days=1)
    with app.app_context():
        work = db.session.get(CalendarConnection, person["work_id"])
        home = db.session.scalars(db.select(CalendarConnection).where(
            CalendarConnection.user_id == person["id"], CalendarConnection.calendar_name == "Home")).one()
        berlin_event(db.session, work, at(tuesday, 10), at(tuesday, 12), title="Sprint review")
        berlin_event(db.session, work, at(tuesday, 10, 30), at(tuesday, 11, 30), title="1:1 with Grace")
        berlin_event(db.session, work, at(tuesday, 13), at(tuesday, 13, 15),
                     title="Team standup for the platform group")
        berlin_event(db.session, home, at(tuesday, 13), at(tuesday, 13, 15), title="Call the plumber",
                     sync_status=SyncStatus.PENDING)
        berlin_event(db.session, home, at(monday - timedelta(days=1), 23), at(monday, 0, 15), title="Night train")
    return person


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_cards_read_title_first_overlaps_indent_and_marks_keep_to_the_edge(live_server, page, crowded, width_name,
                                                                           viewport):
    page.set_viewport_size(viewport)
    log_in(page, live_server.url, crowded["email"])
    tuesday = crowded["monday"] + timedelta(days=1)
    page.goto(f"{live_server.url}/calendar/3day/{tuesday}")
    page.wait_for_load_state("load")

    column = page.locator(f'.day-column[data-day="{tuesday}"]')
    sprint, one_to_one = column.locator(".event:has-text('Sprint review')"), column.locator(".event:has-text('1:1')")
    column_box, sprint_box, later_box = box(column), box(sprint), box(one_to_one)
    assert later_box["x"] > sprint_box["x"] + 4  # indented over the earlier one...
    assert later_box["width"] >= 0.75 * column_box["width"] - 1  # ...at three quarters of the width or more
    assert abs(later_box["x"] + later_box["width"] - (sprint_box["x"] + sprint_box["width"])) < 1.5  # to the edge
    # Title first, then the time, in reading order.
    assert sprint.locator(".event-title").bounding_box()["y"] < sprint.locator(".event-time").bounding_box()["y"]

    standup = column.locator(".event:has-text('Team standup')")
    assert "is-one-line" in standup.get_attribute("class")
    title = standup.locator(".event-title")
    assert inside(box(title), box(standup)) and box(title)["width"] > 24  # the title's first words show
    time = standup.locator(".event-time")
    assert not inside(box(time), box(standup)) or apart(box(time), box(title))  # the time whole, or not at all
    # Hover: the covered card comes to the front, whole.
    height = box(standup)["height"]
    standup.hover()
    expect(standup.locator(".event-title")).to_have_css("white-space", "normal")
    assert box(standup)["height"] > height

    # Marks (double booking, saving) at the card's edge, never over its words.
    plumber = column.locator(".event:has-text('Call the plumber')")
    page.mouse.move(0, 0)
    for card in (standup, plumber):
        mark = card.locator(".overlap-mark")
        expect(mark).to_be_visible()
        assert apart(box(mark), box(card.locator(".event-title")))
        assert box(mark)["x"] + box(mark)["width"] > box(card)["x"] + box(card)["width"] - 10  # by the hatched edge
    saving = plumber.locator(".sync-mark")
    expect(saving).to_be_visible()
    assert apart(box(saving), box(plumber.locator(".event-title"))) and inside(box(saving), box(plumber))
    screenshot(page, f"cards-{width_name}")


def test_the_week_opens_at_working_hours_though_an_event_ran_past_midnight(live_server, page, crowded):
    log_in(page, live_server.url, crowded["email"])
    monday = crowded["monday"]
    page.goto(f"{live_server.url}/calendar/day/{monday}")
    page.wait_for_load_state("load")

    night = page.locator(".event:has-text('Night train')")
    assert "starts-earlier" in night.get_attribute("class")
    scroller = page.locator(".time-grid-scroll")
    top = scroller.evaluate("box => box.scrollTop")
    hour = page.locator(".day-column").first.bounding_box()["height"] / 24
    assert abs(top - (8 * hour - hour / 4)) < 2  # 07:45: the working day, not 00:00
    expect(page.locator(".event:has-text('Planning')")).to_be_in_viewport()
    expect(page.locator(".edge-markers.is-top .edge-marker")).to_have_text("▲ 1")  # the night train, above
