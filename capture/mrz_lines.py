"""Geometry of MRZ text lines: detector boxes to straight, correctly bounded line strips.

The detector's boxes are raw: lines split in pieces, lines fused by blur, line ends clipped,
a line lost under glare. These functions turn them into the 2-3 MRZ lines, each with the
MRZ's full extent, and cut each line out as a horizontal strip for the recogniser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageFilter, ImageOps

_MIN_ASPECT: Final = 7.0  # an MRZ line is ~15x longer than tall; shorter boxes are other text
_MRZ_PITCH_PER_LENGTH: Final = 4.2 / 78.0  # line pitch over line length (30 characters)
_MAX_ANGLE_DIFF: Final = math.radians(6)
REC_HEIGHT: Final = 48  # the recogniser's input height
_PAD_ALONG: Final = 0.35  # of line thickness, at each end
_PAD_ACROSS: Final = 1.15


@dataclass(frozen=True)
class LineBox:
    """A detected text line: centre, unit direction along the text, length and thickness."""

    cx: float
    cy: float
    ux: float
    uy: float
    length: float
    thickness: float

    @property
    def normal(self) -> tuple[float, float]:
        """Unit vector across the line, 90 degrees clockwise from the direction (image y is down)."""
        return (-self.uy, self.ux)

    def scaled(self, factor: float, offset: tuple[float, float]) -> LineBox:
        return LineBox(
            self.cx * factor + offset[0], self.cy * factor + offset[1], self.ux, self.uy,
            self.length * factor, self.thickness * factor,
        )  # fmt: skip

    def reversed(self) -> LineBox:
        return LineBox(self.cx, self.cy, -self.ux, -self.uy, self.length, self.thickness)


def line_box(points: np.ndarray) -> LineBox:
    """A LineBox from a detector quadrilateral (4 x 2 corner points in order)."""
    p0, p1, p2, p3 = (points[i].astype(float) for i in range(4))
    along_a, along_b = p1 - p0, p2 - p3
    across_a, across_b = p3 - p0, p2 - p1
    if np.linalg.norm(along_a) < np.linalg.norm(across_a):
        along_a, along_b, across_a, across_b = across_a, across_b, along_a, along_b
    direction = (along_a + along_b) / 2
    length = float(np.linalg.norm(direction))
    ux, uy = direction / max(length, 1e-6)
    if ux < 0 or (ux == 0 and uy < 0):
        ux, uy = -ux, -uy  # canonical: left to right; reading direction is settled later
    centre = (p0 + p1 + p2 + p3) / 4
    thickness = float((np.linalg.norm(across_a) + np.linalg.norm(across_b)) / 2)
    return LineBox(float(centre[0]), float(centre[1]), float(ux), float(uy), length, thickness)


def _parallel(a: LineBox, b: LineBox) -> bool:
    return abs(a.ux * b.uy - a.uy * b.ux) < math.sin(_MAX_ANGLE_DIFF)


def _offsets(a: LineBox, b: LineBox) -> tuple[float, float]:
    """b's centre relative to a's, along and across a's direction."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    nx, ny = a.normal
    return (dx * a.ux + dy * a.uy, dx * nx + dy * ny)


def _collinear_pieces(a: LineBox, b: LineBox) -> bool:
    along, across = _offsets(a, b)
    touching = abs(along) < (a.length + b.length) / 2 + 2 * a.thickness
    return _parallel(a, b) and abs(across) < 0.5 * a.thickness and touching


def _merge(a: LineBox, b: LineBox) -> LineBox:
    along, _ = _offsets(a, b)
    start = min(-a.length / 2, along - b.length / 2)
    end = max(a.length / 2, along + b.length / 2)
    middle = (start + end) / 2
    thickness = max(a.thickness, b.thickness)
    return LineBox(a.cx + middle * a.ux, a.cy + middle * a.uy, a.ux, a.uy, end - start, thickness)


def merge_collinear(boxes: list[LineBox]) -> list[LineBox]:
    """Join pieces of one line that the detector split (often at `<<<<` runs)."""
    merged: list[LineBox] = []
    for box in sorted(boxes, key=lambda b: -b.length):
        for index, known in enumerate(merged):
            if _collinear_pieces(known, box):
                merged[index] = _merge(known, box)
                break
        else:
            merged.append(box)
    return merged


