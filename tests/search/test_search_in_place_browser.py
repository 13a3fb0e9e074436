"""Search in place: results drop down under the top bar's box while typing, Enter opens the full list, Esc closes
the dropdown (and returns from the full list), and choosing a result opens its week with the event's panel."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.factories import make_event, utc
from tests.helpers import PHONE, log_in, screenshot


def test_the_dropdown_lists_results_that_open_their_week_with_the_panel(signed_in, db_session, calendar):
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), title="Quarterly planning")
    htmx = {"HX-Request": "true"}

    dropdown = signed_in.get("/search/suggest?q=quarter", headers=htmx).get_data(as_text=True)

    assert 'id="search-dropdown" class="search-dropdown is-open"' in dropdown
    link = re.search(r'class="suggestion[^"]*" href="([^"]+)"', dropdown).group(1).replace("&amp;", "&")
    assert link == f"/calendar/week/2024-03-06?event={event.id}"
    assert 'href="/search?q=quarter"' in dropdown
    week = signed_in.get(link).get_data(as_text=True)
    assert 'id="event-panel" class="event-panel is-open"' in week and "Quarterly planning" in week
    assert signed_in.get("/search/suggest?q=quarter").status_code == 303  # without htmx: the results page
    assert "No events match" in signed_in.get("/search/suggest?q=zzzz", headers=htmx).get_data(as_text=True)


def test_search_in_place_in_the_browser(live_server, page, person):  # noqa: F811
    base = live_server.url
    log_in(page, base, person["email"])
    monday = person["monday"]
    page.goto(f"{base}/calendar/week/{monday + timedelta(days=14)}")  # another week: choosing must go there
    box = page.locator("[data-search-box]")
    box.click()
    page.keyboard.type("Dentis")
    dropdown = page.locator("#search-dropdown.is-open")
    expect(dropdown.locator(".suggestion-title")).to_have_text(["Dentist"])
    expect(box).to_have_attribute("aria-expanded", "true")
    screenshot(page, "search-dropdown-desktop")

    page.keyboard.press("Escape")  # closes, and the page has the focus again
    expect(page.locator("#search-dropdown.is-open")).to_have_count(0)
    expect(page.locator("#calendar")).to_be_focused()

    box.click()
    page.keyboard.type("Dentist")
    expect(dropdown.locator(".suggestion")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    expect(dropdown.locator(".suggestion").first).to_be_focused()
    page.keyboard.press("Enter")  # choosing a result: its week, with its panel
    page.wait_for_url(f"**/calendar/week/{monday}?event=*")
    expect(page.locator("#event-panel.is-open h2")).to_have_text("Dentist")

    box.fill("")
    box.click()
    page.keyboard.type("Dentist")
    expect(page.locator("#search-dropdown.is-open")).to_be_visible()
    page.keyboard.press("Enter")  # Enter in the box: the full list
    page.wait_for_url("**/search?q=Dentist")
    expect(page.locator(".search-result")).to_have_count(1)
    page.locator(".search-result").click()  # the focus in the results
    page.keyboard.press("Escape")  # and Esc returns to where the search began
    page.wait_for_url(f"**/calendar/week/{monday}?event=*")


def test_the_dropdown_on_a_phone(live_server, page, person):  # noqa: F811
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, person["email"])
    page.click("[data-menu-button]")
    page.wait_for_url("**/calendar/3day/*")  # the phone's own switch to three days leaves the menu open
    expect(page.locator("[data-search-box]")).to_be_visible()
    page.locator("[data-search-box]").click()
    page.keyboard.type("Plan")
    expect(page.locator("#search-dropdown.is-open .suggestion")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "search-dropdown-phone")
