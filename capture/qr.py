"""Find and classify every QR (and the Code128) on a photo of a credential's back.

One cheap zxing-cpp call on the downscaled working image reads most photos. Only when the
INE URL is missing do we escalate, cheapest first and within the caller's deadline: crops
around symbols zxing saw but could not decode (upscaled: the specimen's QRs only read at
3x), the full-resolution image, then contrast-normalised and sharpened variants.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final

import zxingcpp
from PIL import Image, ImageFilter, ImageOps

from capture import budget
from capture.intake import WorkingImage
from capture.result import Point, QrReading, QrUrl, Quad, Reason, Symbol, SymbolKind

_FORMATS: Final = zxingcpp.barcode_formats_from_str("QRCodeModel2,Code128")
_QR_FORMAT: Final = zxingcpp.BarcodeFormat.QRCode
_INE_HOST: Final = re.compile(r"https?://qr\.ine\.mx(?:/\S*)?", re.IGNORECASE)
_INE_LONG_PATH: Final = re.compile(r"https?://qr\.ine\.mx/([0-9]{24})/([0-9]{8})/([A-Z])/([0-9]{6})/?", re.IGNORECASE)
# The two large QRs of models G/H: 858 bytes, starting with a 2-byte big-endian part index.
_ENCRYPTED_MIN_BYTES: Final = 200
_MAX_PART_INDEX: Final = 15
_CROP_MARGIN: Final = 0.3  # of the symbol's side, so the quiet zone is included
_TARGET_CROP_SIDE: Final = 480  # px of symbol side that decode reliably after upscaling
_MAX_UPSCALE: Final = 4
_MAX_CROPS: Final = 6
_MIN_CANDIDATE_SIDE: Final = 12
_SMALL_IMAGE_SIDE: Final = 1200
_SMALL_IMAGE_TARGET: Final = 1800
_REGION_MIN_SIDE: Final = 300
_REGION_MAX_SIDE: Final = 900
_REGION_BINARIZERS: Final = (
    zxingcpp.Binarizer.LocalAverage,
    zxingcpp.Binarizer.GlobalHistogram,
    zxingcpp.Binarizer.FixedThreshold,
)

Loader = Callable[[], WorkingImage | None]


@dataclass(frozen=True)
class _View:
    """An image handed to zxing and how to map its pixels back to the full-size image."""

    image: Image.Image
    offset: tuple[float, float]  # crop origin in the source image's pixels
    upscale: float  # view pixels per source pixel
    source_scale: float  # source pixels per full-size pixel

    def to_full(self, x: float, y: float) -> Point:
        sx = x / self.upscale + self.offset[0]
        sy = y / self.upscale + self.offset[1]
        return Point(round(sx / self.source_scale), round(sy / self.source_scale))


_Attempt = tuple[_View, zxingcpp.Binarizer]


def parse_ine_url(text: str) -> QrUrl | None:
    """The INE URL, lenient on scheme, case and surrounding whitespace; None if not one."""
    stripped = text.strip()
    if not _INE_HOST.fullmatch(stripped):
        return None
    match = _INE_LONG_PATH.fullmatch(stripped)
    if match is None:
        return QrUrl(text=stripped)  # short form seen in the wild: keep it opaque
    token, day, letter, code = match.groups()
    issued = _yyyymmdd(day)
    if issued is None:
        return QrUrl(text=stripped)
    return QrUrl(text=stripped, token=token, date=issued, letter=letter.upper(), code=code)


def _yyyymmdd(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def classify(barcode: zxingcpp.Barcode, position: Quad) -> Symbol:
    """What one zxing result is; unreadable symbols keep only their position."""
    if not barcode.valid:
        return Symbol(kind=SymbolKind.UNREADABLE_QR, position=position)
    data = bytes(barcode.bytes)
    if barcode.format != _QR_FORMAT:
        return Symbol(kind=SymbolKind.CODE128, position=position, text=barcode.text, byte_count=len(data))
    url = parse_ine_url(data.decode("latin-1"))
    if url is not None:
        return Symbol(kind=SymbolKind.INE_URL_QR, position=position, url=url, byte_count=len(data))
    if _looks_encrypted(barcode, data):
        part = int.from_bytes(data[:2], "big")
        return Symbol(kind=SymbolKind.INE_ENCRYPTED_QR, position=position, part_index=part, byte_count=len(data))
    return Symbol(kind=SymbolKind.OTHER_QR, position=position, text=barcode.text, byte_count=len(data))


def _looks_encrypted(barcode: zxingcpp.Barcode, data: bytes) -> bool:
    binary = barcode.content_type == zxingcpp.ContentType.Binary
    indexed = int.from_bytes(data[:2], "big") <= _MAX_PART_INDEX
    return binary and indexed and len(data) >= _ENCRYPTED_MIN_BYTES


def _zxing(view: _View, binarizer: zxingcpp.Binarizer) -> list[Symbol]:
    barcodes = zxingcpp.read_barcodes(
        view.image, formats=_FORMATS, try_invert=False, binarizer=binarizer, return_errors=True
    )
    return [classify(b, _quad(view, b.position)) for b in barcodes]


def _quad(view: _View, position: zxingcpp.Position) -> Quad:
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return Quad(*(view.to_full(p.x, p.y) for p in corners))


class _Collector:
    """Keeps one symbol per place, preferring a decoded one over an unreadable one."""

    def __init__(self) -> None:
        self.symbols: list[Symbol] = []

    def add(self, found: list[Symbol]) -> None:
        for symbol in found:
            self._add_one(symbol)

    def _add_one(self, symbol: Symbol) -> None:
        if symbol.kind == SymbolKind.UNREADABLE_QR and _side(symbol.position) < _MIN_CANDIDATE_SIDE:
            return  # specks of texture zxing mistook for finder patterns
        for index, known in enumerate(self.symbols):
            if _same_place(known.position, symbol.position):
                if known.kind == SymbolKind.UNREADABLE_QR and symbol.kind != SymbolKind.UNREADABLE_QR:
                    self.symbols[index] = symbol
                return
        self.symbols.append(symbol)

    @property
    def urls(self) -> set[QrUrl]:
        return {s.url for s in self.symbols if s.url is not None}

    @property
    def url(self) -> QrUrl | None:
        """The one INE URL seen; None also when two differ (two credentials in one photo)."""
        urls = self.urls
        return next(iter(urls)) if len(urls) == 1 else None

    def unreadable(self) -> list[Symbol]:
        candidates = [s for s in self.symbols if s.kind == SymbolKind.UNREADABLE_QR]
        return sorted(candidates, key=lambda s: _side(s.position))[:_MAX_CROPS]

    def has(self, kind: SymbolKind) -> bool:
        return any(s.kind == kind for s in self.symbols)


def _centre(quad: Quad) -> tuple[float, float]:
    return (sum(p.x for p in quad.points) / 4, sum(p.y for p in quad.points) / 4)


def _side(quad: Quad) -> float:
    left, top, right, bottom = quad.bounds()
    return float(min(right - left, bottom - top))


def _same_place(a: Quad, b: Quad) -> bool:
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    reach = max(_side(a), _side(b), 1.0) / 2
    return abs(ax - bx) < reach and abs(ay - by) < reach


class _Sources:
    """The working image and, loaded only when an escalation needs it, the full-size one."""

    def __init__(self, working: WorkingImage, load_full: Loader | None) -> None:
        self.working = working
        self._load_full = load_full
        self._full: WorkingImage | None = None

    def has_larger(self) -> bool:
        """Whether a full-size image, larger than the working one, can be had."""
        return self.working.scale < 1 and self._load_full is not None

    def best(self) -> WorkingImage:
        if self.working.scale >= 1 or self._load_full is None:
            return self.working
        if self._full is None:
            self._full = self._load_full() or self.working
        return self._full

    def whole(self, source: WorkingImage) -> _View:
        return _View(source.image, (0.0, 0.0), 1.0, source.scale)

    def working_view(self) -> _View:
        return self.whole(self.working)

    def best_view(self) -> _View:
        return self.whole(self.best())


def _crop_view(source: WorkingImage, quad: Quad) -> _View:
    left, top, right, bottom = quad.bounds()
    side = max(right - left, bottom - top) * source.scale
    margin = side * _CROP_MARGIN
    box = (
        max(0, int(left * source.scale - margin)),
        max(0, int(top * source.scale - margin)),
        min(source.image.width, int(right * source.scale + margin)),
        min(source.image.height, int(bottom * source.scale + margin)),
    )
    crop = source.image.crop(box)
    upscale = min(_MAX_UPSCALE, max(1.0, _TARGET_CROP_SIDE / max(side, 1.0)))
    if upscale > 1:
        size = (round(crop.width * upscale), round(crop.height * upscale))
        crop = crop.resize(size, Image.Resampling.BICUBIC)
    return _View(crop, (float(box[0]), float(box[1])), upscale, source.scale)


def _enhanced(view: _View) -> _View:
    return _View(_enhanced_image(view.image), view.offset, view.upscale, view.source_scale)


def _enhanced_image(image: Image.Image) -> Image.Image:
    """Stretch contrast and sharpen: rescues dim, low-contrast and slightly blurred photos."""
    return ImageOps.autocontrast(image, cutoff=1).filter(ImageFilter.UnsharpMask(2, 150, 3))


class _Clock:
    """When to stop: the deadline, or sooner once the URL is known (classifying is optional)."""

    def __init__(self, deadline: float, classify_ms: float) -> None:
        self.stop = deadline
        self.classify_s = classify_ms / 1000

    def url_found(self) -> None:
        self.stop = min(self.stop, budget.now() + self.classify_s)

    def out_of_time(self) -> bool:
        return budget.now() > self.stop


def _escalations(sources: _Sources, collector: _Collector, clock: _Clock) -> Iterator[_Attempt]:
    """Further attempts, cheapest and most likely first.

    The clock is checked before each attempt's image work (full-size decode, resizing), so
    nothing is computed for an attempt that would start too late.
    """
    classifying = collector.url is not None
    local, histogram = zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram
    for symbol in collector.unreadable():
        for enhanced, binarizer in ((False, local), (True, histogram)):
            if clock.out_of_time():
                return
            # Classifying only needs the working image; a missing URL deserves full resolution.
            view = _crop_view(sources.working if classifying else sources.best(), symbol.position)
            yield (_enhanced(view) if enhanced else view), binarizer
    if max(sources.working.image.size) < _SMALL_IMAGE_SIDE and not clock.out_of_time():
        yield _upscaled(sources.working), local
    if classifying:
        return
    whole_images: list[tuple[Callable[[], _View], bool, zxingcpp.Binarizer]] = [
        (sources.working_view, True, local),
        (sources.working_view, False, histogram),
    ]
    if sources.has_larger():
        whole_images.insert(0, (sources.best_view, False, local))
    for make_view, enhanced, binarizer in whole_images:
        if clock.out_of_time():
            return
        view = make_view()
        yield (_enhanced(view) if enhanced else view), binarizer


def _upscaled(source: WorkingImage) -> _View:
    """Small pictures (web copies, screenshots): modules need a few pixels each to decode."""
    factor = min(_MAX_UPSCALE, -(-_SMALL_IMAGE_TARGET // max(source.image.size)))
    size = (source.image.width * factor, source.image.height * factor)
    image = source.image.resize(size, Image.Resampling.LANCZOS)
    return _View(image, (0.0, 0.0), float(factor), source.scale)


def read_qr(
    working: WorkingImage,
    *,
    deadline: float,
    load_full: Loader | None = None,
    classify_ms: float = 0.0,
) -> QrReading:
    """Every symbol on the photo and the INE URL if one decodes.

    `deadline` is a `capture.budget.now()` value; no new attempt starts after it. Once the
    URL is known, unreadable symbols are retried for `classify_ms` more, so the large
    encrypted QRs get classified (the G/H layout hint) when that is cheap.
    """
    started = time.perf_counter()
    sources = _Sources(working, load_full)
    collector = _Collector()
    clock = _Clock(deadline, classify_ms)
    collector.add(_zxing(sources.working_view(), zxingcpp.Binarizer.LocalAverage))
    if collector.url is not None:
        clock.url_found()
    for view, binarizer in _escalations(sources, collector, clock):
        had_url = collector.url is not None
        collector.add(_zxing(view, binarizer))
        if collector.url is not None and not had_url:
            clock.url_found()
    ms = (time.perf_counter() - started) * 1000
    return QrReading(symbols=tuple(collector.symbols), url=collector.url, reason=_reason(collector), ms=ms)


@dataclass(frozen=True)
class Region:
    """A square on the photo (full-size pixels) where a symbol is expected, turned by
    `angle` degrees (the card's text direction, image y pointing down)."""

    cx: float
    cy: float
    side: float
    angle: float


def read_qr_region(working: WorkingImage, region: Region, *, deadline: float, sharpened: bool = True) -> QrReading:
    """Retry where the small QR must be (from the card's geometry, e.g. the MRZ's place):
    the square is cut out upright and upscaled, then (`sharpened`) sharpened and binarised several ways.
    Rescues blurred photos on which zxing does not even find the symbol by itself."""
    started = time.perf_counter()
    view = _region_view(working, region)
    collector = _Collector()
    images = (view.image,) if not sharpened else (
        view.image,
        view.image.filter(ImageFilter.UnsharpMask(6, 300, 0)),
        _enhanced_image(view.image).filter(ImageFilter.UnsharpMask(4, 200, 2)),
    )
    for image in images:
        for binarizer in _REGION_BINARIZERS:
            if collector.url is not None or budget.now() > deadline:
                break
            found = _zxing_region(replace(view, image=image), binarizer)
            collector.add([s for s in found if s.kind != SymbolKind.UNREADABLE_QR])
    ms = (time.perf_counter() - started) * 1000
    return QrReading(symbols=tuple(collector.symbols), url=collector.url, reason=_reason(collector), ms=ms)


@dataclass(frozen=True)
class _RegionView:
    image: Image.Image
    region: Region
    scale: float  # working pixels per full-size pixel

    def to_full(self, x: float, y: float) -> Point:
        cos, sin = math.cos(math.radians(self.region.angle)), math.sin(math.radians(self.region.angle))
        k = self.region.side / self.image.width
        dx, dy = (x - self.image.width / 2) * k, (y - self.image.height / 2) * k
        return Point(round(self.region.cx + dx * cos - dy * sin), round(self.region.cy + dx * sin + dy * cos))


def _region_view(working: WorkingImage, region: Region) -> _RegionView:
    size = max(_REGION_MIN_SIDE, min(_REGION_MAX_SIDE, round(3 * region.side * working.scale)))
    cos, sin = math.cos(math.radians(region.angle)), math.sin(math.radians(region.angle))
    k = region.side * working.scale / size
    cx, cy = region.cx * working.scale, region.cy * working.scale
    # PIL's affine maps output pixels to input pixels: centre plus the turned offset.
    origin_x = cx - size / 2 * k * (cos - sin)
    origin_y = cy - size / 2 * k * (sin + cos)
    coefficients = (k * cos, -k * sin, origin_x, k * sin, k * cos, origin_y)
    image = working.image.transform((size, size), Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC)
    return _RegionView(image, region, working.scale)


def _zxing_region(view: _RegionView, binarizer: zxingcpp.Binarizer) -> list[Symbol]:
    barcodes = zxingcpp.read_barcodes(view.image, formats=_FORMATS, try_invert=False, binarizer=binarizer)
    symbols = []
    for barcode in barcodes:
        position = barcode.position
        corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
        symbols.append(classify(barcode, Quad(*(view.to_full(p.x, p.y) for p in corners))))
    return symbols


def _reason(collector: _Collector) -> Reason | None:
    if len(collector.urls) > 1:
        return Reason.SEVERAL_CREDENTIALS
    if collector.url is not None:
        return None
    if collector.has(SymbolKind.UNREADABLE_QR):
        return Reason.QR_UNREADABLE
    if collector.has(SymbolKind.INE_ENCRYPTED_QR):
        return Reason.ONLY_ENCRYPTED_QR
    return Reason.NO_QR_FOUND
