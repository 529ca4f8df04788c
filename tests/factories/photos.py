"""Photos for tests, made in memory from synthetic credential backs (capture.specimens): nothing describes a real
person and nothing is read from disk. `back_photo` is a phone photo of a back (BackPhoto, with its identity);
`flat_back` a flat scan-like back the pipeline reads fast (bytes); `plain_photo` a valid photo with no credential
in it (front, selfie, unreadable back); `signature_png` what signature.js sends. Each takes a fraction of a
second, so a module makes the few it needs once (the flat ones are cached)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

from PIL import Image, ImageDraw

from capture.pipeline import read_back
from capture.specimens import Condition, SpecimenIdentity, photograph, random_identity, render_back
from capture.specimens.card import MRZ_BAND

# Flat backs are rendered at a resolution the pipeline reads in about 0.3 s: field tests stay fast.
FLAT_PX_PER_MM = 12.0
# The "distance" condition gives a small (≈0.4 MB) photo the pipeline reads in a fraction of a second.
CONDITION = Condition.DISTANCE
PX_PER_MM = 16.0


@dataclass(frozen=True)
class BackPhoto:
    data: bytes
    identity: SpecimenIdentity

    @property
    def cic(self) -> str:
        return self.identity.cic

    @property
    def mrz_line1(self) -> str:
        return self.identity.mrz_lines()[0]


def back_photo(seed: int, *, model: str = "H", expired: bool = False, hide_mrz: bool = False) -> BackPhoto:
    """A phone photo of a synthetic back; `expired` moves its vigencia to 2020, `hide_mrz` covers the bottom
    lines (the small QR stays readable: the citizen must type the first line)."""
    rng = random.Random(f"citizen:{seed}:{model}")
    identity = random_identity(rng, model)
    if expired:
        identity = replace(identity, expiry_year=2020)
    card = render_back(identity, px_per_mm=PX_PER_MM)
    if hide_mrz:
        _cover_mrz(card)
    return BackPhoto(data=photograph(card, rng, CONDITION), identity=identity)


@cache
def flat_identity(seed: int, model: str = "H") -> SpecimenIdentity:
    return random_identity(random.Random(f"field-test:{seed}"), model)


@cache
def flat_back(seed: int, model: str = "H") -> bytes:
    card = render_back(flat_identity(seed, model), px_per_mm=FLAT_PX_PER_MM)
    scene = Image.new("RGB", (card.width + 120, card.height + 120), (96, 92, 88))
    scene.paste(card, (60, 60), card)
    buffer = io.BytesIO()
    scene.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


@cache
def unreadable_back() -> bytes:
    """A photo with no credential in it: the pipeline finds no QR and no MRZ."""
    return plain_photo(shade=200, size=(640, 400))


@cache
def warm_up_reader() -> None:
    """Load the OCR model once per test process, outside any decode budget: the first read pays seconds for it,
    which on a busy 2-core machine would make the first photo of a test look unreadable."""
    reading = read_back(back_photo(1).data, today=date(2026, 1, 1), budget_ms=120_000)
    assert reading.ok, reading.reasons


def _cover_mrz(card: Image.Image) -> None:
    left, top = round(MRZ_BAND.x * PX_PER_MM), round(MRZ_BAND.y * PX_PER_MM)
    ImageDraw.Draw(card).rectangle((left, top, card.width, card.height), fill=(236, 232, 226))


@cache
def plain_photo(shade: int = 150, size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG that is a valid photo but shows no credential (front, selfie, or an unreadable back)."""
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (shade, shade - 20, shade - 40))
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 6, size[0] * 3 // 4, size[1] * 5 // 6), fill=(90, 60, 40))
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@cache
def signature_png(size: tuple[int, int] = (700, 300)) -> bytes:
    """What signature.js sends: strokes on a transparent canvas."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 200), (200, 80), (320, 220), (520, 60), (650, 180)], fill=(0, 0, 0, 255),
                               width=6)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def ready_back(seed: int) -> BackPhoto:
    """`back_photo(seed)` for a module's fixture, with the reader warmed up first (its usual start)."""
    warm_up_reader()
    return back_photo(seed)
