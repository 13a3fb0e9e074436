"""Provider text is untrusted: escaped everywhere, and only http(s) URLs ever become links."""
from zoneinfo import ZoneInfo

import pytest

from tests.factories import utc
from webapp.calendar.display import description_text, linkify, reminder_text, web_url, zone_note

LONDON = ZoneInfo("Europe/London")


def test_linkify_escapes_markup_and_links_only_web_urls():
    html = str(linkify('<img src=x onerror=alert(1)> see https://example.com/a?b=1&c=2. & "quotes"'))

    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert ('<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">'
            "https://example.com/a?b=1&amp;c=2</a>. &amp; &#34;quotes&#34;") in html


@pytest.mark.parametrize("text", [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/path",
])
def test_non_web_urls_never_become_links(text):
    html = str(linkify(text))

    assert "<a " not in html and "<script" not in html


def test_a_url_cannot_break_out_of_its_attribute():
    html = str(linkify('https://example.com/"onmouseover="alert(1)'))

    assert html.startswith('<a href="https://example.com/"') and "onmouseover=\"alert" not in html


def test_a_bracket_the_url_opened_stays_but_a_sentence_bracket_does_not():
    assert 'href="https://en.wikipedia.org/wiki/Foo_(bar)"' in str(linkify("https://en.wikipedia.org/wiki/Foo_(bar)"))
    assert 'href="https://example.com"' in str(linkify("(see https://example.com)"))


def test_html_descriptions_become_text_keeping_lines_and_link_targets():
    description = ('<p>Agenda:<br>1. Intro</p><script>alert(1)</script>'
                   '<a href="https://meet.example/abc">Join</a> <a href="javascript:alert(2)">Click</a>')

    text = description_text(description)

    assert text == "Agenda:\n1. Intro\nJoin (https://meet.example/abc) Click"
    html = str(linkify(text))
    assert 'href="https://meet.example/abc"' in html and "javascript" not in html and "<script" not in html


def test_plain_descriptions_with_angle_brackets_are_left_for_escaping():
    assert description_text("a < b and c > d") == "a < b and c > d"


@pytest.mark.parametrize(("url", "safe"), [
    ("https://calendar.google.com/event?eid=x", True),
    ("http://outlook.live.com/owa/?itemid=1", True),
    ("javascript:alert(1)", False),
    (" javascript:alert(1)", False),
    ("https://", False),
    ("/relative/path", False),
    (None, False),
])
def test_provider_links(url, safe):
    assert (web_url(url) is not None) is safe


def test_zone_note_names_the_events_own_clock_only_when_it_differs():
    start, end = utc(2024, 3, 4, 14), utc(2024, 3, 4, 15)

    assert zone_note(start, end, False, "America/New_York", LONDON) == "09:00 – 10:00 New York"
    assert zone_note(start, None, False, "America/New_York", LONDON) == "09:00 New York"
    assert zone_note(start, end, False, "Europe/Dublin", LONDON) == ""  # same clock in March
    assert zone_note(start, end, True, "America/New_York", LONDON) == ""
    assert zone_note(start, end, False, "Not/AZone", LONDON) == ""


@pytest.mark.parametrize(("reminder", "text"), [
    ({"method": "popup", "minutes": 10}, "10 minutes before (popup)"),
    ({"method": "email", "minutes": 1440}, "1 day before (email)"),
    ({"minutes": 120}, "2 hours before"),
    ({"method": "<b>", "minutes": 0}, "At the start"),
])
def test_reminders_in_words(reminder, text):
    assert reminder_text(reminder) == text