def _neighbours(a: LineBox, b: LineBox) -> bool:
    """Consecutive MRZ lines: parallel, about as long, one line pitch apart, not shifted."""
    along, across = _offsets(a, b)
    thickness = (a.thickness + b.thickness) / 2
    similar = abs(a.length - b.length) < 0.2 * max(a.length, b.length)
    # Line boxes are about one pitch thick; two pitches apart means a line is missing between.
    pitch_ok = 0.7 * thickness < abs(across) < 2.6 * thickness
    return _parallel(a, b) and similar and pitch_ok and abs(along) < 0.2 * a.length


def split_merged(box: LineBox) -> list[LineBox]:
    """Blur (motion, defocus) can fuse the MRZ lines into one box: cut it into lines again.

    MRZ lines are 30 characters (78 mm) long at a 4.2 mm pitch, so a box as long as a line
    but several pitches thick holds that many lines.
    """
    lines_thick = box.thickness / (box.length * _MRZ_PITCH_PER_LENGTH)
    # One line's box is ~1.1 pitches thick, or more when the detector cut the line short.
    count = 1 if lines_thick < 1.7 else 2 if lines_thick < 2.6 else 3
    if count == 1 or box.length < 3 * box.thickness or lines_thick > 3.6:
        return [box]
    nx, ny = box.normal
    offsets = [(i - (count - 1) / 2) * box.thickness / count for i in range(count)]
    return [
        LineBox(box.cx + o * nx, box.cy + o * ny, box.ux, box.uy, box.length, box.thickness / count) for o in offsets
    ]


def find_mrz_lines(boxes: list[LineBox]) -> list[LineBox] | None:
    """The MRZ lines in top-to-bottom order along the (provisional) normal, or None.

    Fused boxes are split only when the boxes as found form no group: a line the detector
    cut short looks thick for its length, and splitting it would invent a line.
    """
    merged = merge_collinear(boxes)
    best = _best_group(merged) or _best_group([line for box in merged for line in split_merged(box)])
    if best is None:
        return None
    first = best[0]
    ordered = _fill_gaps(sorted(best, key=lambda b: _offsets(first, b)[1]))
    return same_extent(ordered[:3])


def _fill_gaps(lines: list[LineBox]) -> list[LineBox]:
    """Put back a line the detector missed (glare), seen as a double gap between two lines."""
    result = [lines[0]]
    for line in lines[1:]:
        previous = result[-1]
        gap = _offsets(previous, line)[1]
        if abs(gap) > 1.6 * (previous.thickness + line.thickness) / 2:
            middle = LineBox(
                (previous.cx + line.cx) / 2, (previous.cy + line.cy) / 2, previous.ux, previous.uy,
                max(previous.length, line.length), (previous.thickness + line.thickness) / 2,
            )  # fmt: skip
            result.append(middle)
        result.append(line)
    return result


def _best_group(boxes: list[LineBox]) -> list[LineBox] | None:
    long = [b for b in boxes if b.length >= _MIN_ASPECT * b.thickness]
    best: list[LineBox] | None = None
    for seed in long:
        group = _grow(seed, long)
        if len(group) >= 2 and (best is None or _weight(group) > _weight(best)):
            best = group
    return best


def same_extent(lines: list[LineBox]) -> list[LineBox]:
    """All MRZ lines start and end at the same place: give each the group's full extent."""
    first = lines[0]
    start = min(_offsets(first, b)[0] - b.length / 2 for b in lines)
    end = max(_offsets(first, b)[0] + b.length / 2 for b in lines)
    return _with_extent(lines, start, end)


def _with_extent(lines: list[LineBox], start: float, end: float) -> list[LineBox]:
    """The lines spanning `start`..`end`, measured along the first line from its centre."""
    first = lines[0]
    middle = (start + end) / 2
    nx, ny = first.normal
    result = []
    for line in lines:
        across = _offsets(first, line)[1]
        cx = first.cx + middle * first.ux + across * nx
        cy = first.cy + middle * first.uy + across * ny
        result.append(LineBox(cx, cy, first.ux, first.uy, end - start, line.thickness))
    return result


