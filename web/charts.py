"""Charts drawn on the server as inline SVG: no script, no external service, readable without JavaScript.

Each function is pure (numbers in, markup out) and escapes every text it is given. The chart is an image with a
title and a description (`role="img"`, `<title>`, `<desc>`); the table printed beside it carries the same numbers
and is the accessible alternative. Colours come from presentation attributes (the CSP forbids inline styles) and
meet WCAG 2.1 contrast against white: text 4.5:1, bars and lines 3:1. Series are told apart by shape as well
(columns, a solid line, a dashed line), never by colour alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

INK = "#1a1a1a"  # 17.4:1 on white
BAR = "#0b5d3b"  # 7.6:1
LINE = "#8a1538"  # 9.0:1
GRID = "#767676"  # 4.5:1: the axis is a graphic that must be seen
WIDTH = 360  # about a phone's width in CSS pixels: 14-unit text stays about 14 px where most people read
FONT = 14
MARKED_DAYS = 31  # up to a month, each day's point is marked on the running-total lines


@dataclass(frozen=True)
class DayPoint:
    """One day of a daily chart: its label as the page writes dates, new that day, and the running totals."""

    label: str
    new: int
    cumulative: int
    cumulative_counted: int


def _number(value: int) -> str:
    return f"{value:,}"


def _frame(chart_id: str, title: str, description: str, height: int, body: list[Markup]) -> Markup:
    title_id, desc_id = f"{chart_id}-titulo", f"{chart_id}-desc"
    head = Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" role="img" viewBox="0 0 {} {}" '
                  'width="{}" height="{}" preserveAspectRatio="xMinYMin meet" aria-labelledby="{} {}" '
                  'font-family="system-ui, sans-serif" font-size="{}"><title id="{}">{}</title><desc id="{}">{}</desc>'
                  ).format(chart_id, WIDTH, height, WIDTH, height, title_id, desc_id, FONT, title_id, title, desc_id,
                           description)
    return head + Markup("").join(body) + Markup("</svg>")


def _text(x: float, y: float, words: str, *, anchor: str = "start") -> Markup:
    return Markup('<text x="{:.1f}" y="{:.1f}" fill="{}" text-anchor="{}">{}</text>').format(x, y, INK, anchor, words)


def _rect(x: float, y: float, width: float, height: float) -> Markup:
    return Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>').format(
        x, y, width, height, BAR)


def _line(points: str, colour: str, width: int, *, dashed: bool = False) -> Markup:
    dash = Markup(' stroke-dasharray="8 5"') if dashed else Markup("")
    return Markup('<polyline points="{}" fill="none" stroke="{}" stroke-width="{}"{}/>').format(
        points, colour, width, dash)


def bar_chart(*, chart_id: str, title: str, description: str, bars: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per (label, value), in the order given: the label above its bar, the value after it.
    Lengths are proportional to the largest value; a zero draws no bar but keeps its label and its 0."""
    row, top = 44, 8
    plot = WIDTH - 70  # room for the value printed after the longest bar
    largest = max((value for _label, value in bars), default=0)
    body: list[Markup] = []
    for index, (label, value) in enumerate(bars):
        y = top + index * row
        length = round(plot * value / largest) if largest else 0
        body.append(_text(0, y + FONT, label))
        if length:
            body.append(_rect(0, y + 20, length, 16))
        body.append(_text(length + 6, y + 33, _number(value)))
    bottom = top + max(len(bars), 1) * row
    body.append(_line(f"0.5,{top + 18} 0.5,{bottom}", GRID, 1))
    return _frame(chart_id, title, description, bottom + 4, body)


def _columns(days: Sequence[DayPoint], left: int, top: int, plot_w: int, plot_h: int) -> list[Markup]:
    largest = max((day.new for day in days), default=0)
    step = plot_w / max(len(days), 1)
    width = min(max(step * 0.7, 1.0), 24.0)  # a week's columns stay columns, not slabs
    body: list[Markup] = []
    for index, day in enumerate(days):
        height = plot_h * day.new / largest if largest else 0
        if height:
            body.append(_rect(left + index * step + (step - width) / 2, top + plot_h - height, width, height))
    return body


def _polyline(values: Sequence[int], largest: int, left: int, top: int, plot_w: int, plot_h: int,
              dashed: bool) -> Markup:
    step = plot_w / max(len(values), 1)
    points = " ".join(f"{left + (i + 0.5) * step:.1f},{top + plot_h - (plot_h * v / largest if largest else 0):.1f}"
                      for i, v in enumerate(values))
    line = _line(points, LINE if dashed else BAR, 3, dashed=dashed)
    if len(values) > MARKED_DAYS:
        return line
    # A day or a few: a line of one point draws nothing, so each point gets a mark (circle: sent; square: counted).
    marks = [(float(x), float(y)) for x, y in (point.split(",") for point in points.split())]
    return line + Markup("").join(_mark(x, y, square=dashed) for x, y in marks)


def _mark(x: float, y: float, *, square: bool) -> Markup:
    if square:
        return Markup('<rect x="{:.1f}" y="{:.1f}" width="8" height="8" fill="{}"/>').format(x - 4, y - 4, LINE)
    return Markup('<circle cx="{:.1f}" cy="{:.1f}" r="4.5" fill="{}"/>').format(x, y, BAR)


def _axis(left: int, top: int, plot_w: int, plot_h: int) -> Markup:
    return _line(f"{left},{top} {left},{top + plot_h} {left + plot_w},{top + plot_h}", GRID, 1)


@dataclass(frozen=True)
class DailyWords:
    """The daily chart's texts, in the page's language."""

    new: str  # the top panel's heading, followed by its largest value: "Nuevos por día (el mayor): 12"
    cumulative: str  # the bottom panel's heading, followed by the last running total
    sent: str  # the solid line's legend
    counted: str  # the dashed line's legend


def daily_chart(*, chart_id: str, title: str, description: str, days: Sequence[DayPoint],
                words: DailyWords) -> Markup:
    """Two panels over the same days: columns for the supports received each day, then two running totals (sent:
    solid line; counted in the Lista Nominal: dashed line). Each panel is scaled to its own largest value, printed
    at its top; the first and last dates are written under the bottom panel."""
    left, plot_w, plot_h, top = 8, WIDTH - 16, 110, 24
    body = [_text(0, FONT, f"{words.new}: {_number(max((d.new for d in days), default=0))}"),
            _axis(left, top, plot_w, plot_h), *_columns(days, left, top, plot_w, plot_h)]
    second = top + plot_h + 40
    largest = max((d.cumulative for d in days), default=0)
    body += [_text(0, second - 10, f"{words.cumulative}: {_number(largest)}"), _axis(left, second, plot_w, plot_h)]
    if days:
        body.append(_polyline([d.cumulative for d in days], largest, left, second, plot_w, plot_h, dashed=False))
        body.append(_polyline([d.cumulative_counted for d in days], largest, left, second, plot_w, plot_h,
                              dashed=True))
        base = second + plot_h + 18
        body += [_text(left, base, days[0].label), _text(left + plot_w, base, days[-1].label, anchor="end")]
    legend = second + plot_h + 44
    body += [_line(f"{left},{legend - 5} {left + 30},{legend - 5}", BAR, 3), _mark(left + 15, legend - 5, square=False),
             _text(left + 38, legend, words.sent),
             _line(f"{left},{legend + 17} {left + 30},{legend + 17}", LINE, 3, dashed=True),
             _mark(left + 15, legend + 17, square=True), _text(left + 38, legend + 22, words.counted)]
    return _frame(chart_id, title, description, legend + 30, body)
