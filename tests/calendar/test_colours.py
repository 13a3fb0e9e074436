"""One colour per calendar, from one source: Almanac's palette keeps a user's calendars apart, a provider colour
too near another calendar's is replaced when the calendar is connected, and the connections picker, the pages and
the feed all show the same colour."""
from __future__ import annotations

import itertools
import re
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.factories import make_connection, make_event, new_google_account, utc
from tests.helpers import authorize, csrf_token_from, start_connect
from webapp.calendar.colours import (
    CSS_NAMES,
    DEFAULT_PALETTE,
    TOO_CLOSE,
    colour_distance,
    css_colour_name,
    distinct_colour,
)
from webapp.calendar.entries import safe_colour
from webapp.models import CalendarConnection, CalendarProvider


def test_every_two_palette_colours_are_clearly_apart():
    for first, second in itertools.combinations(DEFAULT_PALETTE, 2):
        assert colour_distance(first, second) >= 0.14, (first, second)
    assert colour_distance("#4285f4", "#1a73e8") < TOO_CLOSE  # Google's two blues read as one
    assert colour_distance("#4285f4", "#0b8043") > TOO_CLOSE


def test_a_provider_colour_is_kept_when_it_stands_apart_and_replaced_when_it_does_not():
    assert distinct_colour("#4285f4", []) == "#4285f4"
    assert distinct_colour("#4285f4", ["#0b8043"]) == "#4285f4"
    replaced = distinct_colour("#4285f4", ["#1a73e8"])  # near-identical blue: the first palette colour apart
    assert replaced == "#0b8043" and colour_distance(replaced, "#1a73e8") >= TOO_CLOSE
    assert distinct_colour(None, ["#1a73e8"]) == "#0b8043"
    crowded = list(DEFAULT_PALETTE)
    assert distinct_colour("#1a73e8", crowded) in DEFAULT_PALETTE  # all taken: the one furthest from the rest


def test_missing_colours_come_from_the_palette_and_the_picker_shows_the_card_colour(signed_in, db_session, user):
    plain = make_connection(db_session, user, calendar_name="Plain", calendar_color=None)
    make_event(db_session, plain, utc(2024, 3, 4, 9), title="Plain event")

    week = signed_in.get("/calendar/week/2024-03-04").get_data(as_text=True)
    page = signed_in.get("/connections/").get_data(as_text=True)

    colour = safe_colour(None, plain.id.int)
    assert colour in DEFAULT_PALETTE
    assert re.search(rf'data-event-id="[^"]+"[^>]*style="--event-colour: {colour};', week)
    assert re.search(rf'<input type="color" name="color" value="{colour}"[^>]*\s+hx-post="/connections/{plain.id}/',
                     page)


def test_connecting_gives_each_new_calendar_a_colour_apart_from_the_users_others(
        client, db_session, user, login, provider_servers, redis):
    make_connection(db_session, user, calendar_name="Outlook", provider=CalendarProvider.MICROSOFT,
                    calendar_color="#1a73e8")
    login(user)
    email = new_google_account(provider_servers)  # Work #4285f4 and Family #0b8043
    client.get(authorize(start_connect(client), email))

    rows = db_session.scalars(select(CalendarConnection).where(CalendarConnection.user_id == user.id)).all()
    colours = {row.calendar_name: row.calendar_color for row in rows}
    assert colours["Work"] != "#4285f4"  # Google's blue is too near the Outlook calendar's
    for first, second in itertools.combinations(colours.values(), 2):
        assert colour_distance(first, second) >= TOO_CLOSE, colours


def test_the_feed_names_each_events_calendar_colour(signed_in, db_session, user):
    work = make_connection(db_session, user, calendar_color="#0b8043")
    make_event(db_session, work, utc(2030, 3, 4, 9), title="Green meeting")
    csrf = csrf_token_from(signed_in.get("/settings/subscribe").get_data(as_text=True))
    page = signed_in.post("/settings/subscribe", data={"action": "issue", "csrf_token": csrf}).get_data(as_text=True)
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', page).group(1)

    feed = Calendar.from_ical(signed_in.get(urlsplit(url).path).data)

    (event,) = [component for component in feed.walk("VEVENT") if component["SUMMARY"] == "Green meeting"]
    assert str(event["COLOR"]) == css_colour_name("#0b8043") and str(event["COLOR"]) in CSS_NAMES
    assert colour_distance(CSS_NAMES[str(event["COLOR"])], "#0b8043") < 0.1


@pytest.mark.parametrize("colour", ["#1a73e8", "#d50000", "#f6bf26"])
def test_css_names_are_near(colour):
    assert colour_distance(CSS_NAMES[css_colour_name(colour)], colour) < 0.12
