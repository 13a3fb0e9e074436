"""Acting on events in Chromium: Undo in the toast after a move and after a deletion (asked in the page, never
with confirm()), "this and following" offered for a series, and Yes / No / Maybe from the panel, shown on the card
(declined dimmed, tentative hatched)."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from tests.factories import at, berlin_event
from tests.helpers import PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarConnection, CalendarEvent


def test_undo_a_move_and_a_deletion_from_the_toast(app, live_server, page, person):
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError("confirm() was used")))
    log_in(page, live_server.url, person["email"])
    monday = person["monday"]
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    card = page.locator(".event:has-text('Dentist')")
    box = card.bounding_box()
    hour = page.locator(".day-column").first.bounding_box()["height"] / 24
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12, steps=2)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 5 + 3 * hour, steps=8)
    page.mouse.up()
    toast = page.locator(".toast:has-text('Event moved.')")
    expect(toast.locator("button")).to_have_text("Undo")
    screenshot(page, "undo-toast-desktop")
    with app.app_context():
        assert db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Dentist")).one().start_time \
            == at(monday, 13)
    toast.locator("button").click()
    expect(page.locator(".toast:has-text('Move undone.')")).to_be_visible()
    with app.app_context():
        assert db.session.scalars(select(CalendarEvent).where(CalendarEvent.title == "Dentist")).one().start_time \
            == at(monday, 10)

    page.locator(".event:has-text('Dentist')").click()
    page.click("#event-panel summary:has-text('Delete')")
    page.click("#event-panel .confirm-yes")
    expect(page.locator(".event.is-deleting:has-text('Dentist')")).to_have_count(1)
    page.keyboard.press("z")  # the newest Undo, from the keyboard
    expect(page.locator(".toast:has-text('Deletion undone.')")).to_be_visible()
    expect(page.locator(".event.is-deleting:has-text('Dentist')")).to_have_count(0)
    expect(page.locator(".event:has-text('Dentist')")).to_have_count(1)


def test_a_series_offers_this_and_following(live_server, page, person):
    log_in(page, live_server.url, person["email"])
    page.locator(".event:has-text('Standup')").nth(1).click()
    panel = page.locator("#event-panel.is-open")
    expect(panel.locator("a:has-text('Edit this and following')")).to_be_visible()
    panel.locator("summary:has-text('Delete this and following')").click()
    expect(panel.locator(".delete-following .confirm-box")).to_contain_text("every later one of the series")
    screenshot(page, "panel-series-actions-desktop")
    panel.locator(".delete-following [data-keep]").click()
    panel.locator("a:has-text('Edit this and following')").click()
    expect(page.locator("#event-panel h2")).to_have_text("Edit this and following events")
    expect(page.locator("#repeat")).to_have_value("WEEKLY")


def test_answering_an_invitation_from_the_panel_shows_on_the_card(app, live_server, page, person):
    monday = person["monday"]
    with app.app_context():
        home = db.session.scalars(db.select(CalendarConnection).where(
            CalendarConnection.user_id == person["id"], CalendarConnection.calendar_name == "Home")).one()
        guests = [{"email": "host@example.com", "name": "Host", "responseStatus": "accepted", "organizer": True},
                  {"email": person["email"], "name": "Ada", "responseStatus": "needsAction"}]
        for title, hour in (("Book club", 18), ("Gallery opening", 20)):
            berlin_event(db.session, home, at(monday + timedelta(days=1), hour), title=title, attendees=guests)
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    page.locator(".time-grid-scroll").evaluate("box => box.scrollTop = box.scrollHeight * 15 / 24")

    for title, answer, state in (("Book club", "No", "is-declined"), ("Gallery opening", "Maybe", "is-tentative")):
        page.locator(f".event:has-text('{title}')").click()
        rsvp = page.locator("#event-panel .rsvp")
        expect(rsvp.locator("legend")).to_have_text("Going?")
        rsvp.locator(f"button:has-text('{answer}')").click()
        expect(page.locator(f".event.{state}:has-text('{title}')")).to_have_count(1)
    declined = page.locator(".event.is-declined:has-text('Book club') .event-title")
    expect(declined).to_have_css("text-decoration-line", "line-through")
    assert "repeating-linear-gradient" in page.locator(".event.is-tentative").evaluate(
        "card => getComputedStyle(card).backgroundImage")
    page.locator(".event:has-text('Gallery opening')").click()
    expect(page.locator("#event-panel .rsvp button[aria-pressed=true]")).to_have_text("Maybe")
    screenshot(page, "rsvp-panel-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "rsvp-panel-phone")
