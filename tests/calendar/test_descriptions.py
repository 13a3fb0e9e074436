"""Descriptions in the provider's format: HTML shown sanitised (nh3), edited as plain text, saved back as HTML when
it was HTML (unchanged: byte for byte the provider's), plain text left plain."""
from __future__ import annotations

import re

import pytest

from tests.factories import make_connection, make_event, utc
from tests.helpers import csrf_token_from, event_form
from webapp.calendar.descriptions import description_html, description_text, provider_description
from webapp.models import CalendarEvent, CalendarProvider

GOOGLE_HTML = ('Bring the <b>Q3 numbers</b>.<br><ul><li>Budget</li><li>Hiring</li></ul>'
               '<a href="https://docs.example/q3">Slides</a> and https://meet.example/q3'
               '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
               '<p style="color:red" onclick="alert(4)">End</p>')


def test_provider_html_is_shown_sanitised_with_its_links_bold_and_lists():
    shown = str(description_html(GOOGLE_HTML))

    assert "<b>Q3 numbers</b>" in shown and "<ul><li>Budget</li><li>Hiring</li></ul>" in shown
    assert re.search(r'<a href="https://docs.example/q3" [^>]*rel="noopener noreferrer nofollow"[^>]*>Slides</a>',
                     shown)
    assert re.search(r'<a href="https://meet.example/q3"[^>]*target="_blank"[^>]*>https://meet.example/q3</a>', shown)
    for hostile in ("<script", "alert(1)", "<img", "onerror", "javascript:", "onclick", "style="):
        assert hostile not in shown, hostile
    assert "<p>End</p>" in shown


def test_plain_text_stays_text_with_its_links():
    shown = str(description_html("Line one\nSee https://example.com/a?b=1&c=2 if a < b"))
    assert "if a &lt; b" in shown and 'href="https://example.com/a?b=1&amp;c=2"' in shown


def test_an_edited_text_goes_back_in_the_providers_format():
    text = description_text(GOOGLE_HTML)
    assert "<" not in text and "Q3 numbers" in text and "Budget\nHiring" in text

    assert provider_description(text, GOOGLE_HTML) == GOOGLE_HTML  # unchanged: the provider's own HTML
    assert provider_description(text.replace("\n", "\r\n") + "\n", GOOGLE_HTML) == GOOGLE_HTML
    assert provider_description("New <plan>\nline two", GOOGLE_HTML) == "New &lt;plan&gt;<br>line two"
    assert provider_description("Plain again", "Plain") == "Plain again"  # plain text stays plain
    assert provider_description("", GOOGLE_HTML) == ""


@pytest.mark.parametrize("changed", [False, True])
def test_the_edit_form_shows_text_and_saving_keeps_html(signed_in, db_session, user, changed):
    calendar = make_connection(db_session, user, provider=CalendarProvider.MICROSOFT)
    event = make_event(db_session, calendar, utc(2024, 3, 6, 9), utc(2024, 3, 6, 10), title="Review",
                       description=GOOGLE_HTML, provider_metadata={"bodyContentType": "html"})
    page = signed_in.get(f"/calendar/events/{event.id}/edit").get_data(as_text=True)
    textarea = re.search(r'<textarea[^>]*name="description"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "&lt;b&gt;" not in textarea and "Q3 numbers" in textarea and "Budget" in textarea

    text = description_text(GOOGLE_HTML) + ("\nAdded a line" if changed else "")
    response = signed_in.post(f"/calendar/events/{event.id}/edit", data=event_form(
        csrf_token_from(page), title="Review", start_date="2024-03-06", end_date="2024-03-06", description=text))
    assert response.status_code == 303

    saved = db_session.get(CalendarEvent, event.id).description
    if changed:
        assert saved.endswith("<br>Added a line") and "<script" not in saved and "Q3 numbers" in saved
    else:
        assert saved == GOOGLE_HTML
