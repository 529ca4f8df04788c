"""Read the back of a voter credential from photo bytes: intake -> QR -> MRZ.

The cheap path (JPEG DCT-scaled decode, one QR pass, a small detector pass, three short OCR
lines) reads a sharp 12 MP photo in a few hundred milliseconds on one core; slower fallbacks
run only when it fails, and no new attempt starts once `budget_ms` is spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Final

import numpy as np

from capture import budget
from capture.deblur import CRISP_NSR, QR_DEFOCUS_SIGMA_PX, estimate_shake, remove_defocus, remove_shake
from capture.intake import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, IntakeError, WorkingImage, load_image
from capture.mrz import read_mrz
from capture.mrz_ocr import LineReader, card_hint, default_reader
from capture.mrz_whole import read_mrz_full_resolution
from capture.perspective import read_qr_flat
from capture.qr import Region, read_qr, read_qr_region
from capture.qr_restore import read_restored_region
from capture.result import BackReading, MrzReading, QrReading, Quad, Reason, SymbolKind, Timings

# A 12 MP photo decodes at half size (2000 px): enough for the QR and the MRZ of a card
# filling half the frame, and four times fewer pixels to decode.
WORKING_LONG_SIDE: Final = 1600
# QR escalations may use this share of the budget; the rest is the MRZ's.
QR_BUDGET_SHARE: Final = 0.4
# Classifying the large QRs after the URL was read only pays on small images (specimens,
# screenshots), where an upscaled pass is cheap; on phone photos it is skipped.
SMALL_IMAGE_SIDE: Final = 1200
CLASSIFY_MS_SMALL: Final = 40.0
# An unreadable QR this much larger than the small QR is one of the large G/H symbols.
LARGE_QR_RATIO: Final = 1.5
# The small QR relative to MRZ line 1, in line lengths: along the line from its middle,
# and up from it; the square searched is about twice the QR's side.
QR_FROM_LINE1: Final = (0.433, 0.326)
QR_REGION_SIDE: Final = 0.32
# A restored image gets one QR pass and escalations for this long: shaken photos' QRs read
# on the first pass once restored, defocused ones hardly ever.
STEADIED_QR_S: Final = 0.15
# The flat card's QR pass may run this far past the QR share (one warp, one zxing pass and
# its escalations: a strongly foreshortened card that would otherwise not read at all).
FLAT_QR_SHARE: Final = 0.1
BLUR_PROBE_SIDE: Final = 800
BLURRY_BELOW: Final = 0.6


def read_back(
    data: bytes,
    *,
    today: date | None = None,
    budget_ms: int = 2500,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reader: LineReader | None = None,
) -> BackReading:
    """Everything readable on one photo of a credential's back; never raises on bad input.

    `today` decides expiry: pass the date in America/Mexico_City (the default is the
    server's local date). `reader` is for tests that need their own OCR engine.
    """
    started, budget_from = time.perf_counter(), budget.now()
    try:
        working = load_image(data, long_side=WORKING_LONG_SIDE, max_bytes=max_bytes, max_pixels=max_pixels)
    except IntakeError as error:
        return BackReading(reasons=(error.reason,), timings=Timings(total=_ms_since(started)))
    return _read(data, working, started=started, budget_from=budget_from, today=today or date.today(),
                 budget_ms=budget_ms, max_bytes=max_bytes, max_pixels=max_pixels, reader=reader)


def read_back_keeping(
    data: bytes,
    *,
    keep_long_side: int,
    today: date,
    budget_ms: int = 2500,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[BackReading, WorkingImage | None]:
    """`read_back`, decoding the photo once for two uses: the reading, and the same pixels in colour at about
    `keep_long_side` for the image store (None when the file itself is unusable)."""
    started, budget_from = time.perf_counter(), budget.now()
    try:
        colour = load_image(data, long_side=keep_long_side, mode="RGB", max_bytes=max_bytes, max_pixels=max_pixels)
    except IntakeError as error:
        return BackReading(reasons=(error.reason,), timings=Timings(total=_ms_since(started))), None
    reading = _read(data, _working_from(colour), started=started, budget_from=budget_from, today=today,
                    budget_ms=budget_ms, max_bytes=max_bytes, max_pixels=max_pixels, reader=None)
    return reading, colour


def _working_from(colour: WorkingImage) -> WorkingImage:
    """The grey working copy `read_back` would have decoded itself, made from pixels already decoded."""
    grey = colour.image.convert("L")
    factor = max(1, max(grey.size) // WORKING_LONG_SIDE)
    reduced = grey.reduce(factor) if factor > 1 else grey
    scale = reduced.size[0] / colour.full_size[0]
    return WorkingImage(image=reduced, scale=scale, full_size=colour.full_size, format=colour.format)


def _read(data: bytes, working: WorkingImage, *, started: float, budget_from: float, today: date, budget_ms: int,
          max_bytes: int, max_pixels: int, reader: LineReader | None) -> BackReading:
    deadline = budget_from + budget_ms / 1000  # on capture.budget's clock, as every deadline below
    intake_ms = _ms_since(started)
    load_full = _full_loader(data, max_bytes=max_bytes, max_pixels=max_pixels)
    qr = _read_qr(working, budget_from=budget_from, budget_ms=budget_ms, load_full=load_full)
    if qr.reason == Reason.SEVERAL_CREDENTIALS:
        # Which card an MRZ would belong to is unknowable: read nothing rather than mix them.
        timings = Timings(intake=intake_ms, qr=qr.ms, total=_ms_since(started))
        return BackReading(qr=qr, reasons=(qr.reason,), timings=timings, image_size=working.full_size)
    steady = None if qr.ok else steadied(working)
    read = partial(_read_mrz, qr=qr, deadline=deadline, today=today, reader=reader)
    mrz = read(working, load_full) if steady is None else read(steady, None)
    if not mrz.ok and steady is not None and budget.now() < deadline:
        # The restored photo may mislead the detector: read the photo as taken too.
        mrz = read(working, load_full)
    # The band failed: the card may be too small for the working image. On a sharp photo that pass comes first
    # (a line 1 it finds guides the QR's rescue); on a blurred or shaken one the QR's rescue does.
    full_size_pass = partial(_full_resolution_mrz, working=working, load_full=load_full, deadline=deadline,
                             today=today, reader=reader)
    if not mrz.ok and steady is None and budget.now() < deadline:
        mrz = full_size_pass(mrz, qr=qr)
    if not qr.ok:
        qr = _rescue_qr(qr, mrz, working, steady, deadline=deadline)
    if not mrz.ok and steady is not None and budget.now() < deadline:
        mrz = full_size_pass(mrz, qr=qr)
    reasons = _reasons(qr, mrz, today=today, out_of_time=budget.now() > deadline)
    if (not qr.ok or not mrz.ok) and looks_blurry(working):
        reasons += (Reason.IMAGE_BLURRY,)
    timings = Timings(intake=intake_ms, qr=qr.ms, mrz=mrz.ms, total=_ms_since(started))
    return BackReading(qr=qr, mrz=mrz, reasons=reasons, timings=timings, image_size=working.full_size)


def _rescue_qr(
    qr: QrReading, mrz: MrzReading, working: WorkingImage, steady: WorkingImage | None, *, deadline: float
) -> QrReading:
    """Retries for a QR the first stage missed: the restored photo and one restored for the
    QR's fine modules, then where the MRZ says the small QR is: in the latter, in that square
    deconvolved several ways, then in the other restoration and in the photo as taken (the
    restoration that rescues the MRZ's large characters can ruin the QR's small modules)."""
    images = [working]
    if steady is not None and budget.now() < deadline:
        qr = _with_retry(qr, read_qr(steady, deadline=min(deadline, budget.now() + STEADIED_QR_S)))
        crisper = _restored_for_qr(working) if not qr.ok and budget.now() < deadline else None
        if crisper is not None:
            qr = _with_retry(qr, read_qr(crisper, deadline=budget.now()))
        # Restored first: the region's own sharpening rarely rescues a photo that needed restoring.
        images = [steady, working] if crisper is None else [crisper, steady, working]
    for index, image in enumerate(images):
        if not qr.ok and mrz.line1 is not None and budget.now() < deadline:
            qr = _with_retry(qr, read_qr_region(image, small_qr_region(mrz.line1), deadline=deadline))
        if index == 0 and not qr.ok and steady is not None and mrz.line1 is not None and budget.now() < deadline:
            # Next to the restored photo's square: the square alone, deconvolved with kernels around
            # the estimate at several strengths (before the photo as taken, which rarely reads then).
            qr = _with_retry(qr, read_restored_region(working, small_qr_region(mrz.line1), deadline=deadline))
    return qr


def _restored_for_qr(working: WorkingImage) -> WorkingImage:
    """A restoration tuned for the QR: crisper against shake, milder against defocus."""
    shake = estimate_shake(working.image)
    if shake is not None:
        return replace(working, image=remove_shake(working.image, shake, nsr=CRISP_NSR))
    return replace(working, image=remove_defocus(working.image, QR_DEFOCUS_SIGMA_PX))


def _read_mrz(
    source: WorkingImage,
    load_full: _Loader | None,
    *,
    qr: QrReading,
    deadline: float,
    today: date,
    reader: LineReader | None,
) -> MrzReading:
    layout_g_or_h = g_or_h_layout(qr)
    return read_mrz(
        source,
        deadline=deadline,
        today=today,
        hint=card_hint(qr.symbols, g_or_h_layout=layout_g_or_h),
        g_or_h_layout=layout_g_or_h,
        reader=reader,
        load_full=load_full,
    )


def _full_resolution_mrz(
    mrz: MrzReading,
    working: WorkingImage,
    load_full: _Loader,
    *,
    qr: QrReading,
    deadline: float,
    today: date,
    reader: LineReader | None,
) -> MrzReading:
    """The located band failed: look again where the card is, in the full-size photo (a distant card's
    characters are too small in the working image); a failure keeps the first reading's reason."""
    layout = g_or_h_layout(qr)
    hint = card_hint(qr.symbols, g_or_h_layout=layout)
    again = read_mrz_full_resolution(working, load_full, hint=hint, deadline=deadline, today=today,
                                     g_or_h_layout=layout, reader=reader)
    if again is None:
        return mrz
    return replace(again if again.ok else mrz, ms=mrz.ms + again.ms)


def steadied(working: WorkingImage) -> WorkingImage | None:
    """The working image with camera shake or defocus removed, if the photo looks shaken
    or blurred (asked for photos whose QR did not read: blur defeats the QR first)."""
    shake = estimate_shake(working.image)
    if shake is not None:
        return replace(working, image=remove_shake(working.image, shake))
    if looks_blurry(working):
        return replace(working, image=remove_defocus(working.image))
    return None


def _read_qr(working: WorkingImage, *, budget_from: float, budget_ms: int, load_full: _Loader) -> QrReading:
    small = max(working.image.size) <= SMALL_IMAGE_SIDE
    qr = read_qr(
        working,
        deadline=budget_from + budget_ms * QR_BUDGET_SHARE / 1000,
        load_full=load_full,
        classify_ms=CLASSIFY_MS_SMALL if small else 0.0,
    )
    flat_deadline = budget_from + budget_ms * (QR_BUDGET_SHARE + FLAT_QR_SHARE) / 1000
    if qr.ok or qr.reason == Reason.SEVERAL_CREDENTIALS or budget.now() > flat_deadline:
        return qr
    # A strongly tilted card: its QR read again from the card warped flat.
    flat = read_qr_flat(working, load_full, deadline=flat_deadline)
    if flat is None or flat.url is None:
        return qr if flat is None else replace(qr, ms=qr.ms + flat.ms)
    # Its URL, but not its corners: mapped back through the tilt, they give the MRZ search a skewed
    # text angle and too small a window (the MRZ read on the photo as it was, then lost).
    return replace(qr, url=flat.url, reason=None, ms=qr.ms + flat.ms)


_Loader = Callable[[], WorkingImage | None]


def _full_loader(data: bytes, *, max_bytes: int, max_pixels: int) -> _Loader:
    """Decode the full-size image at most once, and only if an escalation asks for it."""
    cache: list[WorkingImage | None] = []

    def load() -> WorkingImage | None:
        if not cache:
            try:
                cache.append(load_image(data, max_bytes=max_bytes, max_pixels=max_pixels))
            except IntakeError:
                cache.append(None)
        return cache[0]

    return load


def small_qr_region(line1: Quad) -> Region:
    """Where the small QR is, from MRZ line 1's place: on every model's back (INE's G/H and
    E/F specimens, the synthetic cards) its centre lies 0.43 line lengths along line 1 from
    the line's middle and 0.33 line lengths above it, and its side is 0.17 line lengths."""
    start = ((line1.top_left.x + line1.bottom_left.x) / 2, (line1.top_left.y + line1.bottom_left.y) / 2)
    end = ((line1.top_right.x + line1.bottom_right.x) / 2, (line1.top_right.y + line1.bottom_right.y) / 2)
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    ux, uy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
    mid_x, mid_y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    along, up = QR_FROM_LINE1[0] * length, QR_FROM_LINE1[1] * length
    # "Up" is against the normal (-uy, ux), which points down the card.
    cx, cy = mid_x + along * ux + up * uy, mid_y + along * uy - up * ux
    return Region(cx, cy, QR_REGION_SIDE * length, math.degrees(math.atan2(uy, ux)))


def _with_retry(first: QrReading, retry: QrReading) -> QrReading:
    if retry.url is None:
        return QrReading(symbols=first.symbols, url=None, reason=first.reason, ms=first.ms + retry.ms)
    symbols = first.symbols + tuple(s for s in retry.symbols if s.kind == SymbolKind.INE_URL_QR)
    return QrReading(symbols=symbols, url=retry.url, reason=None, ms=first.ms + retry.ms)


def g_or_h_layout(qr: QrReading) -> bool:
    """The two large QRs exist only on models G and H; seeing one (even unreadable) says so."""
    if any(s.kind == SymbolKind.INE_ENCRYPTED_QR for s in qr.symbols):
        return True
    small = next((s for s in qr.symbols if s.kind == SymbolKind.INE_URL_QR), None)
    if small is None:
        return False
    side = _side(small.position.bounds())
    unreadable = (s for s in qr.symbols if s.kind == SymbolKind.UNREADABLE_QR)
    return any(_side(s.position.bounds()) > LARGE_QR_RATIO * side for s in unreadable)


def looks_blurry(working: WorkingImage) -> bool:
    """Whether the photo's sharpest edges are soft for its contrast (defocus, shake).

    The measure is the 99.5th percentile of the Laplacian over the 5-95% brightness range
    at about 800 px: sharp photos of a card score above 1, blurred ones below 0.6
    (calibrated on the synthetic corpus; advice only, it never changes a value).
    """
    image = working.image
    factor = max(1, max(image.size) // BLUR_PROBE_SIDE)
    pixels = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    core = pixels[1:-1, 1:-1]
    laplacian = np.abs(4 * core - pixels[:-2, 1:-1] - pixels[2:, 1:-1] - pixels[1:-1, :-2] - pixels[1:-1, 2:])
    low, high = np.percentile(pixels, [5, 95])
    return float(np.percentile(laplacian, 99.5)) < BLURRY_BELOW * (float(high - low) + 1)


def _side(bounds: tuple[int, int, int, int]) -> int:
    left, top, right, bottom = bounds
    return min(right - left, bottom - top)


def _reasons(qr: QrReading, mrz: MrzReading, *, today: date, out_of_time: bool) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    expiry = mrz.fields.expiry if mrz.fields is not None else None
    if expiry is not None and expiry < today:
        reasons.append(Reason.CREDENTIAL_EXPIRED)
    reasons.extend(r for r in (qr.reason, mrz.reason) if r is not None)
    if out_of_time and (not qr.ok or not mrz.ok):
        reasons.append(Reason.TIME_BUDGET_EXHAUSTED)
    return tuple(reasons)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def warm_up() -> None:
    """Load the OCR models ahead of the first photo (a service calls this at start-up)."""
    default_reader().load()
