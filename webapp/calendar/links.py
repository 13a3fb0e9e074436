"""Links in provider text: only absolute http(s) URLs ever become links, each escaped and opened apart."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

URL_IN_TEXT = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
# Punctuation that usually ends the sentence around a URL rather than the URL itself.
_TRAILING_PUNCTUATION = ".,;:!?)]}"
LINK_REL = "noopener noreferrer nofollow"


def web_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL with a host, else None (no javascript:, data:, relative...)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url


def _link(url: str) -> Markup:
    return Markup('<a href="{}" rel="{}" target="_blank">{}</a>').format(url, LINK_REL, url)


def linkify(text: str | None) -> Markup:
    """Escape `text` and turn the http(s) URLs in it into links; nothing else becomes markup."""
    if not text:
        return Markup("")
    pieces = []
    position = 0
    for match in URL_IN_TEXT.finditer(text):
        candidate = match.group(0)
        while candidate and candidate[-1] in _TRAILING_PUNCTUATION:
            # Keep a closing bracket that the URL itself opened, as in Wikipedia links.
            if candidate[-1] == ")" and candidate.count("(") >= candidate.count(")"):
                break
            candidate = candidate[:-1]
        url = web_url(candidate)
        if url is None:
            continue
        pieces.append(escape(text[position:match.start()]))
        pieces.append(_link(url))
        position = match.start() + len(candidate)
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)
