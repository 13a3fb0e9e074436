"""/search over HTTP: what matches, the order, series, escaping, only the user's own events, and the page."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy import event as sqlalchemy_event

from tests.factories import make_connection, make_event, make_override, make_series, make_user
from webapp.extensions import db
from webapp.models import EventStatus


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def titles(response) -> list[str]:
    """Result titles in order, marks and the <bdi> around them removed."""
    html = response.get_data(as_text=True)
    return [unescape(re.sub(r"</?(mark|bdi)>", "", title))
            for title in re.findall(r'<a class="search-title" href="[^"]*">(.*?)</a>', html, re.S)]


def search(client, query: str, **headers):
    return client.get("/search", query_string={"q": query}, headers=headers)


def test_title_matches_rank_above_guests_and_notes_then_nearest_to_today(signed_in, db_session, calendar):
    soon = now() + timedelta(days=2)
    make_event(db_session, calendar, soon, title="Lunch", description="We will talk about the budget review.")
    make_event(db_session, calendar, soon - timedelta(days=200), title="Budget review (last year)")
    make_event(db_session, calendar, soon + timedelta(days=1), title="Budget review")
    make_event(db_session, calendar, soon + timedelta(days=60), title="Budget review, later")
    make_event(db_session, calendar, soon, title="Sync", attendees=[
        {"email": "budget.review@example.com", "name": "Review Board", "responseStatus": "accepted"}])
    make_event(db_session, calendar, soon, title="Budget planning")  # only one of the words

    response = search(signed_in, "budget review")

    assert response.status_code == 200
    assert titles(response) == ["Budget review", "Budget review, later", "Budget review (last year)", "Sync",
                                "Lunch"]


def test_accents_case_prefixes_and_addresses_all_match(signed_in, db_session, calendar):
    start = now() + timedelta(days=1)
    make_event(db_session, calendar, start, title="Café with Zoë Müller", location="Kraków")
    make_event(db_session, calendar, start, title="Vendor call", attendees=[
        {"email": "ann.lee@contoso.com", "name": "Ann Lee", "responseStatus": "needsAction"}])

    assert titles(search(signed_in, "zoe muller")) == ["Café with Zoë Müller"]
    assert titles(search(signed_in, "CAFE krakow")) == ["Café with Zoë Müller"]
    assert titles(search(signed_in, "mül")) == ["Café with Zoë Müller"]  # while typing
    assert titles(search(signed_in, "contoso")) == ["Vendor call"]
    assert titles(search(signed_in, "ann.lee@contoso.com")) == ["Vendor call"]


def test_partial_words_and_typos_are_found_by_trigrams_after_whole_words(signed_in, db_session, calendar):
    start = now() + timedelta(days=1)
    make_event(db_session, calendar, start, title="Quarterly conference")
    make_event(db_session, calendar, start + timedelta(days=1), title="Travel", description="conference hotel")

    assert titles(search(signed_in, "conference")) == ["Quarterly conference", "Travel"]
    assert titles(search(signed_in, "confrence")) == ["Quarterly conference"]  # a typo
    assert titles(search(signed_in, "quartely conf")) == ["Quarterly conference"]


def test_matches_are_marked_and_provider_text_is_escaped(signed_in, db_session, calendar):
    make_event(db_session, calendar, now() + timedelta(days=1), title='<script>alert("x")</script> Budget',
               location="<b>Room</b> budget", description="<p>Notes on the <i>budget</i></p><script>bad()</script>")

    html = search(signed_in, "budget").get_data(as_text=True)

    assert "<script>alert" not in html and "<b>Room" not in html
    assert '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <mark>Budget</mark>' in html
    assert '&lt;b&gt;Room&lt;/b&gt; <mark>budget</mark>' in html
    assert "Notes on the <mark>budget</mark>" in html  # the description's HTML is reduced to its text
    assert "bad()" not in html


def test_each_result_shows_its_calendar(signed_in, db_session, user, calendar):
    home = make_connection(db_session, user, calendar_name="Home & <Family>", calendar_color="#0f9d58",
                           is_visible=False)
    make_event(db_session, home, now() + timedelta(days=1), title="Dentist")

    html = search(signed_in, "dentist").get_data(as_text=True)

    assert "Home &amp; &lt;Family&gt;" in html
    assert "--event-colour: #0f9d58" in html
    assert "(hidden calendar)" in html  # hidden from the week, still searched


def test_a_series_is_found_once_at_its_occurrence_nearest_today(signed_in, db_session, calendar):
    today = now().replace(hour=9, minute=0, second=0)
    # Weekly, started a year ago on today's weekday: the nearest occurrence is today (or a week away).
    master = make_series(db_session, calendar, today - timedelta(weeks=52), "RRULE:FREQ=WEEKLY",
                         title="Piano lesson")
    # Today's occurrence was moved to tomorrow; the one after is cancelled.
    moved = make_override(db_session, master, today, start=today + timedelta(days=1), title="Piano lesson")
    make_override(db_session, master, today + timedelta(weeks=1), status=EventStatus.CANCELLED)

    response = search(signed_in, "piano")
    html = response.get_data(as_text=True)

    assert titles(response) == ["Piano lesson"]
    tomorrow = today + timedelta(days=1)
    assert f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b} {tomorrow.year}, 09:00 – 10:00" in html
    assert "Weekly on" in html
    assert f'href="/calendar/events/{moved.id}?view=week"' in html  # the moved occurrence opens its own row


def test_a_generated_occurrence_links_to_that_occurrence(signed_in, db_session, calendar):
    monday = (now() - timedelta(weeks=10)).replace(hour=8, minute=0, second=0)
    master = make_series(db_session, calendar, monday, "RRULE:FREQ=WEEKLY", title="Standup")

    html = search(signed_in, "standup").get_data(as_text=True)

    link = re.search(r'class="search-title" href="([^"]+)"', html).group(1)
    assert link.startswith(f"/calendar/events/{master.id}?at=")
    assert signed_in.get(link.replace("&amp;", "&")).status_code == 200


def test_a_renamed_occurrence_is_found_on_its_own(signed_in, db_session, calendar):
    start = (now() - timedelta(weeks=3)).replace(hour=8, minute=0, second=0)
    master = make_series(db_session, calendar, start, "RRULE:FREQ=WEEKLY", title="Standup")
    make_override(db_session, master, start + timedelta(weeks=4), title="Standup with the board")

    assert titles(search(signed_in, "board")) == ["Standup with the board"]
    assert titles(search(signed_in, "standup")) == ["Standup"]  # the series stands for its occurrences


def test_only_the_users_own_live_events_are_searched(signed_in, db_session, user, calendar):
    stranger = make_user(db_session)
    theirs = make_connection(db_session, stranger)
    start = now() + timedelta(days=1)
    make_event(db_session, theirs, start, title="Secret merger")
    make_event(db_session, calendar, start, title="Merger (cancelled)", status=EventStatus.CANCELLED)
    make_event(db_session, calendar, start, title="Merger (deleted)", deleted_at=now())
    removed = make_connection(db_session, user, deleted_at=now())
    make_event(db_session, removed, start, title="Merger on a removed calendar")
    make_event(db_session, calendar, start, title="Merger talks")

    assert titles(search(signed_in, "merger")) == ["Merger talks"]


def test_the_page_is_bookmarkable_and_htmx_gets_the_search_region(signed_in, db_session, calendar):
    make_event(db_session, calendar, now() + timedelta(days=1), title="Budget review")

    page = search(signed_in, "budget")
    partial = search(signed_in, "budget", **{"HX-Request": "true"})

    assert "<html" in page.get_data(as_text=True) and titles(page) == ["Budget review"]
    assert partial.get_data(as_text=True).lstrip().startswith('<section id="search"')
    assert titles(partial) == ["Budget review"]
    assert "HX-Request" in partial.headers["Vary"]
    assert 'value="budget"' in page.get_data(as_text=True)


def test_an_empty_or_unmatched_query_says_so(signed_in, db_session, calendar):
    assert "Search titles, places, guests and notes" in search(signed_in, "  ").get_data(as_text=True)
    assert "No events match “zzzz”." in search(signed_in, "zzzz").get_data(as_text=True)
    assert "No events match" in search(signed_in, "!!! ???").get_data(as_text=True)


def test_bad_page_numbers_get_a_clear_error(signed_in):
    response = signed_in.get("/search?q=x&page=0")
    assert response.status_code == 400
    assert "numbered from 1" in response.get_data(as_text=True)


def test_results_come_in_pages(signed_in, db_session, calendar):
    start = now() + timedelta(days=1)
    for day in range(55):
        make_event(db_session, calendar, start + timedelta(days=day), title=f"Yoga {day}")

    first = search(signed_in, "yoga")
    second = signed_in.get("/search?q=yoga&page=2")

    assert len(titles(first)) == 50 and titles(first)[0] == "Yoga 0"
    assert "More results" in first.get_data(as_text=True)
    assert titles(second) == [f"Yoga {day}" for day in range(50, 55)]
    assert "Previous results" in second.get_data(as_text=True)


def test_search_needs_a_login(client):
    response = client.get("/search?q=x")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_number_of_statements_does_not_grow_with_results(signed_in, db_session, calendar, app):
    statements = []

    def count(*_args):
        statements.append(1)

    def searched(query: str) -> int:
        statements.clear()
        with app.app_context():
            engine = db.engine
        sqlalchemy_event.listen(engine, "before_cursor_execute", count)
        try:
            assert search(signed_in, query).status_code == 200
        finally:
            sqlalchemy_event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    start = now() + timedelta(days=1)
    make_event(db_session, calendar, start, title="Rowing")
    make_series(db_session, calendar, start, "RRULE:FREQ=DAILY", title="Rowing drills")
    few = searched("rowing")
    for day in range(20):
        make_event(db_session, calendar, start + timedelta(days=day), title=f"Rowing {day}")
        make_series(db_session, calendar, start + timedelta(days=day), "RRULE:FREQ=WEEKLY", title=f"Rowing {day}")
    assert searched("rowing") == few


def test_any_text_can_be_stored_and_its_beginnings_searched(signed_in, db_session, calendar):
    """The search vector is built for every row a sync writes: no title may make it fail."""
    awkward = ["O'Brien's \\\\server\\share", "a:1B 'quoted' \"double\"", "C:\\path\\to\\file.ics ~tilde~",
               "emoji 🎉 party", "東京会議 in Kraków", "x" * 400, "https://zoom.us/j/123?pwd=a:b'c",
               "tab\tnew\nline", "back\\\\slash\\", "''''", "\\'\\'"]
    start = now() + timedelta(days=1)
    for title in awkward:
        make_event(db_session, calendar, start, title=title, location=title[:50],
                   attendees=[{"email": "o'neil@example.com", "name": title[:30]}])

    assert titles(search(signed_in, "o'brie")) == ["O'Brien's \\\\server\\share"]
    assert titles(search(signed_in, "kra")) == ["東京会議 in Kraków"]
    assert titles(search(signed_in, "part")) == ["emoji 🎉 party"]


def test_hyphenated_words_and_addresses_are_one_word(signed_in, db_session, calendar):
    start = now() + timedelta(days=1)
    make_event(db_session, calendar, start, title="Compliance catch-up", location="https://zoom.us/j/42")
    make_event(db_session, calendar, start, title="Catch the bus", description="up early")

    assert titles(search(signed_in, "compliance catch-up")) == ["Compliance catch-up"]
    assert titles(search(signed_in, "catch-u")) == ["Compliance catch-up"]  # while typing
    assert titles(search(signed_in, "zoom.us/j/42")) == ["Compliance catch-up"]
    assert titles(search(signed_in, "catch up")) == ["Compliance catch-up", "Catch the bus"]  # both in a title first
