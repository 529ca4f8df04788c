"""Perspective correction: find the card's outline and warp it flat before the QR is read again.

A card photographed at a steep tilt shows its QR as a trapezoid whose finder patterns are
squashed unevenly; zxing looks for them with the 1:1:3:1:1 run pattern along rows and columns
and misses them when the foreshortening is strong. Warping the card back to its ID-1 rectangle
(ISO/IEC 7810: 85.60 x 53.98 mm) gives the finders their square shape again.

The outline is the largest bright convex quadrilateral (the card against its background),
found on a small copy of the photo; a photo whose card shows no clear outline, or a card that
is not foreshortened, is left alone. Nothing here decides a value: the rectified card is one
more input to the same QR reader, whose URL form and the QR's own error correction judge it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

import cv2
import numpy as np
from PIL import Image

from capture.intake import WorkingImage
from capture.qr import read_qr
from capture.result import Point, QrReading, Quad

CARD_ASPECT: Final = 85.60 / 53.98
# The outline is looked for at this size: a card filling a fifth of the photo still spans 120 px.
PROBE_SIDE: Final = 640
# A quadrilateral smaller than this share of the photo is a QR, a logo or table texture.
MIN_AREA_SHARE: Final = 0.04
# A card seen square-on has opposite edges of equal length; beyond this ratio (a tilt of about
# 15 degrees at arm's length) the QR's finders are squashed enough to be worth a second look.
FORESHORTENED_RATIO: Final = 1.08
# The flat card is drawn at the resolution of its longest edge, at most this wide.
MAX_RECTIFIED_WIDTH: Final = 2400
_APPROX_EPSILON: Final = 0.02  # of the outline's perimeter: rounded corners collapse to one point


@dataclass(frozen=True)
class Rectified:
    """The card warped flat (a working image whose pixels map back through `to_source`)."""

    image: WorkingImage
    to_source: np.ndarray  # 3x3 homography: rectified pixels -> the source image's pixels
    source_scale: float  # source pixels per full-size pixel

    def to_full(self, quad: Quad) -> Quad:
        """A quadrilateral found on the flat card, in the photo's full-size pixels."""
        points = np.array([[p.x, p.y] for p in quad.points], dtype=np.float64).reshape(-1, 1, 2)
        mapped = cv2.perspectiveTransform(points, self.to_source).reshape(-1, 2) / self.source_scale
        return Quad(*(Point(round(float(x)), round(float(y))) for x, y in mapped))


def card_outline(image: Image.Image) -> np.ndarray | None:
    """The card's four corners (top-left, top-right, bottom-right, bottom-left, in `image`'s
    pixels), or None when no card-sized bright quadrilateral stands out."""
    grey = np.asarray(image.convert("L"))
    factor = max(1.0, max(grey.shape) / PROBE_SIDE)
    small = cv2.resize(grey, (round(grey.shape[1] / factor), round(grey.shape[0] / factor)),
                       interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Closing joins the card's light areas across its dark print (QRs, MRZ) into one blob.
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    minimum = MIN_AREA_SHARE * small.shape[0] * small.shape[1]
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
        hull = cv2.convexHull(contour)
        if cv2.contourArea(hull) < minimum:
            break
        if _touches_border(hull, small.shape):
            continue  # the frame cuts it: its outline is the photo's edge, not the card's
        corners = cv2.approxPolyDP(hull, _APPROX_EPSILON * cv2.arcLength(hull, True), True)
        if len(corners) == 4:
            return _ordered(corners.reshape(4, 2).astype(np.float64) * factor)
    return None


def _touches_border(hull: np.ndarray, shape: tuple[int, ...]) -> bool:
    left, top, width, height = cv2.boundingRect(hull)
    return left <= 1 or top <= 1 or left + width >= shape[1] - 1 or top + height >= shape[0] - 1


def _ordered(corners: np.ndarray) -> np.ndarray:
    """Corners clockwise from the one whose following edge is a long one (the card's width),
    so the flat card comes out landscape; which way up is left to the readers."""
    centre = corners.mean(axis=0)
    angles = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    clockwise = corners[np.argsort(angles)]  # image y points down: increasing angle is clockwise
    edges = np.linalg.norm(np.roll(clockwise, -1, axis=0) - clockwise, axis=1)
    first = 0 if edges[0] + edges[2] >= edges[1] + edges[3] else 1
    return np.roll(clockwise, -first, axis=0)


def foreshortening(corners: np.ndarray) -> float:
    """How unequal the outline's opposite edges are: 1 for a card seen square-on."""
    edges = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
    return float(max(edges[0] / edges[2], edges[2] / edges[0], edges[1] / edges[3], edges[3] / edges[1]))


def rectify(source: WorkingImage, outline: np.ndarray) -> Rectified:
    """The card inside `outline` (the source image's pixels) warped to a flat ID-1 rectangle."""
    edges = np.linalg.norm(np.roll(outline, -1, axis=0) - outline, axis=1)
    width = min(MAX_RECTIFIED_WIDTH, round(max(edges[0], edges[2])))
    height = round(width / CARD_ASPECT)
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    to_flat = cv2.getPerspectiveTransform(outline.astype(np.float32), target)
    flat = cv2.warpPerspective(np.asarray(source.image.convert("L")), to_flat, (width, height),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    image = WorkingImage(image=Image.fromarray(flat), scale=1.0, full_size=(width, height), format=source.format)
    return Rectified(image=image, to_source=np.linalg.inv(to_flat), source_scale=source.scale)


def read_qr_flat(working: WorkingImage, load_full: Callable[[], WorkingImage | None] | None, *,
                 deadline: float) -> QrReading | None:
    """The QR reader run on the card warped flat, positions mapped back to the photo; None
    when the card is not foreshortened (or shows no outline), so there is nothing to retry."""
    outline = card_outline(working.image)
    if outline is None or foreshortening(outline) < FORESHORTENED_RATIO:
        return None
    full = load_full() if load_full is not None else None
    source = full if full is not None else working
    rectified = rectify(source, outline * (source.scale / working.scale))
    reading = read_qr(rectified.image, deadline=deadline)
    symbols = tuple(replace(symbol, position=rectified.to_full(symbol.position)) for symbol in reading.symbols)
    return replace(reading, symbols=symbols)
