"""Event descriptions in the provider's format: Google and Outlook often send HTML, CalDAV plain text.

Shown: HTML through nh3 (the Ammonia sanitiser) keeping only links, emphasis, paragraphs and lists, bare URLs made
links as in plain text; plain text escaped with its URLs linked. Edited: always as plain text, never tags. Saved:
an unchanged text keeps the provider's original; a changed one goes back in the format the description had (HTML
for an HTML description, lines as <br>), so the provider's own apps show it as before.
"""
from __future__ import annotations

import re

import lxml.html
import nh3
from lxml.etree import ParserError
from markupsafe import Markup, escape

from webapp.calendar.links import LINK_REL, URL_IN_TEXT, linkify, web_url

_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*[\s/>]|/[a-zA-Z]|!--)")
_BLOCK_TAGS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote")
SHOWN_TAGS = {"a", "b", "strong", "i", "em", "u", "s", "br", "p", "div", "span", "ul", "ol", "li", "blockquote",
              "code", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


def is_html(description: str | None) -> bool:
    return bool(description) and bool(_LOOKS_LIKE_HTML.search(description))


def _clean(html: str) -> str:
    return nh3.clean(html, tags=SHOWN_TAGS, attributes={"a": {"href"}}, url_schemes={"http", "https", "mailto"},
                     link_rel=LINK_REL, set_tag_attribute_values={"a": {"target": "_blank"}}, strip_comments=True)


def description_html(description: str | None) -> Markup:
    """What the event panel shows: sanitised HTML (links, bold, lists...) or escaped text, URLs linked."""
    if not description:
        return Markup("")
    if not is_html(description):
        return linkify(description)
    linked = []
    inside_link = 0
    for piece in _TAG_OR_TEXT.split(_clean(description)):
        if piece.startswith("<"):
            name = piece[1:].lstrip("/").split(" ", 1)[0].split(">", 1)[0].lower()
            if name == "a":
                inside_link += -1 if piece.startswith("</") else 1
            linked.append(piece)
        elif inside_link > 0:
            linked.append(piece)
        else:
            linked.append(URL_IN_TEXT.sub(_html_link, piece))
    # Cleaned twice: whatever the splitting above made of odd markup, only what the sanitiser allows is left.
    return Markup(_clean("".join(linked)))  # noqa: S704 (the sanitiser's output, nothing else)


def _html_link(match: re.Match) -> str:
    url = web_url(match.group(0).replace("&amp;", "&"))
    if url is None or any(character in url for character in "<>\"'"):
        return match.group(0)
    shown = escape(url)
    return f'<a href="{shown}">{shown}</a>'


def description_text(description: str | None) -> str:
    """Plain text of a description, for editing and for the feed. Line breaks survive and a link's target is kept
    next to its label."""
    if not is_html(description):
        return description or ""
    try:
        root = lxml.html.fragment_fromstring(description, create_parent="div")
    except (ParserError, ValueError):
        return description
    for hidden in root.xpath("//script|//style|//head|//title"):
        hidden.drop_tree()
    for element in root.iter("br", *_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    for anchor in root.iter("a"):
        target = web_url(anchor.get("href"))
        if target and target not in anchor.text_content():
            anchor.tail = f" ({target})" + (anchor.tail or "")
    text = root.text_content()
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _same_text(first: str, second: str) -> bool:
    return first.replace("\r\n", "\n").strip() == second.replace("\r\n", "\n").strip()


def provider_description(text: str | None, previous: str | None) -> str | None:
    """What a save stores (and pushes) for the description the user edited as `text`: the provider's original
    when the text is unchanged, HTML again (escaped, lines as <br>) when the original was HTML, else the text."""
    if text == previous or not is_html(previous):
        return text
    if _same_text(text or "", description_text(previous)):
        return previous
    if not text:
        return text
    return "<br>".join(str(escape(line)) for line in text.replace("\r\n", "\n").split("\n"))
