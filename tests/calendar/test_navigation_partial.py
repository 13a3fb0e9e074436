"""A step to another week moves only what changed: the sidebar's mini-month and calendar list stay in the browser
(hx-preserve) while they would be drawn the same, and come along when they change (another month, another view, a
calendar hidden)."""
from __future__ import annotations

import re

from tests.factories import make_event, utc

KEPT = 'id="mini-month" hx-preserve', 'id="calendar-list" hx-preserve'
# What a step to the next week weighs against the full page, six events that week (measured: 44 %; 92 % before).
PARTIAL_SHARE_AT_MOST = 0.46


def kept_header(html: str) -> str:
    return re.search(r'data-kept="([^"]+)"', html).group(1)


def navigate(client, url: str, kept: str):
    return client.get(url, headers={"HX-Request": "true", "HX-Target": "calendar", "X-Calendar-Kept": kept})


def test_the_next_week_keeps_the_sidebar_and_weighs_under_half_the_page(signed_in, db_session, calendar, csrf):
    for day in range(9, 14):
        make_event(db_session, calendar, utc(2024, 3, day, 9), title=f"Standup {day}")
        make_event(db_session, calendar, utc(2024, 3, day, 14), title=f"Review {day}")
    page = signed_in.get("/calendar/week/2024-03-04").get_data(as_text=True)

    step = navigate(signed_in, "/calendar/week/2024-03-11", kept_header(page))
    html = step.get_data(as_text=True)
    full = signed_in.get("/calendar/week/2024-03-11").get_data(as_text=True)

    assert all(marker in html for marker in KEPT) and "<!doctype" not in html
    assert "Standup 11" in html and "calendar-toggle" not in html  # the week's events, not the calendar list
    assert 'data-first="2024-03-11" data-last="2024-03-17"' in html  # for the mini-month's marks (calendar.js)
    assert "X-Calendar-Kept" in step.headers["Vary"]
    assert len(step.data) <= PARTIAL_SHARE_AT_MOST * len(full.encode()), (len(step.data), len(full.encode()))


def test_what_changed_beside_the_calendar_comes_along(signed_in, db_session, calendar, csrf):
    kept = kept_header(signed_in.get("/calendar/week/2024-03-04").get_data(as_text=True))

    another_month = navigate(signed_in, "/calendar/week/2024-04-08", kept).get_data(as_text=True)
    assert 'id="mini-month" hx-preserve' not in another_month and "April 2024" in another_month
    assert 'id="calendar-list" hx-preserve' in another_month

    another_view = navigate(signed_in, "/calendar/day/2024-03-05", kept).get_data(as_text=True)
    assert 'id="mini-month" hx-preserve' not in another_view  # its days now open the day view

    signed_in.post(f"/calendar/calendars/{calendar.id}/visibility", data={"visible": "0", "csrf_token": csrf})
    hidden = navigate(signed_in, "/calendar/week/2024-03-11", kept).get_data(as_text=True)
    assert 'id="calendar-list" hx-preserve' not in hidden and 'aria-pressed="false"' in hidden

    unknown = navigate(signed_in, "/calendar/week/2024-03-11", "made.up").get_data(as_text=True)
    assert not any(marker in unknown for marker in KEPT)
    plain = signed_in.get("/calendar/week/2024-03-11", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert not any(marker in plain for marker in KEPT)  # the live redraw and old tabs get everything
