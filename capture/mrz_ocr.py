"""OCR of the MRZ band with RapidOCR, without OCR-ing the whole photo.

RapidOCR's detector runs on a small copy (512 px, then 640) of the region where the card is
(around the small QR when it was read), turned so the text is level (the QR gives the
card's angle), the MRZ is picked out as 2-3 long parallel text lines (looked at again
closer when small, or re-levelled when tilted), and only those lines are cut out straight
from the larger working image and recognised. That costs a fraction of a whole-photo OCR
pass (~100 ms instead of ~1 s on one core) and works at any rotation. When the small QR was
read, the band below it where the MRZ must be is tried first (capture.mrz_band): a third of
the detector's pixels.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

import numpy as np
from PIL import Image, ImageOps

from capture import budget
from capture.card_hint import RE_AIM_DEGREES, CardHint
from capture.card_hint import card_hint as card_hint  # re-exported: where callers have always found it
from capture.intake import WorkingImage
from capture.mrz_band import band_lines
from capture.mrz_ctc import OcrLine, ShapeDecoder, greedy
from capture.mrz_lines import LineBox, cut_line, enhance, find_mrz_lines, line_box, refine_extent, with_neighbours
from capture.result import Point, Quad

# Detector input sizes: 512 px finds the MRZ on most photos in ~40 ms, 640 px on more in
# ~80 ms; 1024 px (whole image) is the last resort for small, distant cards.
_DET_SIDES: Final = (512, 640, 1024)
_MAX_TILT: Final = math.sin(math.radians(20))  # of a line in the turned detector image
# Lines thinner than this in the detector's input are looked at again closer, at about
# _CLOSE_UP_THICKNESS_PX (what the detector handles best).
_CLOSE_UP_BELOW_PX: Final = 12
_CLOSE_UP_THICKNESS_PX: Final = 24
# Rough worst-case seconds of one detector pass per input size (one core), so that a pass
# that cannot end before the deadline is not started.
_SEARCH_COST_S: Final = {512: 0.0, 640: 0.1, 1024: 0.4}
_REC_COST_PER_STRIP_S: Final = 0.05
# Around a QR of side s the card reaches at most ~6.6 s (small QR, 13 mm on an 85.6 mm card).
_CARD_REACH_IN_QR_SIDES: Final = 7.0

Loader = Callable[[], WorkingImage | None]


class LineReader:
    """RapidOCR, built once on first use and shared by every decode thread.

    The lock guards only the loading: inference runs unlocked, so two decode threads use two
    cores (onnxruntime's `run` is thread-safe and releases the GIL). That holds because no call
    here writes to the engine: the detector's per-call input size (which RapidOCR's own
    `TextDetector.__call__` stores on the object) is passed in a preprocessor of each call's own.
    One intra-op thread because a phone photo's few short lines are too small for threads to pay off.
    """

    def __init__(self) -> None:
        self._engine: Any = None
        self._charset: list[str] = []
        self._decoders: dict[tuple[str, ...], ShapeDecoder] = {}
        self._lock = threading.RLock()

    def _get(self) -> Any:
        engine = self._engine
        if engine is not None:  # loaded: no lock, so decode threads never wait on each other here
            return engine
        with self._lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                from capture.ocr_fusion import fused_session

                engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
                engine.text_det.limit_type = "max"
                # The two models every photo runs, with cheaper activations (capture/ocr_fusion.py).
                engine.text_det.infer.session = fused_session(engine.text_det.infer.session)
                engine.text_rec.session.session = fused_session(engine.text_rec.session.session)
                self._charset = list(engine.text_rec.postprocess_op.character)
                self._engine = engine
            return self._engine

    def load(self) -> None:
        """Load the models now: the first load takes seconds, which must not come out of a photo's time budget."""
        self._get()

    def decoder(self, shape: tuple[str, ...]) -> ShapeDecoder:
        """A decoder constraining this recogniser's output to `shape` (built once per shape)."""
        known = self._decoders.get(shape)
        if known is not None:
            return known
        with self._lock:
            if shape not in self._decoders:
                self._get()
                self._decoders[shape] = ShapeDecoder(shape, self._charset)
            return self._decoders[shape]

    def detect(self, image: Image.Image) -> list[LineBox]:
        """Text lines in `image` (already downscaled for the detector), in its pixels."""
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        detector = self._get().text_det
        pixels = _bgr(image)
        # RapidOCR's TextDetector.__call__, with this call's own preprocessor instead of one stored on the engine.
        prepared = DetPreProcess(max(image.size), "max", detector.mean, detector.std)(pixels)
        if prepared is None:
            return []
        boxes, _ = detector.postprocess_op(detector.infer(prepared)[0], pixels.shape[:2])
        boxes = detector.filter_tag_det_res(boxes, pixels.shape[:2])
        return [line_box(points) for points in boxes]

    def upside_down(self, crops: list[Image.Image]) -> bool:
        """The orientation classifier's majority vote over the cut-out lines."""
        _, labels, _ = self._get().text_cls([_bgr(c) for c in crops])
        return sum(1 for label, _ in labels if label == "180") * 2 > len(labels)

    def recognize(self, crops: list[Image.Image]) -> list[OcrLine]:
        """Each strip's reading with per-character confidences and the raw probabilities.

        This is RapidOCR's recogniser step (`TextRecognizer.__call__`: same resizing and
        batching) without its final decoding, which keeps only a mean score per line.
        """
        recognizer = self._get().text_rec
        images = [_bgr(c) for c in crops]
        _, height, width = recognizer.rec_image_shape
        ratio = max(width / height, *(image.shape[1] / image.shape[0] for image in images))
        # One strip per run, padded to the common width as a batch would be (the same outputs, bit for bit):
        # one-thread onnxruntime spends ~15% more CPU on a batch of long strips than on the strips one by one.
        strips = (recognizer.resize_norm_img(image, ratio)[None].astype(np.float32) for image in images)
        return [greedy(recognizer.session(strip)[0][0], self._charset) for strip in strips]