def refine_extent(image: Image.Image, lines: list[LineBox]) -> list[LineBox]:
    """Stretch the lines to where their ink really starts and ends.

    Blur and glare make the detector clip line ends (sometimes half a line). The MRZ sits
    on a plain band, so scanning outwards along the lines, the text ends where a gap wider
    than a couple of characters begins. Where a glare spot stopped the scan, the line is
    stretched on that side to the length its line pitch implies: faint text may survive
    under the glare. Never shorter than detected, never longer than that length allows.
    """
    first = lines[0]
    reach = first.length * _PROFILE_REACH
    probe = _with_extent(lines, -first.length / 2 - reach, first.length / 2 + reach)
    columns = max(8, round(_PROFILE_HEIGHT * probe[0].length / first.thickness))
    # A profile needs few pixels: sample a whole-factor reduction (cheap, alias-free).
    factor = max(1, int(first.thickness / (2 * _PROFILE_HEIGHT)))
    small = image.reduce(factor) if factor > 1 else image
    scaled = [line.scaled(1 / factor, (0.0, 0.0)) for line in probe]
    strips = [np.asarray(_profile_strip(small, line, columns), dtype=np.float32) for line in scaled]
    ink = np.sum([strip.std(axis=0) for strip in strips], axis=0)
    brightness = np.mean([strip.mean(axis=0) for strip in strips], axis=0)
    per_column = probe[0].length / columns
    detected = (int(reach / per_column), int((reach + first.length) / per_column))
    gap = max(2, round(_INK_GAP_IN_THICKNESS * first.thickness / per_column))
    start, end = _ink_span(_inked(ink, brightness, detected), detected, gap=gap)
    start, end = _through_glare(brightness, detected, (start, end), round(_expected_length(lines) / per_column))
    origin = -first.length / 2 - reach
    start_along, end_along = origin + start * per_column, origin + end * per_column
    if end_along - start_along > 1.25 * _expected_length(lines):
        return lines
    return _with_extent(lines, start_along, end_along)


