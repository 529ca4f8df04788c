"""Photos for field-capture tests: a synthetic credential back (capture.specimens) that the pipeline reads,
and small plain images for the front, the live photo and the signature. Cached: each is made once per run."""

from __future__ import annotations

import io
import random
from functools import cache

from PIL import Image, ImageDraw

from capture.specimens import SpecimenIdentity, random_identity, render_back

# Rendered flat (no simulated phone) at a resolution the pipeline reads in about 0.3 s: tests stay fast.
PX_PER_MM = 12.0


@cache
def identity(seed: int, model: str = "H") -> SpecimenIdentity:
    return random_identity(random.Random(f"field-test:{seed}"), model)


@cache
def back_photo(seed: int, model: str = "H") -> bytes:
    card = render_back(identity(seed, model), px_per_mm=PX_PER_MM)
    scene = Image.new("RGB", (card.width + 120, card.height + 120), (96, 92, 88))
    scene.paste(card, (60, 60), card)
    return _jpeg(scene)


@cache
def plain_photo(shade: int = 180, size: tuple[int, int] = (480, 360)) -> bytes:
    image = Image.new("RGB", size, (shade, shade - 20, shade - 40))
    ImageDraw.Draw(image).ellipse((140, 60, 340, 300), fill=(90, 60, 40))
    return _jpeg(image)


@cache
def unreadable_back() -> bytes:
    """A photo with no credential in it: the pipeline finds no QR and no MRZ."""
    return plain_photo(shade=200, size=(640, 400))


@cache
def signature_png() -> bytes:
    image = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 180), (160, 60), (260, 190), (420, 50), (560, 170)], fill=(0, 0, 0, 255),
                               width=6)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()
