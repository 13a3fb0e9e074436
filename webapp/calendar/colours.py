"""Event cards are filled with their calendar's colour; the text on them must stay readable (WCAG AA, 4.5:1).

The palettes below are the calendar colours the providers offer, so a test can check every one of them; the
choice itself works for any #rrggbb, since people and providers can pick custom colours too.
"""
from __future__ import annotations

from functools import cache

MIN_CONTRAST = 4.5
LIGHT_TEXT = "#ffffff"
# Near-black reads softer than black; black is the fallback for the few mid-tones where it is not enough.
DARK_TEXTS = ("#1f1f1f", "#000000")

# Google Calendar API `GET /colors`, the "calendar" palette (colorId 1–24), which CalendarList entries'
# backgroundColor comes from.
GOOGLE_CALENDAR_PALETTE = (
    "#ac725e", "#d06b64", "#f83a22", "#fa573c", "#ff7537", "#ffad46", "#42d692", "#16a765", "#7bd148", "#b3dc6c",
    "#fbe983", "#fad165", "#92e1c0", "#9fe1e7", "#9fc6e7", "#4986e7", "#9a9cff", "#b99aff", "#c2c2c2", "#cabdbf",
    "#cca6ac", "#f691b2", "#cd74e6", "#a47ae2",
)
# The colours Google Calendar's web UI offers for a calendar (Tomato … Cocoa), stored as custom RGB colours.
GOOGLE_UI_PALETTE = (
    "#d50000", "#e67c73", "#f4511e", "#f6bf26", "#33b679", "#0b8043", "#039be5", "#3f51b5", "#7986cb", "#8e24aa",
    "#616161", "#d81b60", "#ad1457", "#ef6c00", "#f09300", "#c0ca33", "#e4c441", "#7cb342", "#009688", "#4285f4",
    "#b39ddb", "#9e69af", "#a79b8e", "#795548",
)
# Outlook's calendar colours as Graph's `hexColor` reports them for the named `color` themes (lightBlue …
# lightRed) and the darker swatches of the newer Outlook palette.
OUTLOOK_PALETTE = (
    "#a6d1f5", "#87d28e", "#fcab73", "#c0c0c0", "#fde300", "#4fd1c5", "#ee8ad5", "#d5a26c", "#f1878a",
    "#0078d4", "#107c10", "#ca5010", "#69797e", "#c19c00", "#038387", "#c239b3", "#8e562e", "#d13438",
    "#5c2e91", "#4f6bed", "#e3008c", "#00b7c3",
)
# iCloud's default calendar colours (Red, Orange, Yellow, Green, Blue, Purple, Brown) as its CalDAV
# calendar-color reports them, alpha dropped.
APPLE_PALETTE = ("#ff2968", "#ff9500", "#ffcc00", "#63da38", "#1badf8", "#cc73e1", "#a2845e")

PROVIDER_PALETTES = {
    "Google (API)": GOOGLE_CALENDAR_PALETTE,
    "Google (web)": GOOGLE_UI_PALETTE,
    "Outlook": OUTLOOK_PALETTE,
    "iCloud": APPLE_PALETTE,
}


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a #rrggbb colour."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@cache
def text_colour_on(background: str) -> str:
    """White text where it reaches 4.5:1 on `background`, else the softest dark text that does.

    One of white and black always reaches about 4.58:1, so the answer always passes.
    """
    if contrast_ratio(LIGHT_TEXT, background) >= MIN_CONTRAST:
        return LIGHT_TEXT
    for dark in DARK_TEXTS:
        if contrast_ratio(dark, background) >= MIN_CONTRAST:
            return dark
    return DARK_TEXTS[-1]