def _through_glare(
    brightness: np.ndarray, detected: tuple[int, int], span: tuple[int, int], expected: int
) -> tuple[int, int]:
    """Extend a span short of `expected` columns on each side where a bright spot stopped it."""
    start, end = span
    shortfall = expected - (end - start)
    if shortfall <= 0.1 * expected:
        return span
    band = float(np.median(brightness[detected[0] : detected[1]]))
    glare_before = start > 0 and brightness[max(0, start - 3) : start].mean() > _GLARE * band
    glare_after = end < len(brightness) and brightness[end : end + 3].mean() > _GLARE * band
    if glare_before and glare_after:
        return max(0, start - shortfall // 2), min(len(brightness), end + shortfall // 2)
    if glare_before:
        return max(0, start - shortfall), end
    if glare_after:
        return start, min(len(brightness), end + shortfall)
    return span


def _expected_length(lines: list[LineBox]) -> float:
    """A 30-character line's length, from the line pitch (or the line itself when alone)."""
    if len(lines) < 2:
        return lines[0].length
    pitch = abs(_offsets(lines[0], lines[-1])[1]) / (len(lines) - 1)
    return pitch / _MRZ_PITCH_PER_LENGTH


_GLARE: Final = 1.15  # brighter than the band by this factor: a specular spot
_PROFILE_REACH: Final = 0.6  # how far past each detected end to look, in line lengths
_INK_GAP_IN_THICKNESS: Final = 1.6  # about two character widths
_PROFILE_HEIGHT: Final = 12


def _profile_strip(image: Image.Image, line: LineBox, columns: int) -> Image.Image:
    return _sample(image, line, height=_PROFILE_HEIGHT, pad_across=1.0, width=columns)


def _inked(ink: np.ndarray, brightness: np.ndarray, detected: tuple[int, int]) -> np.ndarray:
    """Columns with text-like contrast on the MRZ band's background.

    Contrast alone would run on into a textured table beside the card; the band's
    brightness tells the card from the table (and from a glare spot).
    """
    first, last = max(0, detected[0]), min(len(ink), detected[1])
    if last <= first:
        return np.zeros(len(ink), dtype=bool)
    contrast = ink >= 0.35 * float(np.median(ink[first:last]))
    band = float(np.median(brightness[first:last]))
    on_band = np.abs(brightness - band) <= 0.3 * max(band, 1.0)
    return np.asarray(contrast & on_band)


def _ink_span(inked: np.ndarray, detected: tuple[int, int], *, gap: int) -> tuple[int, int]:
    """Grow `detected` outwards over inked columns, stopping at the first gap of `gap` columns."""
    first, last = max(0, detected[0]), min(len(inked), detected[1])
    if last <= first:
        return detected
    start = first
    for column in range(first - 1, -1, -1):
        if inked[column]:
            start = column
        elif start - column > gap:
            break
    end = last
    for column in range(last, len(inked)):
        if inked[column]:
            end = column + 1
        elif column - end > gap:
            break
    return start, end


def _grow(seed: LineBox, boxes: list[LineBox]) -> list[LineBox]:
    group = [seed]
    for box in boxes:
        if box not in group and any(_neighbours(member, box) for member in group):
            group.append(box)
    return group


def _weight(group: list[LineBox]) -> float:
    return sum(b.length for b in group[:3])


def cut_line(image: Image.Image, box: LineBox, *, pad_across: float = _PAD_ACROSS) -> Image.Image:
    """The line straightened into a horizontal strip at most `REC_HEIGHT` px tall."""
    height = max(8, min(REC_HEIGHT, round(box.thickness * pad_across)))
    return _sample(image, box, height=height, pad_across=pad_across, pad_along=_PAD_ALONG)


def _sample(
    image: Image.Image,
    box: LineBox,
    *,
    height: int,
    pad_across: float,
    pad_along: float = 0.0,
    width: int | None = None,
) -> Image.Image:
    """Resample the box (plus padding) into a `height`-px strip along its direction."""
    half_len = box.length / 2 + pad_along * box.thickness
    half_thick = max(box.thickness * pad_across / 2, 1.0)
    width = width or max(8, round(height * half_len / half_thick))
    nx, ny = box.normal
    reach_x = abs(half_len * box.ux) + abs(half_thick * nx) + 2
    reach_y = abs(half_len * box.uy) + abs(half_thick * ny) + 2
    left, top = max(0, int(box.cx - reach_x)), max(0, int(box.cy - reach_y))
    patch = image.crop((left, top, int(box.cx + reach_x) + 1, int(box.cy + reach_y) + 1))
    if 2 * half_thick > 2.5 * height:  # shrinking a lot: smooth first so strokes don't alias
        patch = patch.filter(ImageFilter.BoxBlur(half_thick / height))
    origin_x = box.cx - left - half_len * box.ux - half_thick * nx
    origin_y = box.cy - top - half_len * box.uy - half_thick * ny
    sx, sy = 2 * half_len / width, 2 * half_thick / height
    # PIL's affine maps output pixels to input pixels.
    coefficients = (box.ux * sx, nx * sy, origin_x, box.uy * sx, ny * sy, origin_y)
    return patch.transform((width, height), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR)


def enhance(strip: Image.Image) -> Image.Image:
    """Stretch contrast and sharpen: rescues dim and glare-washed lines."""
    return ImageOps.autocontrast(strip, cutoff=2).filter(ImageFilter.UnsharpMask(2, 120, 2))


def with_neighbours(lines: list[LineBox]) -> list[LineBox]:
    """A two-line group may be lines 2-3 or 1-2: add a line one pitch beyond each end.

    When the two are further apart than one line's thickness suggests, they may be lines
    1 and 3 with line 2 lost between them (blur fattens boxes, hiding the double gap), so
    the middle is added too. Stray strips cost recognition time, never a wrong value.
    """
    if len(lines) != 2:
        return lines
    first, second = lines
    dx, dy = second.cx - first.cx, second.cy - first.cy
    before = LineBox(first.cx - dx, first.cy - dy, first.ux, first.uy, first.length, first.thickness)
    after = LineBox(second.cx + dx, second.cy + dy, second.ux, second.uy, second.length, second.thickness)
    if math.hypot(dx, dy) < _MAYBE_DOUBLE_GAP * (first.thickness + second.thickness) / 2:
        return [before, first, second, after]
    thickness = (first.thickness + second.thickness) / 2
    middle = LineBox(first.cx + dx / 2, first.cy + dy / 2, first.ux, first.uy, first.length, thickness)
    return [before, first, middle, second, after]


_MAYBE_DOUBLE_GAP: Final = 1.2
