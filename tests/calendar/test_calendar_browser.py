"""The calendar in Chromium: week navigation with the back button, keyboard shortcuts, the event panel,
creating, editing and deleting an event, the calendar list, and screenshots at desktop and phone widths."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.factories import BERLIN, at, make_user
from tests.helpers import DESKTOP, PHONE, log_in, screenshot, wait_for
from webapp.extensions import db
from webapp.models import CalendarEvent, EventStatus, SyncStatus, User


def heading(page) -> str:
    return page.inner_text("#calendar h1")


def wait_for_path(page, path: str) -> None:
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    page.wait_for_selector(f'#calendar[data-view="{path.split("/")[2].split("?")[0]}"]')


def test_weeks_navigate_in_place_and_the_back_button_returns(live_server, page, person):
    base = live_server.url
    log_in(page, base, person["email"])
    page.goto(f"{base}/calendar/week/2024-03-06")
    page.evaluate("window.stillTheSamePage = true")

    page.click('[data-nav="next"]')
    wait_for_path(page, "/calendar/week/2024-03-11")
    assert heading(page) == "11 – 17 Mar 2024"
    page.keyboard.press("j")
    wait_for_path(page, "/calendar/week/2024-03-18")
    page.keyboard.press("k")
    wait_for_path(page, "/calendar/week/2024-03-11")

    page.go_back()
    page.wait_for_url(re.compile(r"/calendar/week/2024-03-18$"))
    expect(page.locator("#calendar h1")).to_have_text("18 – 24 Mar 2024")
    page.go_back()
    expect(page.locator("#calendar h1")).to_have_text("11 – 17 Mar 2024")
    page.go_back()
    page.wait_for_url(re.compile(r"/calendar/week/2024-03-06$"))
    expect(page.locator("#calendar h1")).to_have_text("4 – 10 Mar 2024")

    page.keyboard.press("m")
    wait_for_path(page, "/calendar/month/2024-03")
    page.keyboard.press("a")
    wait_for_path(page, "/calendar/agenda?start=2024-03-01")
    page.keyboard.press("d")
    wait_for_path(page, "/calendar/day/2024-03-01")
    page.keyboard.press("t")
    wait_for_path(page, f"/calendar/day/{datetime.now(BERLIN).date().isoformat()}")
    assert page.evaluate("window.stillTheSamePage") is True  # every step was an htmx swap, not a page load


def test_event_panel_opens_on_click_and_escape_closes_it(live_server, page, person):
    log_in(page, live_server.url, person["email"])

    page.click(".event:has-text('Call with New York')")
    panel = page.locator("#event-panel.is-open")
    panel.wait_for()
    assert "Call with New York" in panel.inner_text() and "09:00 – 10:00 New York" in panel.inner_text()
    assert panel.locator("a[href='https://meet.example/abc']").get_attribute("rel") == "noopener noreferrer nofollow"
    # The provider's HTML, sanitised: its bold shows as bold; the edit form has the text without tags.
    assert panel.locator(".event-description b").inner_text() == "Not bold" and "Grace" in panel.inner_text()
    panel.locator("text=Edit").click()
    page.wait_for_selector("#event-panel form")
    assert page.input_value("#description") == "Dial in: https://meet.example/abc\nNot bold"
    screenshot(page, "event-form-plain-description-desktop")
    assert "/calendar/week/" in page.url  # the panel is an overlay; the week stays in the address bar

    page.keyboard.press("Escape")
    page.locator("#event-panel.is-open").wait_for(state="detached")
    assert page.locator("#event-panel").count() == 1 and not page.is_visible("#event-panel")


def test_create_edit_and_delete_an_event(app, live_server, page, person):
    page.on("dialog", lambda dialog: pytest.fail("the browser's confirm() was used"))
    log_in(page, live_server.url, person["email"])

    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    page.fill("#title", "")
    page.click("#event-panel button[type=submit]")
    page.wait_for_selector("#title-errors")
    assert page.inner_text("#title-errors") == "Give the event a title."

    page.fill("#title", "Piano lesson")
    page.fill("#start_date", person["monday"].isoformat())
    page.fill("#start_time", "18:00")
    page.fill("#end_date", person["monday"].isoformat())
    page.fill("#end_time", "19:00")
    page.click("#event-panel button[type=submit]")
    created = page.locator(".event:has-text('Piano lesson')")
    created.wait_for()
    assert "is-pending" in created.get_attribute("class")
    with app.app_context():
        event = db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Piano lesson")).one()
        assert event.sync_status == SyncStatus.PENDING and event.start_time == at(person["monday"], 18)

    created.click()
    page.click("#event-panel >> text=Edit")
    page.wait_for_selector("#event-panel form")
    page.fill("#title", "Piano lesson (moved)")
    page.fill("#start_time", "19:00")
    page.fill("#end_time", "20:00")
    page.click("#event-panel button[type=submit]")
    page.locator(".event:has-text('Piano lesson (moved)')").wait_for()
    with app.app_context():
        assert db.session.get(CalendarEvent, event.id).start_time == at(person["monday"], 19)

    page.click(".event:has-text('Piano lesson (moved)')")
    page.click("#event-panel summary:has-text('Delete')")  # asks in the page first
    question = page.locator("#event-panel .confirm-box")
    expect(question).to_contain_text("Delete this event?")
    expect(question.locator(".confirm-yes")).to_be_focused()
    screenshot(page, "panel-confirm-delete-desktop")
    page.keyboard.press("Escape")  # Keep: nothing happens
    expect(question).to_be_hidden()
    page.click("#event-panel summary:has-text('Delete')")
    question.locator(".confirm-yes").click()
    # Struck through until Google confirms (no worker runs here: it stays so).
    page.locator(".event.is-deleting:has-text('Piano lesson')").wait_for()
    assert page.inner_text(".event.is-deleting:has-text('Piano lesson') .sync-mark") == "Deleting…"
    with app.app_context():
        deleted = db.session.get(CalendarEvent, event.id)
        assert deleted.deletion_requested_at is not None and deleted.deleted_at is None


def test_deleting_one_standup_keeps_the_rest(app, live_server, page, person):
    log_in(page, live_server.url, person["email"])
    standups = page.locator(".event:has-text('Standup')")
    assert standups.count() == 3

    standups.first.click()
    page.click("#event-panel summary:has-text('Delete this event')")
    page.click("#event-panel .delete-this .confirm-yes")
    expect(page.locator(".event.is-deleting:has-text('Standup')")).to_have_count(1)  # until Google confirms
    expect(standups).to_have_count(3)
    with app.app_context():
        deleting = db.session.scalars(select(CalendarEvent).where(CalendarEvent.parent_event_id.is_not(None))).one()
        assert deleting.status == EventStatus.CONFIRMED and deleting.deletion_requested_at is not None


def test_hiding_a_calendar_from_the_list(app, live_server, page, person):
    log_in(page, live_server.url, person["email"])
    toggle = page.locator(f'[data-calendar-id="{person["work_id"]}"] button')
    assert page.locator(".event:has-text('Planning')").count() == 1

    toggle.click()
    page.locator(".event:has-text('Planning')").wait_for(state="detached")
    assert page.get_attribute(f'[data-calendar-id="{person["work_id"]}"] button', "aria-pressed") == "false"
    assert page.locator(".event:has-text('Dentist')").count() == 1
    page.click(f'[data-calendar-id="{person["work_id"]}"] button')
    page.locator(".event:has-text('Planning')").wait_for()


def test_the_browsers_time_zone_is_taken_on_the_first_visit(app, live_server, browser):
    with app.app_context():
        email = make_user(db.session).email
    context = browser.new_context(timezone_id="America/New_York", viewport=DESKTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, email)
        def saved_zone() -> str | None:
            with app.app_context():
                return db.session.scalar(select(User.time_zone).where(User.email == email))

        assert wait_for(saved_zone, 5, "the browser's time zone saved") == "America/New_York"
        page.wait_for_load_state()
        page.wait_for_selector("#calendar")
        assert page.locator("[data-time-zone-guess]").count() == 0  # drawn again in the new zone
    finally:
        context.close()


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_every_view(live_server, page, person, width_name, viewport):
    page.set_viewport_size(viewport)
    log_in(page, live_server.url, person["email"])
    monday = person["monday"]
    # A phone's week is three days: from Monday, so Tuesday's call is on it too.
    views = {
        "week" if width_name == "desktop" else "3day": f"/calendar/{'week' if width_name == 'desktop' else '3day'}/"
                                                        f"{monday.isoformat()}",
        "day": f"/calendar/day/{monday.isoformat()}",
        "month": f"/calendar/month/{monday:%Y-%m}",
        "agenda": f"/calendar/agenda?start={monday.isoformat()}",
    }
    for name, path in views.items():
        page.goto(live_server.url + path)
        page.wait_for_selector(f'#calendar[data-view="{name}"]')
        page.wait_for_load_state("load")
        assert page.locator("[data-event-id]").count() > 0
        screenshot(page, f"calendar-{name}-{width_name}")

    grid = next(iter(views.values()))
    page.goto(live_server.url + grid)
    page.wait_for_load_state("load")
    page.click(".event:has-text('Call with New York')")
    page.wait_for_selector("#event-panel.is-open")
    screenshot(page, f"calendar-event-{width_name}")
    page.keyboard.press("Escape")
    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    screenshot(page, f"calendar-new-event-{width_name}")
    # Nothing may stick out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
