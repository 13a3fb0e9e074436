"""The colour picked on the connections page is the colour of the calendar's cards, its sidebar swatch, its month
chips, its agenda rows and its search results; and a double booking is marked with an icon and a pattern, not red."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.factories import at, berlin_event
from tests.helpers import log_in, screenshot
from webapp.extensions import db
from webapp.models import CalendarConnection


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i:i + 2], 16) for i in (1, 3, 5)))


def css(locator, prop: str) -> str:
    return locator.evaluate("(element, name) => getComputedStyle(element).getPropertyValue(name)", prop)


def test_the_picked_colour_is_the_colour_everywhere(live_server, page, person):
    base, monday, work_id = live_server.url, person["monday"], person["work_id"]
    log_in(page, base, person["email"])
    page.goto(f"{base}/connections/")
    picker = page.locator(f'[data-connection-id="{work_id}"] input[type=color]')
    picker.evaluate("input => { input.value = '#8e24aa'; input.dispatchEvent(new Event('change', {bubbles: true})); }")
    expect(page.locator(".toast")).to_have_text("Colour saved.")
    expect(page.locator(f'[data-connection-id="{work_id}"] input[type=color]')).to_have_value("#8e24aa")

    purple = rgb("#8e24aa")
    page.goto(f"{base}/calendar/week/{monday}")
    expect(page.locator(".event:has-text('Planning')")).to_have_css("background-color", purple)
    expect(page.locator(f'[data-calendar-id="{work_id}"] .swatch')).to_have_css("background-color", purple)
    page.goto(f"{base}/calendar/month/{monday:%Y-%m}")
    assert css(page.locator(".month-grid .event:has-text('Planning')").first, "--event-colour").strip() == "#8e24aa"
    page.goto(f"{base}/calendar/agenda?start={monday}")
    expect(page.locator(".agenda .event:has-text('Planning')")).to_have_css("border-left-color", purple)
    page.goto(f"{base}/search?q=Planning")
    expect(page.locator(".search-result .swatch").first).to_have_css("background-color", purple)

    # The Home calendar's picker shows the colour its cards have, whatever it was stored as.
    page.goto(f"{base}/connections/")
    home = page.locator('[data-connection-id]:has-text("Home") input[type=color]').input_value()
    page.goto(f"{base}/calendar/week/{monday}")
    expect(page.locator(".event:has-text('Dentist')")).to_have_css("background-color", rgb(home))


def test_a_double_booking_is_an_icon_and_a_hatched_edge_not_red(app, live_server, page, person):
    monday = person["monday"]
    with app.app_context():
        home = db.session.scalars(db.select(CalendarConnection).where(
            CalendarConnection.user_id == person["id"], CalendarConnection.calendar_name == "Home")).one()
        berlin_event(db.session, home, at(monday + timedelta(days=1), 15, 30), title="School run")
    log_in(page, live_server.url, person["email"])
    page.goto(f"{live_server.url}/calendar/week/{monday}")
    card = page.locator(".event:has-text('School run')")
    expect(card.locator(".overlap-mark")).to_be_visible()
    assert "repeating-linear-gradient" in card.evaluate("card => getComputedStyle(card, '::after').backgroundImage")
    assert css(card, "outline-style") == "none"
    assert css(card.locator(".overlap-mark"), "color") == "rgb(31, 31, 31)"
    screenshot(page, "double-booking-desktop")
