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


# ---------------------------------------------------------------------------- telling calendars apart

# Two colours nearer than this (Euclidean distance in OKLab, where 0.02 is about the least a person notices) read
# as the same calendar at a glance: Google's #4285f4 and #1a73e8 are 0.06 apart, blue and green 0.25.
TOO_CLOSE = 0.1
# Almanac's own colours for calendars, in the order new calendars take them: Google-like tones, every two at least
# 0.14 apart (a test checks), none a warning colour (warnings are an icon and a pattern, never a calendar's red).
DEFAULT_PALETTE = (
    "#1a73e8", "#0b8043", "#e37400", "#8e24aa", "#d50000", "#f6bf26", "#795548", "#7cb342", "#b39ddb", "#9e69af",
    "#00acc1",
)


def _cube_root(value: float) -> float:
    return value ** (1 / 3) if value >= 0 else -((-value) ** (1 / 3))


@cache
def oklab(colour: str) -> tuple[float, float, float]:
    """A #rrggbb colour in Björn Ottosson's OKLab, where distances follow how different colours look."""
    r, g, b = (_channel(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    long = _cube_root(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b)
    medium = _cube_root(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b)
    short = _cube_root(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b)
    return (0.2104542553 * long + 0.7936177850 * medium - 0.0040720468 * short,
            1.9779984951 * long - 2.4285922050 * medium + 0.4505937099 * short,
            0.0259040371 * long + 0.7827717662 * medium - 0.8086757660 * short)


def colour_distance(first: str, second: str) -> float:
    return sum((a - b) ** 2 for a, b in zip(oklab(first.lower()), oklab(second.lower()), strict=True)) ** 0.5


def distinct_colour(wanted: str | None, taken: list[str]) -> str:
    """The colour a newly connected calendar gets: the provider's (`wanted`) when it is clearly apart from the
    user's other calendars (`taken`), else the first palette colour that is, else the palette colour furthest from
    all of them. A colour the user picks later is theirs, however close."""
    if wanted and all(colour_distance(wanted, other) >= TOO_CLOSE for other in taken):
        return wanted
    for colour in DEFAULT_PALETTE:
        if all(colour_distance(colour, other) >= TOO_CLOSE for other in taken):
            return colour
    return max(DEFAULT_PALETTE, key=lambda colour: min(colour_distance(colour, other) for other in taken))


# CSS colour names, which RFC 7986's COLOR property takes (clients show the nearest they have).
CSS_NAMES = {
    "black": "#000000", "dimgray": "#696969", "gray": "#808080", "darkgray": "#a9a9a9", "silver": "#c0c0c0",
    "white": "#ffffff", "maroon": "#800000", "darkred": "#8b0000", "firebrick": "#b22222", "red": "#ff0000",
    "crimson": "#dc143c", "indianred": "#cd5c5c", "salmon": "#fa8072", "tomato": "#ff6347", "orangered": "#ff4500",
    "darkorange": "#ff8c00", "orange": "#ffa500", "gold": "#ffd700", "yellow": "#ffff00", "khaki": "#f0e68c",
    "olive": "#808000", "olivedrab": "#6b8e23", "yellowgreen": "#9acd32", "lawngreen": "#7cfc00",
    "limegreen": "#32cd32", "green": "#008000", "forestgreen": "#228b22", "seagreen": "#2e8b57",
    "mediumseagreen": "#3cb371", "darkgreen": "#006400", "teal": "#008080", "darkcyan": "#008b8b",
    "lightseagreen": "#20b2aa", "turquoise": "#40e0d0", "darkturquoise": "#00ced1", "cadetblue": "#5f9ea0",
    "steelblue": "#4682b4", "dodgerblue": "#1e90ff", "deepskyblue": "#00bfff", "skyblue": "#87ceeb",
    "royalblue": "#4169e1", "blue": "#0000ff", "mediumblue": "#0000cd", "navy": "#000080",
    "cornflowerblue": "#6495ed", "slateblue": "#6a5acd", "mediumpurple": "#9370db", "rebeccapurple": "#663399",
    "darkorchid": "#9932cc", "darkviolet": "#9400d3", "purple": "#800080", "mediumorchid": "#ba55d3",
    "orchid": "#da70d6", "plum": "#dda0dd", "violet": "#ee82ee", "magenta": "#ff00ff", "mediumvioletred": "#c71585",
    "deeppink": "#ff1493", "hotpink": "#ff69b4", "pink": "#ffc0cb", "palevioletred": "#db7093", "brown": "#a52a2a",
    "sienna": "#a0522d", "saddlebrown": "#8b4513", "chocolate": "#d2691e", "peru": "#cd853f", "tan": "#d2b48c",
    "rosybrown": "#bc8f8f", "goldenrod": "#daa520", "darkgoldenrod": "#b8860b", "lightsteelblue": "#b0c4de",
    "lavender": "#e6e6fa", "thistle": "#d8bfd8", "slategray": "#708090", "lightgreen": "#90ee90",
}


@cache
def css_colour_name(colour: str) -> str:
    """The CSS colour name nearest to a #rrggbb colour, for a feed's COLOR."""
    return min(CSS_NAMES, key=lambda name: colour_distance(colour, CSS_NAMES[name]))
