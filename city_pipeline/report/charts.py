"""Inline SVG charts, drawn in Python: the report needs no JavaScript library and no network.

Every drawn data mark carries the class `mark` (lines, bars, dots), so a test can tell a chart that
rendered data from an empty frame. Text inherits the page's Thai-capable font stack. Hovering a
mark shows its value through the SVG `<title>` element, which every browser supports natively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from city_pipeline.thai import BE_OFFSET, THAI_MONTHS_SHORT

WIDTH, HEIGHT = 760, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 56, 16, 40
PALETTE = ("#1f5fa8", "#d1495b", "#2a9d8f", "#7b4fa0", "#e07a1f", "#4d6b2f", "#8c564b", "#c2418d")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, float | None]]
    color: str


@dataclass(frozen=True)
class Band:
    """A horizontal background band (e.g. an AQI category) between two y values."""

    low: float
    high: float | None
    color: str
    label: str


def thai_short_date(day: date) -> str:
    return f"{day.day} {THAI_MONTHS_SHORT[day.month - 1]}"


def nice_step(span: float, target_ticks: int = 5) -> float:
    raw = max(span, 1e-9) / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def nice_max(value: float) -> float:
    step = nice_step(value)
    return round(max(step, math.ceil(value / step) * step), 10)


def fmt(value: float) -> str:
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


class Frame:
    """Plot area geometry and scales for a date x-axis and one or two numeric y-axes."""

    def __init__(
        self,
        first: date,
        last: date,
        y_max: float,
        y2_max: float | None = None,
        width: int = WIDTH,
        height: int = HEIGHT,
    ) -> None:
        self.first, self.last = first, last
        self.y_max, self.y2_max = y_max, y2_max
        self.width, self.height = width, height
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM

    @property
    def days(self) -> int:
        return max((self.last - self.first).days, 1)

    def x(self, day: date) -> float:
        return self.left + (day - self.first).days / self.days * (self.right - self.left)

    def slot(self) -> float:
        """Width of one day on the x axis."""
        return (self.right - self.left) / (self.days + 1)

    def y(self, value: float, secondary: bool = False) -> float:
        top = (self.y2_max if secondary else self.y_max) or 1
        clipped = min(max(value, 0), top)
        return self.bottom - clipped / top * (self.bottom - self.top)

    def axes(self, y_label: str, y2_label: str | None = None) -> list[str]:
        parts = ['<g class="axis">']
        step = nice_step(self.y_max)
        value = 0.0
        while value <= self.y_max + 1e-9:
            y = self.y(value)
            parts.append(
                f'<line class="grid" x1="{self.left}" x2="{self.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
            parts.append(
                f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(value)}</text>'
            )
            value += step
        if self.y2_max:
            step2, value = nice_step(self.y2_max), 0.0
            while value <= self.y2_max + 1e-9:
                y = self.y(value, secondary=True)
                parts.append(
                    f'<text x="{self.right + 6}" y="{y + 4:.1f}" text-anchor="start">'
                    f"{fmt(value)}</text>"
                )
                value += step2
        parts.append(
            f'<line class="baseline" x1="{self.left}" x2="{self.right}" '
            f'y1="{self.bottom}" y2="{self.bottom}"/>'
        )
        for day in date_ticks(self.first, self.last):
            # Thai date with the Buddhist Era year, the Gregorian date under it: every tick a year.
            x = self.x(day)
            parts.append(
                f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{self.bottom}" '
                f'y2="{self.bottom + 4}"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{self.bottom + 16}" text-anchor="middle">'
                f"{escape(thai_short_date(day))} {day.year + BE_OFFSET}"
                f'<tspan class="gregorian" x="{x:.1f}" dy="12">{day:%-d %b %Y}</tspan></text>'
            )
        middle = (self.top + self.bottom) / 2
        parts.append(
            f'<text class="axis-label" transform="translate(14,{middle:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
        if y2_label:
            parts.append(
                f'<text class="axis-label" transform="translate({self.width - 12},'
                f'{middle:.0f}) rotate(90)" text-anchor="middle">{escape(y2_label)}'
                "</text>"
            )
        parts.append("</g>")
        return parts


def date_ticks(first: date, last: date, target: int = 7) -> list[date]:
    """Tick days: the 1st (and 15th when the range is short) of each month inside the range."""
    span = max((last - first).days, 1)
    days_of_month = (1,) if span > 130 else (1, 15) if span > 20 else tuple(range(1, 32, 3))
    ticks, year, month = [], first.year, first.month
    while date(year, month, 1) <= last:
        for day in days_of_month:
            try:
                candidate = date(year, month, day)
            except ValueError:
                continue
            if first <= candidate <= last:
                ticks.append(candidate)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if len(ticks) > target:
        ticks = ticks[:: math.ceil(len(ticks) / target)]
    return ticks or [first]


def svg_open(title: str, chart_id: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart-svg" id="{chart_id}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
    )


def empty_chart(title: str, chart_id: str, message: str) -> str:
    return (
        svg_open(title, chart_id, height=80) + f'<text class="empty" x="{WIDTH / 2}" y="44" '
        f'text-anchor="middle">{escape(message)}</text></svg>'
    )


def legend(entries: Sequence[tuple[str, str, str]]) -> str:
    """HTML legend under a chart: (colour, label, kind) with kind line|bar|band|dash."""
    items = "".join(
        f'<li><span class="key key-{kind}" style="--key:{escape(color)}"></span>'
        f"{escape(label)}</li>"
        for color, label, kind in entries
    )
    return f'<ul class="legend">{items}</ul>'


def _line_path(
    frame: Frame, points: Sequence[tuple[date, float | None]], secondary: bool = False
) -> list[str]:
    """Path segments; a missing value breaks the line instead of drawing through the gap."""
    segments, current = [], []
    for day, value in sorted(points):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{frame.x(day):.1f},{frame.y(value, secondary):.1f}")
    if current:
        segments.append(current)
    return ["M" + " L".join(segment) for segment in segments]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    chart_id: str,
    y_label: str,
    bands: Sequence[Band] = (),
    threshold: tuple[float, str] | None = None,
) -> str:
    """Daily lines, one per series, over optional coloured bands and a dashed threshold line."""
    values = [v for s in series for _, v in s.points if v is not None and not math.isnan(v)]
    days = [d for s in series for d, _ in s.points]
    if not values:
        return empty_chart(title, chart_id, "ไม่มีข้อมูล · No data")
    top = max([*values, threshold[0] * 1.2 if threshold else 0])
    frame = Frame(min(days), max(days), nice_max(top))
    parts = [svg_open(title, chart_id)]
    for band in bands:
        if band.low >= frame.y_max:
            continue
        y_high = frame.y(band.high if band.high is not None else frame.y_max)
        parts.append(
            f'<rect class="band" x="{frame.left}" y="{y_high:.1f}" '
            f'width="{frame.right - frame.left}" height="{frame.y(band.low) - y_high:.1f}" '
            f'fill="{escape(band.color)}"><title>{escape(band.label)}</title></rect>'
        )
    parts += frame.axes(y_label)
    if threshold:
        # The label sits in the right margin beside the line's end, where no data is drawn.
        y = frame.y(threshold[0])
        parts.append(
            f'<line class="threshold" x1="{frame.left}" x2="{frame.right}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text class="threshold-label" x="{frame.right + 4}" '
            f'y="{y - 2:.1f}" text-anchor="start">'
            + "".join(
                f'<tspan x="{frame.right + 4}" dy="{0 if n == 0 else 12}">{escape(line)}</tspan>'
                for n, line in enumerate(threshold[1].split("\n"))
            )
            + "</text>"
        )
    for item in series:
        for path in _line_path(frame, item.points):
            parts.append(
                f'<path class="mark line" d="{path}" stroke="{escape(item.color)}">'
                f"<title>{escape(item.name)}</title></path>"
            )
        for day, value in item.points:
            if value is not None and not math.isnan(value):
                parts.append(
                    f'<circle class="mark dot" cx="{frame.x(day):.1f}" '
                    f'cy="{frame.y(value):.1f}" r="2.2" fill="{escape(item.color)}">'
                    f"<title>{escape(item.name)} {day.isoformat()}: {fmt(value)}</title>"
                    "</circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def bars_and_line(
    days: Sequence[date],
    bars: Sequence[float | None],
    line: Sequence[float | None],
    *,
    title: str,
    chart_id: str,
    bar_label: str,
    line_label: str,
    bar_color: str,
    line_color: str,
) -> str:
    """Daily bars on the left axis with a line on its own right axis (e.g. rain vs complaints)."""
    bar_values = [v for v in bars if v is not None and not math.isnan(v)]
    line_values = [v for v in line if v is not None and not math.isnan(v)]
    if not days or not (bar_values or line_values):
        return empty_chart(title, chart_id, "ไม่มีข้อมูล · No data")
    frame = Frame(
        min(days),
        max(days),
        nice_max(max(bar_values, default=1) or 1),
        nice_max(max(line_values, default=1) or 1),
    )
    parts = [svg_open(title, chart_id), *frame.axes(bar_label, line_label)]
    width = max(frame.slot() * 0.7, 1.0)
    for day, value in zip(days, bars, strict=True):
        if value is None or math.isnan(value) or value <= 0:
            continue
        y = frame.y(value)
        parts.append(
            f'<rect class="mark bar" x="{frame.x(day) - width / 2:.1f}" y="{y:.1f}" '
            f'width="{width:.1f}" height="{frame.bottom - y:.1f}" fill="{bar_color}">'
            f"<title>{day.isoformat()}: {fmt(value)}</title></rect>"
        )
    points = list(zip(days, line, strict=True))
    for path in _line_path(frame, points, secondary=True):
        parts.append(
            f'<path class="mark line" d="{path}" stroke="{line_color}">'
            f"<title>{escape(line_label)}</title></path>"
        )
    for day, value in points:
        if value:
            parts.append(
                f'<circle class="mark dot" cx="{frame.x(day):.1f}" '
                f'cy="{frame.y(value, True):.1f}" r="2.6" fill="{line_color}">'
                f"<title>{day.isoformat()}: {fmt(value)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def area_chart(
    points: Sequence[tuple[date, float | None]],
    *,
    title: str,
    chart_id: str,
    y_label: str,
    color: str,
    start_marker: date | None = None,
) -> str:
    """One daily series as a line over a light filled area (e.g. the complaint backlog);
    `start_marker` draws a labelled vertical line where counting starts."""
    values = [v for _, v in points if v is not None]
    if not values:
        return empty_chart(title, chart_id, "ไม่มีข้อมูล · No data")
    days = [d for d, _ in points]
    frame = Frame(min(days), max(days), nice_max(max(values) or 1))
    parts = [svg_open(title, chart_id), *frame.axes(y_label)]
    for path in _line_path(frame, points):
        first_x = path[1:].split(",")[0]
        last_x = path.rsplit(" L", 1)[-1].split(",")[0].lstrip("M")
        parts.append(
            f'<path class="area" d="{path} L{last_x},{frame.bottom} L{first_x},'
            f'{frame.bottom} Z" fill="{color}"/>'
        )
        parts.append(
            f'<path class="mark line" d="{path}" stroke="{color}">'
            f"<title>{escape(y_label)}</title></path>"
        )
    if start_marker is not None and frame.first <= start_marker <= frame.last:
        x = frame.x(start_marker)
        be_year = start_marker.year + BE_OFFSET
        label = f"เริ่มนับ {thai_short_date(start_marker)} {be_year} · counting starts"
        parts.append(
            f'<line class="threshold start-marker" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{frame.bottom}"/><text class="threshold-label" x="{x + 4:.1f}" '
            f'y="{frame.top + 12}" text-anchor="start">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    chart_id: str,
    color: str,
    value_label: str,
    digits: int | None = None,
) -> str:
    """Ranked horizontal bars with the label on the left and the value at the bar's end
    (`digits` decimals when given, else as `fmt` writes it)."""
    show = fmt if digits is None else (lambda v: f"{v:,.{digits}f}")
    items = [(label, value) for label, value in items if value is not None]
    if not items:
        return empty_chart(title, chart_id, "ไม่มีข้อมูล · No data")
    row, label_width, value_width, width = 24, 190, 50, 520
    height = row * len(items) + 30
    top = max(v for _, v in items) or 1
    span = width - label_width - value_width
    parts = [svg_open(title, chart_id, width=width, height=height)]
    for index, (label, value) in enumerate(items):
        y = 8 + index * row
        width = max(value / top * span, 1.5 if value > 0 else 0)
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(shown)}<title>{escape(label)}</title></text>"
        )
        parts.append(
            f'<rect class="mark bar" x="{label_width}" y="{y + 3}" width="{width:.1f}" '
            f'height="{row - 8}" rx="3" fill="{color}"><title>{escape(label)}: '
            f"{show(value)} {escape(value_label)}</title></rect>"
        )
        parts.append(
            f'<text class="value" x="{label_width + width + 6:.1f}" y="{y + 15}">'
            f"{show(value)}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="{label_width}" y="{height - 6}">'
        f"{escape(value_label)}</text></svg>"
    )
    return "".join(parts)
