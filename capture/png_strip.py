"""A small PNG (a drawn signature) kept as sent without its ancillary chunks, checked whole without decoding it.

A signature pad's PNG is a few kilobytes of deflate; decoding it, flattening it and re-encoding it cost more CPU
than everything else its request does. The plain case is kept instead: 8-bit greyscale, greyscale + alpha, RGB or
RGBA, not interlaced, no bigger than `max_side`. Its critical chunks (IHDR, IDAT, IEND) are copied byte for byte
and every ancillary chunk is dropped (text, EXIF, time, ICC and colour chunks, private chunks: what names a device
or a person, or changes nothing a reviewer needs), as is anything after IEND.

"Whole" is checked for the price of an inflate: every chunk's CRC holds, the IDAT stream inflates to exactly one
filter byte and `width * channels` bytes per row (so a cut-off or padded file is caught, not shown half empty)
and every row's filter type exists. Anything else (palette, 16-bit, interlaced, big, unknown critical chunks,
a stream that does not add up) is `None`: the caller decodes and re-encodes it as any other upload. A file that
ends before IEND raises `Truncated`."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_CHANNELS: Final = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit only)
_LAST_FILTER: Final = 4  # None, Sub, Up, Average, Paeth


class Truncated(Exception):
    """The file ends before its IEND chunk."""


@dataclass(frozen=True)
class StrippedPng:
    data: bytes
    width: int
    height: int
    alpha: bool


def strip_png(data: bytes, *, max_side: int) -> StrippedPng | None:
    """The same PNG with only its critical chunks, or None when it is not the plain case (module docstring).
    Raises Truncated."""
    if not data.startswith(SIGNATURE):
        return None
    chunks = _chunks(data)
    if chunks is None or not chunks or chunks[0][0] != b"IHDR":
        return None
    header = _header(chunks[0][1], max_side)
    if header is None:
        return None
    width, height, channels = header
    kept, idat = [chunks[0]], []
    for kind, body in chunks[1:]:
        if kind == b"IDAT" and kept[-1][0] in (b"IHDR", b"IDAT"):  # IDAT chunks must be consecutive
            kept.append((kind, body))
            idat.append(body)
        elif kind == b"IEND":
            kept.append((kind, body))
            break
        elif kind[0:1].isupper():  # critical: PLTE on a truecolour image, or one we do not know
            return None
    if not idat or not _rows_whole(b"".join(idat), width, height, channels):
        return None
    out = [SIGNATURE, *(_chunk(kind, body) for kind, body in kept)]
    return StrippedPng(data=b"".join(out), width=width, height=height, alpha=channels in (2, 4))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    """Every chunk up to IEND, as (type, data); None on a bad CRC or a malformed type. Raises Truncated."""
    chunks, position = [], len(SIGNATURE)
    while True:
        if position + 8 > len(data):
            raise Truncated
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if end > len(data):
            raise Truncated
        if not kind.isalpha() or length > 0x7FFFFFFF:
            return None
        body = data[position + 8:end - 4]
        if zlib.crc32(kind + body) != int.from_bytes(data[end - 4:end], "big"):
            return None  # damaged in transit or edited: decode it in full or refuse it there
        chunks.append((kind, body))
        if kind == b"IEND":
            return chunks
        position = end


def _header(body: bytes, max_side: int) -> tuple[int, int, int] | None:
    """(width, height, channels) of a plain IHDR, else None."""
    if len(body) != 13:
        return None
    width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
    depth, colour, compression, filtering, interlace = body[8], body[9], body[10], body[11], body[12]
    if not (0 < width <= max_side and 0 < height <= max_side) or depth != 8 or colour not in _CHANNELS:
        return None
    if compression or filtering or interlace:
        return None
    return width, height, _CHANNELS[colour]


def _rows_whole(deflated: bytes, width: int, height: int, channels: int) -> bool:
    """Whether the image data inflates to exactly `height` rows, each a known filter type and its samples, and
    the deflate stream ends there (no more, no less: never more than one byte past what is expected is inflated,
    so a deflate bomb costs nothing)."""
    stride = 1 + width * channels
    expected = stride * height
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(deflated, expected + 1)
    except zlib.error:
        return False
    if len(raw) != expected or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        return False
    return max(raw[::stride]) <= _LAST_FILTER


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
