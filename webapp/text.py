"""Control characters: PostgreSQL cannot store NUL in text, and the other C0/C1 controls are never part of what a
person typed. Tab, newline and carriage return stay allowed (descriptions are multi-line). Forms refuse them
(webapp.forms); values we keep without asking, such as a browser's User-Agent, lose them."""
from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def without_control_characters(text: str | None) -> str | None:
    return CONTROL_CHARACTERS.sub("", text) if text else text
