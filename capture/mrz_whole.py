"""The MRZ's last pass: the photo at full resolution, where the located band failed.

A card far from the lens fills a tenth of a 12 MP frame: in the working image (about 2000 px) its MRZ characters
are 5 px tall, too small for the detector, while plain RapidOCR on the whole photo at full resolution sees them
10-20 px tall and reads them. Detecting over a whole 12 MP photo costs ~11 s of CPU, far over the decode budget,
so this pass looks only where the card is: around the QR codes when the QR stage saw them, else around the longest
text lines a coarse detector pass finds in the working image. Those windows of the full-size photo go through the
same `MrzAttempts` machinery (detect, close-up, strips, check digits), so a value is still accepted only when its
check digits hold (`capture.mrz`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Final

from PIL import Image

from capture import budget
from capture.intake import WorkingImage
from capture.mrz import read_mrz
from capture.mrz_lines import LineBox
from capture.mrz_ocr import CardHint, LineReader, Loader, MrzAttempts, _anchor_window, _Search, default_reader
from capture.result import MrzReading

# The coarse pass: the working image at this size (~0.45 s of CPU on one core), and its worst-case cost.
COARSE_SIDE: Final = 1024
COARSE_COST_S: Final = 0.5
# A window around a coarse line reaches this many line lengths from its centre: the MRZ is nearly the card's
# width, so a window around it holds the card whichever line it is.
WINDOW_REACH: Final = 1.1
WINDOWS: Final = 2
# Only a small card gains from the full size: a window wider than this share of the photo's long side holds a card
# the working image already shows large enough, and its pass would only spend the budget.
WINDOW_MAX_SHARE: Final = 0.5
# Detector input per window (the size `MrzAttempts` budgets for), and the cost of one window's detection.
WINDOW_SIDE: Final = 640
WINDOW_COST_S: Final = 0.15
Box = tuple[int, int, int, int]


class WindowAttempts(MrzAttempts):
    """`MrzAttempts` on the full-size photo, searching only the given windows (full-size pixels)."""

    band_first = False  # the working image's band was tried already

    def __init__(self, full: WorkingImage, windows: Sequence[Box], *, hint: CardHint, reader: LineReader,
                 deadline: float) -> None:
        super().__init__(full, hint=hint, reader=reader, deadline=deadline)
        self.windows = tuple(windows)

    def _searches(self) -> Iterator[_Search]:
        for region in self.windows:
            for index, angle in enumerate(self.hint.text_angles):
                yield _Search(region, angle, WINDOW_SIDE, self.hint.upright and index == 0)


def read_mrz_full_resolution(
    working: WorkingImage,
    load_full: Loader | None,
    *,
    hint: CardHint,
    deadline: float,
    today: date,
    g_or_h_layout: bool,
    reader: LineReader | None = None,
) -> MrzReading | None:
    """The MRZ read from windows of the full-size photo, or None when this pass does not apply (the working
    image is the full photo) or cannot start before `deadline`."""
    if working.scale >= 1 or load_full is None or budget.now() + WINDOW_COST_S > deadline:
        return None
    reader = reader or default_reader()
    full = load_full()
    if full is None:
        return None
    windows = card_windows(working, full, hint, reader=reader, deadline=deadline)
    if not windows:
        return None
    attempts = WindowAttempts(full, windows, hint=hint, reader=reader, deadline=deadline)
    return read_mrz(full, deadline=deadline, today=today, hint=hint, g_or_h_layout=g_or_h_layout, reader=reader,
                    attempts=attempts)


def card_windows(working: WorkingImage, full: WorkingImage, hint: CardHint, *, reader: LineReader,
                 deadline: float) -> list[Box]:
    """Where the card is, in full-size pixels: around the QR codes if known, else around the longest lines of
    text in the working image (when a coarse pass still fits in the budget)."""
    around_qr = _anchor_window(full, hint.anchors)
    if around_qr is not None:
        return [around_qr] if _small(around_qr, full) else []
    if budget.now() + COARSE_COST_S + WINDOW_COST_S > deadline:
        return []
    windows = _text_windows(coarse_lines(working, reader), full.image.size, 1 / working.scale)
    return [window for window in windows if _small(window, full)]


def _small(window: Box, full: WorkingImage) -> bool:
    return max(window[2] - window[0], window[3] - window[1]) <= WINDOW_MAX_SHARE * max(full.image.size)


def coarse_lines(working: WorkingImage, reader: LineReader) -> list[LineBox]:
    """Text lines the detector finds in the whole working image at `COARSE_SIDE`, in working pixels."""
    image = working.image
    factor = min(1.0, COARSE_SIDE / max(image.size))
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    small = image.resize(size, Image.Resampling.BILINEAR) if factor < 1 else image
    return [box.scaled(1 / factor, (0.0, 0.0)) for box in reader.detect(small)]


def _text_windows(lines: list[LineBox], size: tuple[int, int], to_full: float) -> list[Box]:
    """Squares around the longest lines (the MRZ, if the card is there), distinct ones only."""
    windows: list[Box] = []
    for line in sorted(lines, key=lambda b: b.length, reverse=True):
        reach = WINDOW_REACH * line.length * to_full
        cx, cy = line.cx * to_full, line.cy * to_full
        box = (max(0, int(cx - reach)), max(0, int(cy - reach)), min(size[0], int(cx + reach)),
               min(size[1], int(cy + reach)))
        if not any(_inside((cx, cy), other) for other in windows):
            windows.append(box)
        if len(windows) == WINDOWS:
            break
    return windows


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]
