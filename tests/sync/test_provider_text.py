"""Provider text a stranger controls (an invitation's title, place, notes, guest names) reaches no page with
control characters or bidi overrides, and every page isolates it in <bdi>, so it cannot reorder what is around it."""
from __future__ import annotations

import re

from tests.helpers import google_timed, live_events, soon

HIDDEN = ("\x1b", "\u202e", "\u202c", "\u2066", "\u2069")


def test_escape_and_right_to_left_override_in_a_synced_event_never_reach_a_page(google, run_sync, db_session,
                                                                                 client):
    connection, calendar_id, state = google
    start = soon(days=1)
    state.add_event(calendar_id, google_timed(
        "Pay\x1b[2J invoice\u202efdp.exe\u202c", start, location="Room\u2066 4\u2069\x1b",
        description="Line 1\x1b\n\tLine 2 \u202e!",
        attendees=[{"email": "eve@example.com", "displayName": "Eve\u202e\x1b"}]))
    run_sync(connection.id)
    (event,) = live_events(db_session, connection)
    assert (event.title, event.location, event.description) == (
        "Pay[2J invoicefdp.exe", "Room 4", "Line 1\n\tLine 2 !")
    assert event.attendees[0]["name"] == "Eve"

    day = start.date()
    pages = [f"/calendar/week/{day}", f"/calendar/day/{day}", f"/calendar/3day/{day}", f"/calendar/month/{day:%Y-%m}",
             f"/calendar/agenda?start={day}", f"/calendar/events/{event.id}", "/search?q=invoicefdp"]
    for path in pages:
        html = re.sub(r"</?mark>", "", client.get(path).get_data(as_text=True))
        assert not [character for character in HIDDEN if character in html], path
        assert re.search(r"<bdi[^>]*>Pay\[2J invoicefdp\.exe</bdi>", html), path
    panel = client.get(f"/calendar/events/{event.id}").get_data(as_text=True)
    for shown in ("Room 4", "Line 1\n\tLine 2 !", "Eve", "Work"):
        assert re.search(rf"<bdi[^>]*>{re.escape(shown)}</bdi>", panel), shown
