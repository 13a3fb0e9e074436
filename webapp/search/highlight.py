"""Marking the searched words in provider text. Pure functions; everything that is not a <mark> is escaped.

Matching is done on a folded copy of the text (lower case, accents removed, as `almanac_unaccent` folds it in
the database), and the marks are put around the same characters of the original text.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from markupsafe import Markup, escape

# Letters unaccent spells out as more than one letter, or that Unicode does not decompose.
_SPELLED_OUT = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
# A word shorter than this only matches whole words (as the query matches them); longer ones match as prefixes.
PREFIX_MIN = 3
SNIPPET_CHARS = 160


def fold(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each of its characters the index of the original character it came from."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        lower = char.lower()
        spelled = "".join(_SPELLED_OUT.get(part, part) for part in lower)
        plain = "".join(part for part in unicodedata.normalize("NFKD", spelled) if not unicodedata.combining(part))
        folded.append(plain)
        origin.extend([index] * len(plain))
    return "".join(folded), origin


def _is_word_char(char: str) -> bool:
    return char.isalnum()


def match_spans(text: str, words: Sequence[str], *, anywhere: bool = False) -> list[tuple[int, int]]:
    """(start, end) ranges of `text` to mark: each word where a word of the text begins with it (whole words
    only for short ones); `anywhere` also accepts matches inside words, for what only trigrams found."""
    folded, origin = fold(text)
    spans = []
    for word in {word for word in words if word}:
        position = folded.find(word)
        while position != -1:
            end = position + len(word)
            starts_word = position == 0 or not _is_word_char(folded[position - 1])
            ends_word = end == len(folded) or not _is_word_char(folded[end])
            if anywhere or (starts_word and (len(word) >= PREFIX_MIN or ends_word)):
                spans.append((origin[position], origin[end - 1] + 1))
            position = folded.find(word, position + 1)
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, spans: list[tuple[int, int]]) -> Markup:
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(escape(text[position:start]))
        pieces.append(Markup("<mark>{}</mark>").format(text[start:end]))
        position = end
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def highlight(text: str | None, words: Sequence[str], *, anywhere: bool = False) -> Markup:
    """`text` escaped, with the searched words marked."""
    if not text:
        return Markup("")
    return _marked(text, match_spans(text, words, anywhere=anywhere))


def has_match(text: str | None, words: Sequence[str]) -> bool:
    return bool(text) and bool(match_spans(text, words))


def snippet(text: str | None, words: Sequence[str], width: int = SNIPPET_CHARS) -> Markup | None:
    """About `width` characters of `text` around its first match, marked; None when no word is in it."""
    if not text:
        return None
    spans = match_spans(text, words)
    if not spans:
        return None
    first_start = spans[0][0]
    start = max(0, first_start - width // 3)
    if start:
        # Begin at a word, not in the middle of one.
        space = text.find(" ", start, first_start)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", max(spans[0][1], start), end)
        end = space if space != -1 else end
    window = " ".join(text[start:end].split())  # one line: descriptions carry newlines and indentation
    marked = highlight(window, words)
    return Markup("{}{}{}").format("… " if start else "", marked, " …" if end < len(text) else "")
