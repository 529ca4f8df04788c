"""The server-rendered SVG charts: well-formed, accessible (an image with its title and description), every text
escaped, bars proportional to their values, and colours with enough contrast against white."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from web.charts import BAR, GRID, INK, LINE, DailyWords, DayPoint, bar_chart, daily_chart

SVG = "{http://www.w3.org/2000/svg}"
WORDS = DailyWords(new="Nuevos", cumulative="Acumulado", sent="Enviados", counted="En Lista Nominal")


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # raises on anything that is not well-formed XML


def _texts(svg: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in svg.iter(f"{SVG}text")]


def test_a_bar_chart_is_an_image_named_by_its_title_and_description() -> None:
    svg = _parse(bar_chart(chart_id="g", title="Apoyos por categoría", description="En Lista Nominal: 3",
                           bars=[("En Lista Nominal", 3), ("Con inconsistencia", 1)]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "g-titulo g-desc"
    assert svg.find(f"{SVG}title").text == "Apoyos por categoría"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}title").get("id") == "g-titulo"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "En Lista Nominal: 3"  # type: ignore[union-attr]


def test_bars_are_proportional_and_each_value_is_written() -> None:
    svg = _parse(bar_chart(chart_id="g", title="t", description="d",
                           bars=[("A", 1_200), ("B", 600), ("C", 0)]))
    widths = [float(rect.get("width", "0")) for rect in svg.iter(f"{SVG}rect")]
    assert len(widths) == 2  # a zero draws no bar
    assert widths[0] == pytest.approx(2 * widths[1], abs=1)
    texts = _texts(svg)
    assert texts == ["A", "1,200", "B", "600", "C", "0"]


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & =SUM(A1)'
    markup = bar_chart(chart_id="g", title=hostile, description=hostile, bars=[(hostile, 2)])
    assert "<script>" not in markup
    svg = _parse(markup)
    assert _texts(svg)[0] == hostile  # shown as the text it is
    markup = daily_chart(chart_id="d", title=hostile, description=hostile,
                         days=[DayPoint(hostile, 1, 1, 0)], words=DailyWords(hostile, hostile, hostile, hostile))
    assert "<script>" not in markup
    _parse(markup)


def test_an_empty_chart_is_still_a_valid_image() -> None:
    _parse(bar_chart(chart_id="g", title="t", description="d", bars=[]))
    svg = _parse(daily_chart(chart_id="d", title="t", description="d", days=[], words=WORDS))
    assert svg.get("role") == "img"


def test_the_daily_chart_draws_a_column_per_day_and_two_running_totals() -> None:
    days = [DayPoint("01/11/2026", 4, 4, 1), DayPoint("02/11/2026", 0, 4, 3), DayPoint("03/11/2026", 8, 12, 9)]
    svg = _parse(daily_chart(chart_id="d", title="Por día", description="3 días", days=days, words=WORDS))
    columns = [float(rect.get("height", "0")) for rect in svg.iter(f"{SVG}rect") if rect.get("fill") == BAR]
    assert len(columns) == 2 and columns[1] == pytest.approx(2 * columns[0], abs=0.2)
    lines = [line for line in svg.iter(f"{SVG}polyline") if line.get("stroke-width") == "3"][:2]
    assert len(lines) == 2
    assert [len((line.get("points") or "").split()) for line in lines] == [3, 3]
    dashed = [line for line in lines if line.get("stroke-dasharray")]
    assert len(dashed) == 1  # told apart by shape, not only colour
    texts = " ".join(_texts(svg))
    assert "Nuevos: 8" in texts and "Acumulado: 12" in texts and "01/11/2026" in texts and "03/11/2026" in texts


def test_a_single_day_is_still_drawn_on_the_running_totals() -> None:
    svg = _parse(daily_chart(chart_id="d", title="t", description="d", days=[DayPoint("30/11/2026", 5, 5, 2)],
                             words=WORDS))
    assert len(list(svg.iter(f"{SVG}circle"))) == 2  # sent: a circle (and its legend), as one point draws no line
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("fill") == LINE]) == 2  # counted: a square, and legend


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize(("colour", "needed"), [(INK, 4.5), (BAR, 3.0), (LINE, 3.0), (GRID, 3.0)])
def test_colours_meet_wcag_contrast_on_white(colour: str, needed: float) -> None:
    ratio = (1.0 + 0.05) / (_luminance(colour) + 0.05)
    assert ratio >= needed


def test_no_inline_style_or_script_the_csp_would_block() -> None:
    markup = bar_chart(chart_id="g", title="t", description="d", bars=[("A", 1)]) + daily_chart(
        chart_id="d", title="t", description="d", days=[DayPoint("x", 1, 1, 1)], words=WORDS)
    assert "style" not in markup and "<script" not in markup and "href" not in markup
