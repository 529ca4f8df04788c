"""Where the MRZ must be once the small QR placed the card: a narrow band, detected cheaply.

On every model's back the MRZ lies below the small QR and to one side of it, within a band
a few QR sides long and a few tall (INE's specimens and the synthetic cards differ in the
exact offsets and the QR's size relative to the line, so the band covers both with margin).
Running the text detector on that band alone, levelled at the card's text angle, feeds it
about a third of the pixels of the square around the QR it searches otherwise, with the
lines at the thickness it handles best: the same lines for about a third of the CPU. The
band is only a first try: when it yields no level MRZ, the usual searches follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps

from capture.mrz_lines import LineBox, find_mrz_lines
from capture.result import Quad

# The band in QR sides, from the QR's centre: along the text (negative: towards the line's start)
# and across it (positive: down the card). The line runs 6.6-7.8 QR sides depending on the
# model and starts 7.3 sides before the QR at most; lines 1-3 lie 0.9-3.7 sides below it.
_ALONG: Final = (-8.6, 2.8)
_ACROSS: Final = (0.6, 4.6)
_BAND_LONG_SIDE: Final = 512  # the detector's input: MRZ lines come out ~20 px thick
_MAX_TILT: Final = math.sin(math.radians(20))  # of a detected line in the level band
_LEVEL_DEGREES: Final = 4.0  # a line tilted more (perspective) is left to the usual searches

Detect = Callable[[Image.Image], list[LineBox]]


@dataclass(frozen=True)
class _Frame:
    """The band's pixels to working-image pixels: origin plus columns along u, rows along n."""

    ox: float
    oy: float
    ux: float
    uy: float
    pixel: float  # working pixels per band pixel

    def box(self, box: LineBox) -> LineBox:
        nx, ny = -self.uy, self.ux
        cx = self.ox + self.pixel * (box.cx * self.ux + box.cy * nx)
        cy = self.oy + self.pixel * (box.cx * self.uy + box.cy * ny)
        ux, uy = box.ux * self.ux + box.uy * nx, box.ux * self.uy + box.uy * ny
        return LineBox(cx, cy, ux, uy, box.length * self.pixel, box.thickness * self.pixel)


def band_lines(image: Image.Image, qr: Quad, scale: float, angle: float, detect: Detect) -> list[LineBox] | None:
    """The MRZ lines (working pixels) in the band the small QR `qr` (full-size pixels, `scale` working
    pixels per full-size one) places for text running at `angle` degrees; None if not found level there."""
    side = _mean_side(qr) * scale
    if side < 1:
        return None
    ux, uy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    nx, ny = -uy, ux
    cx = sum(p.x for p in qr.points) / 4 * scale
    cy = sum(p.y for p in qr.points) / 4 * scale
    ox = cx + _ALONG[0] * side * ux + _ACROSS[0] * side * nx
    oy = cy + _ALONG[0] * side * uy + _ACROSS[0] * side * ny
    length, height = (_ALONG[1] - _ALONG[0]) * side, (_ACROSS[1] - _ACROSS[0]) * side
    frame = _Frame(ox, oy, ux, uy, length / _BAND_LONG_SIDE)
    band = _levelled(image, frame, (_BAND_LONG_SIDE, max(8, round(_BAND_LONG_SIDE * height / length))))
    found = [b for b in detect(ImageOps.autocontrast(band, cutoff=1)) if abs(b.uy) < _MAX_TILT]
    lines = find_mrz_lines(found)
    if lines is None or abs(lines[0].uy) > math.sin(math.radians(_LEVEL_DEGREES)):
        return None
    return [frame.box(line) for line in lines]


def _levelled(image: Image.Image, frame: _Frame, size: tuple[int, int]) -> Image.Image:
    """The band cut out level at `size`: from a crop around it, shrunk by a whole factor first when
    large, so strokes don't alias."""
    nx, ny = -frame.uy, frame.ux
    width, height = size[0] * frame.pixel, size[1] * frame.pixel
    xs = [frame.ox + a * frame.ux + b * nx for a in (0, width) for b in (0, height)]
    ys = [frame.oy + a * frame.uy + b * ny for a in (0, width) for b in (0, height)]
    left, top = max(0, int(min(xs)) - 1), max(0, int(min(ys)) - 1)
    right, bottom = min(image.width, int(max(xs)) + 2), min(image.height, int(max(ys)) + 2)
    if right - left < 2 or bottom - top < 2:
        return Image.new("L", size, 128)
    factor = max(1, int(frame.pixel / 1.5))
    crop = image.crop((left, top, right, bottom))
    source = crop.reduce(factor) if factor > 1 else crop
    step = frame.pixel / factor
    # PIL's affine maps each band pixel to a source pixel.
    coefficients = (frame.ux * step, nx * step, (frame.ox - left) / factor,
                    frame.uy * step, ny * step, (frame.oy - top) / factor)
    return source.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR, fillcolor=128)


def _mean_side(quad: Quad) -> float:
    points = quad.points
    return sum(math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(points, points[1:] + points[:1], strict=True)) / 4