_DEFAULT_READER = LineReader()


def default_reader() -> LineReader:
    return _DEFAULT_READER


def _bgr(image: Image.Image) -> np.ndarray:
    grey = np.asarray(image.convert("L"))
    return np.ascontiguousarray(np.stack([grey, grey, grey], axis=-1))


def _anchor_window(working: WorkingImage, anchors: tuple[Quad, ...]) -> tuple[int, int, int, int] | None:
    """A square around the QR codes, in working pixels, big enough to hold the card."""
    if not anchors:
        return None
    smallest = min(anchors, key=lambda q: q.bounds()[2] - q.bounds()[0])
    left, top, right, bottom = smallest.bounds()
    reach = _CARD_REACH_IN_QR_SIDES * max(right - left, bottom - top) * working.scale
    cx, cy = (left + right) / 2 * working.scale, (top + bottom) / 2 * working.scale
    width, height = working.image.size
    box = (max(0, int(cx - reach)), max(0, int(cy - reach)), min(width, int(cx + reach)), min(height, int(cy + reach)))
    covers_most = (box[2] - box[0]) * (box[3] - box[1]) > 0.8 * width * height
    return None if covers_most else box


def _tilt(line: LineBox, angle: float) -> float:
    """How far (degrees, -90..90) the line's axis is from the direction `angle`."""
    difference = math.degrees(math.atan2(line.uy, line.ux)) - angle
    return (difference + 90) % 180 - 90


def _mrz_likeness(lines: list[OcrLine]) -> int:
    """How much recognised text looks like MRZ lines read the right way up: digits, fillers."""
    return sum(1 for line in lines for char in line.text if char.isdigit() or char == "<")


def _turned(lines: list[LineBox]) -> list[LineBox]:
    """The same lines read the other way round (the photo upside down)."""
    return [b.reversed() for b in reversed(lines)]


@dataclass(frozen=True)
class _Search:
    """One detector pass: a region of the working image, turned so text runs left to right."""

    region: tuple[int, int, int, int]
    angle: float
    side: int
    upright: bool = False


