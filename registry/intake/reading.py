"""Reading a credential's back, once: the photo is decoded one time for both the reading and the copy kept in
the image store, and the result is kept for a short while under the photo's SHA-256, so the field page's instant
read and the batch that follows (the same bytes, moments later) reuse it. The reading is always the server's own:
the cache holds only what this server computed, and the device's own reading is never asked for."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from capture.pipeline import read_back_keeping
from capture.result import BackReading, Reason
from registry.images import STORED_LONG_SIDE, CleanImage, clean_decoded
from registry.states import ImageKind

KEEP_SECONDS = 15 * 60  # long enough for a phone to send its batch after the instant read, short for a photo
KEEP_ENTRIES = 32  # each holds a re-encoded back photo (a few hundred KB)


@dataclass(frozen=True)
class ImageLimits:
    """The photo limits every channel applies before decoding (REGISTRO_UPLOAD_MAX_BYTES / _MAX_PIXELS)."""

    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class BackDecode:
    reading: BackReading
    image: CleanImage | None  # the back photo ready for the store; None when the file itself is unusable


class DecodeCache(Protocol):
    """Where recent decodes are kept: `ReadingCache` in one process (tools, tests), or the database table shared
    by every web worker (registry/intake/decode_cache.py)."""

    def get(self, key: tuple[str, date]) -> BackDecode | None: ...

    def put(self, key: tuple[str, date], decoded: BackDecode) -> None: ...


class ReadingCache:
    """Recent decodes by (SHA-256 of the photo, the day that decided its vigencia), in one process."""

    def __init__(self, *, seconds: float = KEEP_SECONDS, entries: int = KEEP_ENTRIES) -> None:
        self._seconds, self._entries = seconds, entries
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, date], tuple[float, BackDecode]] = OrderedDict()

    def get(self, key: tuple[str, date]) -> BackDecode | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None or time.monotonic() - found[0] > self._seconds:
                self._kept.pop(key, None)
                return None
            return found[1]

    def put(self, key: tuple[str, date], decoded: BackDecode) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic(), decoded)
            self._kept.move_to_end(key)
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)


def decode_back(data: bytes, *, today: date, limits: ImageLimits, budget_ms: int,
                cache: DecodeCache | None = None) -> BackDecode:
    """The server's reading of a back photo and its copy for the store, from one decode (or from the cache)."""
    sha256 = hashlib.sha256(data).hexdigest()
    kept = cache.get((sha256, today)) if cache is not None else None
    if kept is not None:
        return kept
    reading, colour = read_back_keeping(data, keep_long_side=STORED_LONG_SIDE, today=today, budget_ms=budget_ms,
                                        max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
    image = clean_decoded(colour, sha256=sha256, kind=ImageKind.BACK, original=data) \
        if colour is not None else None
    decoded = BackDecode(reading=reading, image=image)
    # A read cut short by a busy server is not kept: the same photo sent again deserves the whole budget.
    if cache is not None and Reason.TIME_BUDGET_EXHAUSTED not in reading.reasons:
        cache.put((sha256, today), decoded)
    return decoded
