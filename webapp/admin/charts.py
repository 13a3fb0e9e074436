"""Small server-rendered SVG charts: the geometry is computed here, the template only draws it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SPARK_WIDTH = 260
SPARK_HEIGHT = 56
BAR_WIDTH = 320
PADDING = 3


@dataclass(frozen=True)
class Sparkline:
    title: str
    points: str  # SVG polyline "x,y x,y …", empty when there is nothing to draw
    latest: str
    minimum: str
    maximum: str
    samples: int
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(title: str, unit: str, series: list[tuple[datetime, float]], since: datetime, until: datetime,
              width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> Sparkline:
    """A line over the time window [since, until]; x is time, y spans the series' own min..max."""
    if not series:
        return Sparkline(title, "", "no data", "", "", 0, width, height)
    values = [value for _, value in series]
    low, high = min(values), max(values)
    span_seconds = max((until - since).total_seconds(), 1)
    inner_width, inner_height = width - 2 * PADDING, height - 2 * PADDING

    def x(moment: datetime) -> float:
        return PADDING + inner_width * min(max((moment - since).total_seconds() / span_seconds, 0), 1)

    def y(value: float) -> float:
        if high == low:  # a flat series sits in the middle rather than on an edge
            return height / 2
        return PADDING + inner_height * (1 - (value - low) / (high - low))

    points = " ".join(f"{x(moment):.1f},{y(value):.1f}" for moment, value in series)
    return Sparkline(title, points, format_value(values[-1], unit), format_value(low, unit),
                     format_value(high, unit), len(series), width, height)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # px, proportional to the largest count


def bars(counts: list[tuple[str, int]], width: int = BAR_WIDTH) -> list[Bar]:
    largest = max((count for _, count in counts), default=0)
    return [Bar(label, count, round(width * count / largest, 1) if largest else 0) for label, count in counts]


def format_value(value: float, unit: str) -> str:
    if unit == "bytes":
        size = float(value)
        for suffix in ("B", "KB", "MB", "GB", "TB"):
            if size < 1024 or suffix == "TB":
                return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.1f} {suffix}"
            size /= 1024
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return f"{value:.1f} s"
    return f"{value:,.0f}"