def _rotate_back(box: LineBox, angle: float, turned_size: tuple[int, int], size: tuple[int, int]) -> LineBox:
    """Undo PIL's `rotate(angle, expand=True)` on a box found in the turned image."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    dx, dy = box.cx - turned_size[0] / 2, box.cy - turned_size[1] / 2
    cx, cy = size[0] / 2 + cos * dx - sin * dy, size[1] / 2 + sin * dx + cos * dy
    ux, uy = cos * box.ux - sin * box.uy, sin * box.ux + cos * box.uy
    return LineBox(cx, cy, ux, uy, box.length, box.thickness)


class MrzAttempts:
    """The OCR readings of the MRZ to try, cheapest first, as lists of line texts.

    Lazy: each reading is computed only when the consumer asks for it, so stopping at the
    deadline or at the first check-digit-valid reading wastes nothing.
    """

    band_first = True  # subclasses searching elsewhere (capture.mrz_whole) skip the band

    def __init__(
        self,
        working: WorkingImage,
        *,
        hint: CardHint | None = None,
        reader: LineReader | None = None,
        load_full: Loader | None = None,
        names: bool = False,
        deadline: float = math.inf,
    ) -> None:
        self.working = working
        self.names = names
        self.deadline = deadline
        self.last_boxes: list[LineBox] = []
        self.hint = hint or CardHint()
        self.reader = reader or default_reader()
        self.load_full = load_full

    def __iter__(self) -> Iterator[list[OcrLine]]:
        yield from self._band_readings()
        for search in self._searches():
            if budget.now() + _SEARCH_COST_S.get(search.side, 0.0) > self.deadline:
                return
            lines = self._locate(search)
            if lines is not None:
                yield from self._readings(lines, upright=search.upright)
                return

    def _band_readings(self) -> Iterator[list[OcrLine]]:
        """The first readings, of the lines found in the band the small QR places (capture.mrz_band): a third
        of a search's detector CPU. Only the cheapest readings: if they fail, the usual searches follow."""
        if not (self.band_first and self.hint.placed) or budget.now() > self.deadline:
            return
        angle = self.hint.text_angles[0]
        lines = band_lines(self.working.image, self.hint.anchors[0], self.working.scale, angle, self.reader.detect)
        if lines is not None:
            upright = self.hint.upright
            yield from islice(self._readings(refine_extent(self.working.image, lines), upright=upright),
                              1 if upright else 2)

    def _searches(self) -> Iterator[_Search]:
        whole = (0, 0, *self.working.image.size)
        window = _anchor_window(self.working, self.hint.anchors)
        for index, angle in enumerate(self.hint.text_angles):
            upright = self.hint.upright and index == 0
            yield _Search(window or whole, angle, _DET_SIDES[0], upright)
            yield _Search(window or whole, angle, _DET_SIDES[1], upright)
        first = self.hint.text_angles[0]
        if window is not None:
            yield _Search(whole, first, _DET_SIDES[1], self.hint.upright)
        if max(self.working.image.size) > _DET_SIDES[1] * 1.2:
            # Last resort for a small, far card; unturned, as turning would enlarge the input.
            yield _Search(whole, 0.0, _DET_SIDES[2])

    def _locate(self, search: _Search) -> list[LineBox] | None:
        """Detect at the search's angle; if the MRZ comes out tilted (perspective, a QR far
        from the MRZ), detect once more turned by the tilt: the detector is precise only
        on level text. If it came out small (a distant card), detect once more on a
        close-up of it: small text gets fused, split or clipped boxes."""
        lines = self._detect_in(search.region, search.side, search.angle)
        if lines is None:
            return None
        tilt = _tilt(lines[0], search.angle)
        if abs(tilt) > RE_AIM_DEGREES:
            lines = self._detect_in(search.region, search.side, search.angle + tilt) or lines
        if self._seen_small(lines, search):
            lines = self._close_up(lines, search.angle + tilt) or lines
        return refine_extent(self.working.image, lines)

    def _detect_in(self, region: tuple[int, int, int, int], side: int, angle: float) -> list[LineBox] | None:
        """MRZ lines found in `region` of the working image, shrunk to at most `side` px."""
        crop = self.working.image.crop(region)
        factor = min(1.0, side / max(crop.size))
        size = (max(1, round(crop.width * factor)), max(1, round(crop.height * factor)))
        small = ImageOps.autocontrast(crop.resize(size, Image.Resampling.BICUBIC), cutoff=1)
        lines = self._detect_lines(small, angle)
        if lines is None:
            return None
        return [b.scaled(1 / factor, (float(region[0]), float(region[1]))) for b in lines]

    def _seen_small(self, lines: list[LineBox], search: _Search) -> bool:
        left, top, right, bottom = search.region
        factor = min(1.0, search.side / max(right - left, bottom - top))
        return min(b.thickness for b in lines) * factor < _CLOSE_UP_BELOW_PX

    def _close_up(self, lines: list[LineBox], angle: float) -> list[LineBox] | None:
        """Detect again on a crop around the lines, scaled so they are comfortably large."""
        first = lines[0]
        reach = first.length * 0.8
        cx = sum(b.cx for b in lines) / len(lines)
        cy = sum(b.cy for b in lines) / len(lines)
        width, height = self.working.image.size
        left, top = max(0, int(cx - reach)), max(0, int(cy - reach))
        region = (left, top, min(width, int(cx + reach)), min(height, int(cy + reach)))
        side = max(region[2] - region[0], region[3] - region[1])
        wanted = round(side * _CLOSE_UP_THICKNESS_PX / first.thickness)
        return self._detect_in(region, min(wanted, _DET_SIDES[1]), angle)

    def _detect_lines(self, small: Image.Image, angle: float) -> list[LineBox] | None:
        turned = small.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=128)
        # Only text running across the turned image: at a wrong angle the MRZ shows as
        # vertical stacks of characters, which must not pass for lines.
        found = [b for b in self.reader.detect(turned) if abs(b.uy) < _MAX_TILT]
        return find_mrz_lines([_rotate_back(b, angle, turned.size, small.size) for b in found])

    def _readings(self, lines: list[LineBox], *, upright: bool) -> Iterator[list[OcrLine]]:
        """Recognition attempts on the located lines, in reading order.

        First only the top two lines (1 and 2 hold every checked field; line 3 only names)
        unless names are wanted, in both half-turn orientations when the upright one is not
        known (the classifier's guess first); then all lines plus the neighbours of a
        two-line group (in case it was lines 2-3); then, for the orientation whose text
        looked more like an MRZ, variants: contrast enhanced, taller strips, and strips
        from the full-size image. An attempt that would end after the deadline is skipped.
        """
        image = self.working.image
        if not upright and self.reader.upside_down([cut_line(image, b) for b in lines]):
            lines = _turned(lines)
        orientations = [lines] if upright else [lines, _turned(lines)]
        likeness = [0] * len(orientations)
        for index, oriented in enumerate(orientations):
            if len(oriented) > 2 and not self.names and self._affordable(2):
                texts = self._read(oriented[:2], [cut_line(image, b) for b in oriented[:2]])
                likeness[index] = _mrz_likeness(texts)
                yield texts
        for index, oriented in enumerate(orientations):
            around = with_neighbours(oriented)
            if self._affordable(len(around)):
                texts = self._read(around, [cut_line(image, b) for b in around])
                likeness[index] = max(likeness[index], _mrz_likeness(texts))
                yield texts
        yield from self._variants(with_neighbours(orientations[likeness.index(max(likeness))]))

    def _variants(self, lines: list[LineBox]) -> Iterator[list[OcrLine]]:
        image = self.working.image
        if self._affordable(len(lines)):
            yield self._read(lines, [enhance(cut_line(image, b)) for b in lines])
        if self._affordable(len(lines)):
            yield self._read(lines, [cut_line(image, b, pad_across=1.5) for b in lines])
        full = self._full_image() if self._affordable(len(lines) + 2) else None
        if full is not None:
            factor = 1 / self.working.scale
            yield self._read(lines, [cut_line(full.image, b.scaled(factor, (0.0, 0.0))) for b in lines])

    def _read(self, boxes: list[LineBox], strips: list[Image.Image]) -> list[OcrLine]:
        """Recognise strips, remembering where they are (`last_boxes`, working pixels)."""
        self.last_boxes = boxes
        return self.reader.recognize(strips)

    def line_position(self, index: int) -> Quad:
        """Where the `index`th line of the last reading is, in the full-size image: corners
        in reading order (top-left is where the line starts)."""
        box = self.last_boxes[index]
        nx, ny = box.normal
        corners = []
        for along, across in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            x = box.cx + along * box.length / 2 * box.ux + across * box.thickness / 2 * nx
            y = box.cy + along * box.length / 2 * box.uy + across * box.thickness / 2 * ny
            corners.append(Point(round(x / self.working.scale), round(y / self.working.scale)))
        return Quad(*corners)

    def _affordable(self, strips: int) -> bool:
        """Whether recognising this many strips can end before the deadline."""
        return budget.now() + strips * _REC_COST_PER_STRIP_S < self.deadline

    def _full_image(self) -> WorkingImage | None:
        if self.working.scale >= 1 or self.load_full is None:
            return None
        return self.load_full()
