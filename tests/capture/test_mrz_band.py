"""The MRZ band the small QR places: found with one small detector pass, and only a first try."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image

from capture.intake import WorkingImage, load_image
from capture.mrz import read_mrz
from capture.mrz_band import band_lines
from capture.mrz_lines import LineBox
from capture.mrz_ocr import CardHint, LineReader, MrzAttempts, card_hint, default_reader
from capture.pipeline import WORKING_LONG_SIDE, g_or_h_layout
from capture.qr import read_qr
from capture.result import Point, Quad
from capture.specimens import Condition, SpecimenIdentity, make_sample

TODAY = date(2026, 12, 1)


class CountingReader(LineReader):
    """The shared engine, recording the size of every detector input."""

    def __init__(self) -> None:
        super().__init__()
        self.detected: list[tuple[int, int]] = []
        shared = default_reader()
        shared.load()
        self._engine, self._charset = shared._engine, shared._charset

    def detect(self, image: Image.Image) -> list[LineBox]:
        self.detected.append(image.size)
        return super().detect(image)


@pytest.fixture(scope="module", params=["E", "H"])
def placed(request: pytest.FixtureRequest) -> tuple[SpecimenIdentity, WorkingImage, CardHint]:
    sample = make_sample(3, Condition.NOMINAL, 1, request.param)
    working = load_image(sample.data, long_side=WORKING_LONG_SIDE)
    qr = read_qr(working, deadline=math.inf)
    hint = card_hint(qr.symbols, g_or_h_layout=g_or_h_layout(qr))
    assert hint.placed
    return sample.identity, working, hint


def test_the_band_holds_the_mrz_level(placed: tuple[SpecimenIdentity, WorkingImage, CardHint]) -> None:
    _, working, hint = placed
    angle = hint.text_angles[0]
    lines = band_lines(working.image, hint.anchors[0], working.scale, angle, default_reader().detect)

    assert lines is not None and len(lines) == 3
    # Level at the card's angle, one line pitch apart, the width of a 30-character line each.
    for line in lines:
        assert abs(math.degrees(math.atan2(line.uy, line.ux)) - angle) % 180 < 3 or \
            abs(math.degrees(math.atan2(line.uy, line.ux)) - angle) % 180 > 177
    pitch = math.dist((lines[0].cx, lines[0].cy), (lines[1].cx, lines[1].cy))
    assert 14 < lines[0].length / pitch < 24


def test_a_placed_card_is_read_from_its_band_alone(placed: tuple[SpecimenIdentity, WorkingImage, CardHint]) -> None:
    identity, working, hint = placed
    reader = CountingReader()

    reading = read_mrz(working, deadline=math.inf, today=TODAY, hint=hint, reader=reader)

    assert reading.fields is not None and reading.fields.cic == identity.cic
    # One detector pass, on the band (much wider than tall), not on the square around the QR.
    assert len(reader.detected) == 1
    width, height = reader.detected[0]
    assert width > 2 * height


def test_a_band_in_the_wrong_place_falls_back_to_the_usual_searches(
    placed: tuple[SpecimenIdentity, WorkingImage, CardHint],
) -> None:
    identity, working, hint = placed
    # The QR said to be five sides further down the card: its band misses the MRZ, the searches still find it.
    qr = hint.anchors[0]
    side = math.dist((qr.top_left.x, qr.top_left.y), (qr.top_right.x, qr.top_right.y))
    angle = math.radians(hint.text_angles[0])
    dx, dy = -5 * side * math.sin(angle), 5 * side * math.cos(angle)
    moved = Quad(*(Point(round(p.x + dx), round(p.y + dy)) for p in qr.points))
    reader = CountingReader()

    reading = read_mrz(working, deadline=math.inf, today=TODAY, hint=replace(hint, anchors=(moved,)), reader=reader)

    assert reading.fields is not None and reading.fields.cic == identity.cic
    assert len(reader.detected) >= 2


def test_without_the_small_qr_there_is_no_band(placed: tuple[SpecimenIdentity, WorkingImage, CardHint]) -> None:
    _, working, hint = placed
    reader = CountingReader()
    unplaced = replace(hint, placed=False)

    next(iter(MrzAttempts(working, hint=unplaced, reader=reader)))

    width, height = reader.detected[0]
    assert width < 2 * height  # the square around the QR, as before
