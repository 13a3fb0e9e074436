"""Acting quickly in Chromium: dragging an event to move or resize it, dragging over empty time to create one,
moving from the keyboard, the mini-month and "Go to date", and the progress bar on a slow response."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.factories import at, berlin_event
from tests.helpers import DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import AuditLog, CalendarConnection, CalendarEvent, SyncStatus


def event_row(app, title: str) -> CalendarEvent:
    with app.app_context():
        return db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == title)).one()


def open_week(page, live_server, person):
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{person['monday'].isoformat()}")
    page.wait_for_load_state("load")


def hour_height(page) -> float:
    return page.locator(".day-column").first.bounding_box()["height"] / 24


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 2, start[1] + 6, steps=2)
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def test_dragging_an_event_moves_it_through_the_normal_edit_path(app, live_server, page, person, redis):
    open_week(page, live_server, person)
    card = page.locator(".event:has-text('Planning')")
    box = card.bounding_box()
    tuesday = page.locator('.day-column[data-day="%s"]' % (person["monday"] + timedelta(days=1))).bounding_box()

    # One column to the right and one hour down: Tuesday 10:00–11:30.
    grab = (box["x"] + 10, box["y"] + 10)
    drag(page, grab, (tuesday["x"] + 20, grab[1] + hour_height(page)))

    expect(page.locator(".toast > span")).to_have_text("Event moved.")  # with its Undo
    moved = page.locator(f'.day-column[data-day="{person["monday"] + timedelta(days=1)}"] .event:has-text("Planning")')
    expect(moved).to_have_class(re.compile(r"\bis-pending\b"))
    expect(page.locator("#event-panel")).not_to_have_class(re.compile("is-open"))  # the drop did not open it
    event = event_row(app, "Planning")
    assert (event.start_time, event.end_time) == (at(person["monday"] + timedelta(days=1), 10),
                                                  at(person["monday"] + timedelta(days=1), 11, 30))
    assert event.sync_status == SyncStatus.PENDING and event.location == "Room 4"
    assert redis.exists(f"rq:job:push-event-{event.id}")  # on its way to the provider
    with app.app_context():
        assert db.session.scalars(select(AuditLog.action).where(AuditLog.resource_id == str(event.id))).all() == [
            "EVENT_UPDATE"]
    screenshot(page, "drag-move-desktop")


def test_dragging_the_bottom_edge_resizes_in_quarter_hours(app, live_server, page, person):
    open_week(page, live_server, person)
    card = page.locator(".event:has-text('Review 14')")  # Friday 14:00–15:00
    box = card.bounding_box()

    bottom = (box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    drag(page, bottom, (bottom[0], bottom[1] + hour_height(page) * 0.55))  # half an hour and a bit: snaps to 15:30

    expect(page.locator(".toast > span")).to_have_text("Event resized.")  # with its Undo
    expect(page.locator(".event:has-text('Review 14')")).to_have_class(re.compile(r"\bis-pending\b"))
    event = event_row(app, "Review 14")
    friday = person["monday"] + timedelta(days=4)
    assert (event.start_time, event.end_time) == (at(friday, 14), at(friday, 15, 30))


def test_dragging_over_empty_time_opens_a_new_event_with_that_range(live_server, page, person):
    open_week(page, live_server, person)
    saturday = page.locator(f'.day-column[data-day="{person["monday"] + timedelta(days=5)}"]').bounding_box()
    hour = hour_height(page)
    top = saturday["y"] + 13 * hour + 2  # just after 13:00

    drag(page, (saturday["x"] + 30, top), (saturday["x"] + 30, top + 1.5 * hour))  # to about 14:30
    screenshot(page, "drag-create-desktop")

    # The quick-create popover for that range; "More options" carries it to the full form.
    expect(page.locator("#quick-pop.is-open .quick-when")).to_contain_text("13:00 – 14:45")
    page.click("#quick-pop >> text=More options")
    page.wait_for_selector("#event-panel form")
    assert page.input_value("#start_date") == (person["monday"] + timedelta(days=5)).isoformat()
    assert (page.input_value("#start_time"), page.input_value("#end_time")) == ("13:00", "14:45")


def test_an_event_moves_from_the_keyboard(app, live_server, page, person):
    open_week(page, live_server, person)
    page.locator(".event:has-text('Review 11')").focus()  # Friday 11:00–12:00
    page.keyboard.press("ArrowDown")  # plain arrows go from event to event
    expect(page.locator(".event:has-text('Review 14')")).to_be_focused()
    page.keyboard.press("ArrowUp")

    page.keyboard.press("Shift+ArrowDown")  # 11:15
    page.keyboard.press("Shift+ArrowDown")  # 11:30
    page.keyboard.press("Shift+ArrowLeft")  # Thursday
    page.keyboard.press("Alt+Shift+ArrowDown")  # 75 minutes long
    expect(page.locator("#calendar-announcer")).to_contain_text("11:30 to 12:45")

    expect(page.locator(".toast > span")).to_have_text("Event moved.")  # with its Undo
    thursday = person["monday"] + timedelta(days=3)
    moved = page.locator(f'.day-column[data-day="{thursday}"] .event:has-text("Review 11")')
    expect(moved).to_have_class(re.compile(r"\bis-pending\b"))
    expect(moved).to_be_focused()  # focus stays on the event after the page region is redrawn
    event = event_row(app, "Review 11")
    assert (event.start_time, event.end_time) == (at(thursday, 11, 30), at(thursday, 12, 45))


def test_the_mini_month_and_go_to_date_jump_anywhere(live_server, page, person):
    open_week(page, live_server, person)
    page.evaluate("window.stillTheSamePage = true")
    month = page.locator("#mini-month .mini-title")
    first_month = month.inner_text()

    page.click("#mini-month [aria-label='Next month']")
    expect(month).not_to_have_text(first_month)
    assert "/calendar/week/" + person["monday"].isoformat() in page.url  # only the mini-month moved
    page.locator("#mini-month td:not(.is-other-month) a").nth(14).click()
    expect(page).to_have_url(re.compile(r"/calendar/week/\d{4}-\d{2}-15$"))
    expect(page.locator("#mini-month .is-shown")).to_have_count(7)
    screenshot(page, "mini-month-desktop")

    page.keyboard.press("g")
    expect(page.locator("#go-to-date")).to_be_focused()
    page.fill("#go-to-date", "2031-02-14")
    page.click(".go-to-date button[type=submit]")
    expect(page).to_have_url(re.compile(r"/calendar/week/2031-02-14$"))
    expect(page.locator("#calendar h1")).to_have_text("10 – 16 Feb 2031")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_slow_response_shows_the_progress_bar_and_a_busy_button(live_server, page, person):
    open_week(page, live_server, person)
    held = []
    # The month (the neighbouring weeks are fetched ahead, so they answer at once).
    page.route(re.compile(r"/calendar/month/"), lambda route: held.append(route))
    progress = page.locator("#progress")
    expect(progress).to_have_css("opacity", "0")

    page.click('[data-nav="month"]')
    page.wait_for_timeout(400)  # the bar waits 150 ms before it shows, so quick answers never flicker
    expect(progress).to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(progress).to_have_css("opacity", "1")
    screenshot(page, "progress-bar-desktop")
    toolbar_before = page.locator(".calendar-toolbar").bounding_box()
    held[0].continue_()
    page.unroute(re.compile(r"/calendar/month/"))
    expect(progress).not_to_have_class(re.compile(r"\bhtmx-request\b"))
    assert page.locator(".calendar-toolbar").bounding_box() == toolbar_before  # no layout shift
    page.click('[data-nav="week"]')  # a month cell may fold a new event into "+N more"
    page.wait_for_selector('#calendar[data-view="week"]')

    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    page.fill("#title", "Slow save")
    page.route(re.compile(r"/calendar/events/new"), lambda route: held.append(route))
    page.click("#event-panel button[type=submit]")
    save = page.locator("#event-panel button[type=submit]")
    expect(save).to_be_disabled()
    expect(save).to_have_text("Saving…")
    held[-1].continue_()
    page.locator(".event:has-text('Slow save')").wait_for()


def test_a_calendar_colour_saves_as_soon_as_it_is_picked(app, live_server, browser, person):
    for scripts in (True, False):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=scripts)
        page = context.new_page()
        try:
            page.set_default_timeout(10_000)
            page.goto(f"{live_server.url}/login")
            page.fill("#email", person["email"])
            page.fill("#password", "correct horse battery")
            page.click("button[type=submit]")
            page.goto(f"{live_server.url}/connections/")
            row = page.locator(f'[data-connection-id="{person["work_id"]}"]')
            save = row.locator(".color-form button[type=submit]")
            colour = "#d50000" if scripts else "#0b8043"
            if scripts:
                expect(save).to_be_hidden()  # nothing to click: the change is the save
                with page.expect_response(re.compile(r"/color$")) as answer:
                    row.locator("input[type=color]").fill(colour)
                assert answer.value.status == 200
            else:
                row.locator("input[type=color]").evaluate(f"input => input.value = '{colour}'")
                save.click()  # the plain form post
            expect(page.locator(f'[data-connection-id="{person["work_id"]}"] input[type=color]')).to_have_value(colour)
            with app.app_context():
                assert db.session.get(CalendarConnection, person["work_id"]).calendar_color == colour
        finally:
            context.close()


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_overlaps_fold_into_plus_n_and_markers_point_to_events_out_of_view(app, live_server, page, person,
                                                                          width_name, viewport):
    monday = person["monday"]
    with app.app_context():
        work = db.session.get(CalendarConnection, person["work_id"])
        for n in range(5):
            berlin_event(db.session, work, at(monday, 11, 5 * n), at(monday, 12, 30), title=f"Overlap {n + 1}")
        berlin_event(db.session, work, at(monday + timedelta(days=2), 22), at(monday + timedelta(days=2), 23),
                     title="Late call")
        berlin_event(db.session, work, at(monday + timedelta(days=1), 5, 30), title="Early run")
    page.set_viewport_size(viewport)
    log_in(page, live_server.url, person["email"])
    kind = "week" if width_name == "desktop" else "3day"
    page.goto(f"{live_server.url}/calendar/{kind}/{monday}")
    page.wait_for_load_state("load")

    # Starting together, three side by side in a week (two in three days): the last slot says "+N" for the rest.
    folded = 3 if width_name == "desktop" else 4
    more = page.locator(f'.day-column[data-day="{monday}"] .more-events')
    expect(more.locator("summary")).to_have_text(f"+{folded}")
    assert page.locator(f'.day-column[data-day="{monday}"] .event:has-text("Overlap")').count() == 5
    more.locator("summary").click()
    expect(more.locator("ul .event")).to_have_count(folded)
    for card in more.locator("ul .event").all():
        expect(card).to_be_visible()
    screenshot(page, f"overlap-plus-n-{width_name}")
    more.locator("summary").click()

    # The grid opened at the first event (05:30); the late call is below the fold, and a marker says so.
    scroller = page.locator(".time-grid-scroll")
    late = page.locator(".event:has-text('Late call')")
    assert not late.evaluate("(card, box) => card.getBoundingClientRect().top < box.getBoundingClientRect().bottom",
                             scroller.element_handle())
    below = page.locator(".edge-markers.is-bottom .edge-marker[aria-label*='Wednesday']")
    expect(below).to_have_text("▼ 1")
    screenshot(page, f"edge-markers-{width_name}")
    below.click()
    expect(late).to_be_in_viewport()
    expect(page.locator(".edge-markers.is-top .edge-marker").first).to_be_visible()  # now others are above
    scroller.evaluate("box => box.scrollTo({top: box.scrollHeight})")
    expect(page.locator(".hour-label", has_text="23:00")).to_be_in_viewport()  # all 24 hours can be reached


def test_the_phone_header_is_compact_and_its_menu_holds_the_sidebar(live_server, page, person):
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/3day/{person['monday']}")
    page.wait_for_load_state("load")

    grid_top = page.locator(".calendar-main").bounding_box()["y"]
    assert grid_top < 190  # the header and the toolbar (44 px tap targets); the issue measured 410 px before the grid
    expect(page.locator("#mini-month")).to_be_hidden()
    page.click("[data-menu-button]")
    expect(page.locator("[data-menu-button]")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#main-nav")).to_be_visible()
    expect(page.locator("#mini-month")).to_be_visible()
    screenshot(page, "menu-open-phone")
    page.locator("#mini-month td:not(.is-other-month) a").nth(0).click()
    expect(page).to_have_url(re.compile(r"/calendar/3day/\d{4}-\d{2}-01$"))
    expect(page.locator("#mini-month")).to_be_hidden()  # the menu closes after the jump
    first = page.locator("#calendar h1").inner_text()

    # A swipe to the left is "next".
    page.locator(".calendar-main").evaluate("""main => {
        const touch = (x) => new Touch({identifier: 1, target: main, clientX: x, clientY: 400});
        const start = touch(300);
        main.dispatchEvent(new TouchEvent("touchstart", {bubbles: true, touches: [start], changedTouches: [start]}));
        main.dispatchEvent(new TouchEvent("touchend", {bubbles: true, touches: [], changedTouches: [touch(120)]}));
    }""")
    expect(page.locator("#calendar h1")).not_to_have_text(first)
    expect(page).to_have_url(re.compile(r"/calendar/3day/\d{4}-\d{2}-04$"))
