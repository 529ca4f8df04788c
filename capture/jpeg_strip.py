"""A JPEG's metadata removed without touching its pixels: the marker segments are rewritten, the entropy-coded
data (every scan, restart markers included) is copied byte for byte, so the image decodes to exactly the same
pixels for a fraction of a decode and re-encode.

Dropped: every APPn segment (EXIF with GPS, camera serials and thumbnails, XMP, ICC, maker notes, MPF), COM, fill
bytes, and everything after the end-of-image marker (Samsung trailers, MPF's second images, appended files). A
fresh minimal JFIF header replaces APP0: it says "YCbCr" to every decoder instead of leaving it to guess.

Only the plain case is taken: 8-bit baseline, extended or progressive Huffman JPEG with 1 or 3 components whose
colours decode the same with or without the dropped segments. Anything else (Adobe's APP14 colour transform,
RGB component ids, CMYK, arithmetic coding, lossless or hierarchical modes, 12-bit, DNL) is `None`: the caller
re-encodes it from pixels. A stream that ends before its end-of-image marker raises `Truncated`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

_SOI: Final = b"\xff\xd8"
_EOI: Final = 0xD9
_SOS: Final = 0xDA
_APP14: Final = 0xEE
_COM: Final = 0xFE
_SOF_TAKEN: Final = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended sequential, progressive (Huffman)
_TABLES: Final = frozenset({0xC4, 0xDB, 0xDD})  # DHT, DQT, DRI: kept wherever they are
_RGB_IDS: Final = (ord("R"), ord("G"), ord("B"))
# Version 1.01, no density unit (aspect 1:1), no thumbnail.
JFIF_APP0: Final = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; anything else (after any
# fill bytes) is the next marker.
_NOT_A_MARKER: Final = frozenset({0x00, *range(0xD0, 0xD8)})
# Starts with a literal byte, so `re` jumps between 0xFF bytes at C speed (a byte loop in Python costs ~10x more).
_FF_THEN_NOT_STUFFED: Final = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class Truncated(Exception):
    """The stream ends before its end-of-image marker."""


@dataclass(frozen=True)
class Scan:
    """One scan's header (SOS): which components, which coefficients (spectral selection Ss..Se) and the
    successive approximation bits (Ah, Al), enough to tell whether the scans together make the whole image."""

    ids: tuple[int, ...]
    start: int
    end: int
    high: int
    low: int


@dataclass(frozen=True)
class StrippedJpeg:
    data: bytes
    width: int
    height: int
    components: int
    progressive: bool
    ids: tuple[int, ...] = ()  # the frame's component ids
    scans: tuple[Scan, ...] = ()


@dataclass
class _Header:
    width: int = 0
    height: int = 0
    components: int = 0
    ids: tuple[int, ...] = ()
    progressive: bool = False
    jfif: bool = False
    scans: list[Scan] = field(default_factory=list)


def strip_metadata(data: bytes) -> StrippedJpeg | None:
    """The same JPEG without metadata, or None when it is not the plain case (see the module's docstring).
    Raises Truncated."""
    if not data.startswith(_SOI):
        return None
    header = _Header()
    kept = [_SOI, JFIF_APP0]
    position = 2
    while True:  # the header's segments, up to the first scan
        marker, position = _marker_at(data, position)
        if marker is None or marker == _EOI:
            return None
        segment, position = _segment(data, position, marker)
        if not _take_header_segment(marker, segment, header, kept):
            return None
        if marker == _SOS:
            break
    if header.components == 0:
        return None  # a scan before any frame header
    if not _copy_scans(data, position, kept, header):
        return None
    return StrippedJpeg(data=b"".join(kept), width=header.width, height=header.height,
                        components=header.components, progressive=header.progressive, ids=header.ids,
                        scans=tuple(header.scans))


def _marker_at(data: bytes, position: int) -> tuple[int | None, int]:
    """The marker at `position` (fill bytes skipped) and where its segment starts."""
    if position >= len(data):
        raise Truncated
    if data[position] != 0xFF:
        return None, position
    while position < len(data) and data[position] == 0xFF:
        position += 1
    if position >= len(data):
        raise Truncated
    return data[position], position + 1


def _segment(data: bytes, position: int, marker: int) -> tuple[bytes, int]:
    """The marker's whole segment (marker and length included) and the position after it."""
    if position + 2 > len(data):
        raise Truncated
    length = int.from_bytes(data[position:position + 2], "big")
    end = position + length
    if end > len(data):
        raise Truncated
    if length < 2:
        return b"", end  # nonsense length: refused by the caller as not plain
    return bytes((0xFF, marker)) + data[position:end], end


def _take_header_segment(marker: int, segment: bytes, header: _Header, kept: list[bytes]) -> bool:
    """Keep, drop or refuse one segment before the first scan; False: not the plain case."""
    if not segment:
        return False
    if 0xE0 <= marker <= 0xEF or marker == _COM:
        if marker == 0xE0 and segment[4:9] == b"JFIF\x00":
            header.jfif = True
        return marker != _APP14  # Adobe's colour transform changes the decoded colours: re-encode
    if 0xC0 <= marker <= 0xCF and marker not in _TABLES and marker != 0xC8 and marker != 0xCC:
        if marker not in _SOF_TAKEN or header.components:
            return False  # another coding, or a second frame
        return _take_frame(marker, segment, header, kept)
    if marker in _TABLES or marker == _SOS:
        kept.append(segment)
        return marker != _SOS or (bool(header.components) and _take_scan(segment, header))
    return False  # DAC, DNL, DHP, EXP, JPGn...: not a phone's photo


def _take_frame(marker: int, segment: bytes, header: _Header, kept: list[bytes]) -> bool:
    if len(segment) < 10:
        return False
    precision, height, width, components = segment[4], _u16(segment, 5), _u16(segment, 7), segment[9]
    ids = tuple(segment[10 + 3 * index] for index in range(components) if 10 + 3 * index < len(segment))
    if precision != 8 or height == 0 or width == 0 or components not in (1, 3) or len(ids) != components:
        return False
    if components == 3 and ids == _RGB_IDS and not header.jfif:
        return False  # stored as RGB: our JFIF header would make decoders read it as YCbCr
    header.width, header.height, header.components, header.ids = width, height, components, ids
    header.progressive = marker == 0xC2
    kept.append(segment)
    return True


def _copy_scans(data: bytes, position: int, kept: list[bytes], header: _Header) -> bool:
    """Entropy-coded data copied as is, with the tables and scan headers between progressive scans; APPn and COM
    between scans dropped; the end at the end-of-image marker (anything after it is dropped)."""
    while True:
        start, after = _next_marker(data, position)
        kept.append(data[position:start])
        marker = data[after - 1]
        if marker == _EOI:
            kept.append(b"\xff\xd9")
            return True
        segment, position = _segment(data, after, marker)
        if not segment:
            return False
        if marker in _TABLES or marker == _SOS:
            kept.append(segment)
            if marker == _SOS and not _take_scan(segment, header):
                return False
        elif not (0xE0 <= marker <= 0xEF or marker == _COM):
            return False


def _take_scan(segment: bytes, header: _Header) -> bool:
    """Record one SOS header; False when it is malformed (not the plain case)."""
    count = segment[4] if len(segment) > 4 else 0
    if count == 0 or len(segment) != 8 + 2 * count:
        return False
    ids = tuple(segment[5 + 2 * index] for index in range(count))
    tail = 5 + 2 * count
    start, end, approximation = segment[tail], segment[tail + 1], segment[tail + 2]
    header.scans.append(Scan(ids=ids, start=start, end=end, high=approximation >> 4, low=approximation & 0x0F))
    return True


def _next_marker(data: bytes, position: int) -> tuple[int, int]:
    """Where the next marker (its fill bytes included) starts in entropy-coded data, and the position after it."""
    while True:
        found = _FF_THEN_NOT_STUFFED.search(data, position)
        if found is None:
            raise Truncated
        after = found.start() + 1
        while after < len(data) and data[after] == 0xFF:  # fill bytes before a marker
            after += 1
        if after >= len(data):
            raise Truncated
        if data[after] not in _NOT_A_MARKER:
            return found.start(), after + 1
        position = after + 1


def _u16(data: bytes, position: int) -> int:
    return int.from_bytes(data[position:position + 2], "big")
