"""Photos cleaned for the store (registry/images.py): a plain phone JPEG is kept as sent without its metadata and
without a decode and re-encode; PNG, WebP, turned, big and heavy JPEGs are re-encoded as before; a cut-off file is
refused as truncated either way; full decodes are bounded per process."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

import registry.images
from capture.jpeg_strip import strip_metadata
from capture.result import Reason
from registry.images import FULL_DECODES_AT_ONCE, STORED_LONG_SIDE, CleanImage, clean_image, viewable
from registry.intake.photos import clean_photo
from registry.intake.reading import ImageLimits, decode_back
from registry.intake.refusals import Refused
from registry.states import ImageKind
from tests.factories.phone_jpegs import SECRETS, phone_jpeg, picture, pixels
from tests.factories.photos import flat_back, signature_png

LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the expensive steps run: a full decode (`load_image`) and a re-encode (`sanitized_jpeg`). The
    real functions run; they are only counted."""
    counted: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return real(*args, **kwargs)
        return run

    for name in ("load_image", "sanitized_jpeg"):
        monkeypatch.setattr(registry.images, name, counting(name, getattr(registry.images, name)))
    return counted


def clean(data: bytes, kind: ImageKind = ImageKind.FRONT) -> CleanImage:
    return clean_photo(data, kind=kind, limits=LIMITS)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.mark.parametrize("progressive", [False, True])
def test_a_phone_jpeg_is_kept_as_sent_without_metadata_and_without_a_re_encode(calls: Counter[str],
                                                                               progressive: bool) -> None:
    upload = phone_jpeg((1800, 1350), progressive=progressive)
    kept = clean(upload, ImageKind.LIVE_PHOTO)
    assert not [secret for secret in SECRETS if secret in kept.jpeg]  # GPS EXIF, serial, XMP, comment, trailer
    assert pixels(kept.jpeg) == pixels(upload)  # the very same pixels, not a lossy copy of them
    assert (kept.width, kept.height) == size_of(kept.jpeg) == (1800, 1350)
    assert calls == {}  # no full decode, no re-encode: the CPU the photos step no longer spends


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_a_cut_off_jpeg_is_refused_as_truncated_as_before(progressive: bool, cut: float) -> None:
    upload = phone_jpeg(progressive=progressive, trailer=False)
    with pytest.raises(Refused) as refused:
        clean(upload[:int(len(upload) * cut)])
    assert refused.value.reason is Reason.IMAGE_TRUNCATED


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("tail", [b"", b"zeros"], ids=["closed again", "zero-filled"])
def test_a_cut_off_jpeg_closed_again_is_refused_not_kept(calls: Counter[str], progressive: bool,
                                                          tail: bytes) -> None:
    """A transfer cut short whose file still ends with the end-of-image marker (the scaled decode of before kept
    it, half grey, as evidence): the citizen is asked to send it again."""
    upload = phone_jpeg(progressive=progressive, trailer=False)
    keep = int(len(upload) * 0.6)
    with pytest.raises(Refused) as refused:
        clean(upload[:keep] + (bytes(len(upload) - keep - 2) if tail else b"") + b"\xff\xd9")
    assert refused.value.reason is Reason.IMAGE_TRUNCATED and calls == {}


def test_a_damaged_jpeg_is_judged_by_the_full_decode_not_kept(calls: Counter[str]) -> None:
    upload = phone_jpeg(trailer=False)
    # Bytes no block needs before the end marker (no 0xFF: no marker made up): libjpeg's "extraneous bytes".
    damaged = upload[:-2] + bytes(range(1, 255)) * 4 + upload[-2:]
    cleaned, stripped = clean(damaged), strip_metadata(damaged)
    assert stripped is not None and cleaned.jpeg != stripped.data
    assert calls == {"load_image": 1, "sanitized_jpeg": 1}


def png_with_text() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a private comment")
    out = io.BytesIO()
    picture((900, 700)).save(out, "PNG", pnginfo=text)
    return out.getvalue()


def webp() -> bytes:
    """With an EXIF block Pillow cannot parse: its orientation is ignored (as browsers do), never a crash."""
    out = io.BytesIO()
    picture((900, 700)).save(out, "WEBP", quality=80, exif=b"Exif\x00\x00SERIAL-0042")
    return out.getvalue()


def palette_signature() -> bytes:
    """A signature PNG that is not the plain case (a palette), with a private comment."""
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a private comment")
    out = io.BytesIO()
    Image.open(io.BytesIO(signature_png())).convert("P").save(out, "PNG", pnginfo=text)
    return out.getvalue()


@pytest.mark.parametrize("upload", [png_with_text, webp, palette_signature],
                         ids=["png", "webp", "odd signature"])
def test_png_and_webp_still_take_the_decode_and_re_encode(calls: Counter[str], upload: Callable[[], bytes]) -> None:
    cleaned = clean(upload(), ImageKind.SIGNATURE if upload is palette_signature else ImageKind.FRONT)
    assert calls == {"load_image": 1, "sanitized_jpeg": 1}
    assert cleaned.jpeg.startswith(b"\xff\xd8") and not [secret for secret in SECRETS if secret in cleaned.jpeg]
    assert cleaned.content_type == "image/jpeg"


def test_a_drawn_signature_is_kept_as_sent_without_its_text_chunks(calls: Counter[str]) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a private comment")
    out = io.BytesIO()
    Image.open(io.BytesIO(signature_png())).save(out, "PNG", pnginfo=text)
    kept = clean(out.getvalue(), ImageKind.SIGNATURE)
    assert calls == {} and kept.content_type == "image/png" and (kept.width, kept.height) == (700, 300)
    assert b"private" not in kept.jpeg and pixels(kept.jpeg) == pixels(signature_png())


def test_a_signature_cut_off_is_refused_as_truncated(calls: Counter[str]) -> None:
    upload = signature_png()
    with pytest.raises(Refused) as refused:
        clean(upload[:len(upload) // 2], ImageKind.SIGNATURE)
    assert refused.value.reason is Reason.IMAGE_TRUNCATED


def test_a_kept_signature_is_shown_flattened_on_white() -> None:
    """Opened on its own, a browser shows an image over a dark background: the strokes must not vanish."""
    kept = clean(signature_png(), ImageKind.SIGNATURE)
    content_type, shown = viewable(kept.content_type, kept.jpeg)
    with Image.open(io.BytesIO(shown)) as image:
        assert content_type == "image/png" and image.mode == "RGB" and image.size == (700, 300)
        assert image.getpixel((5, 5)) == (255, 255, 255) and image.convert("L").getextrema() == (0, 255)
    assert viewable("image/jpeg", b"jpeg bytes") == ("image/jpeg", b"jpeg bytes")


def test_a_photo_turned_by_its_orientation_is_re_encoded_upright(calls: Counter[str]) -> None:
    turned = clean(phone_jpeg((1600, 1200), orientation=6))
    assert calls == {"load_image": 1, "sanitized_jpeg": 1}
    assert size_of(turned.jpeg) == (turned.width, turned.height) == (1200, 1600)
    assert not [secret for secret in SECRETS if secret in turned.jpeg]


def test_a_photo_bigger_than_the_stored_size_is_shrunk(calls: Counter[str]) -> None:
    shrunk = clean(phone_jpeg((2400, 1800)))
    assert calls == {"load_image": 1, "sanitized_jpeg": 1}
    assert max(size_of(shrunk.jpeg)) == STORED_LONG_SIDE


def test_a_jpeg_heavier_than_a_phones_is_re_encoded_smaller(calls: Counter[str]) -> None:
    heavy = phone_jpeg((1200, 900), quality=100, trailer=False)
    assert len(heavy) > registry.images.KEPT_MAX_BYTES_PER_PIXEL * 1200 * 900
    cleaned = clean(heavy)
    assert calls == {"load_image": 1, "sanitized_jpeg": 1} and len(cleaned.jpeg) < len(heavy)


def test_full_decodes_take_one_of_the_few_turns_and_kept_jpegs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    free_while_decoding: list[int] = []
    real_load_image = registry.images.load_image

    def watched(*args: Any, **kwargs: Any) -> Any:
        free_while_decoding.append(free_turns())
        return real_load_image(*args, **kwargs)

    monkeypatch.setattr(registry.images, "load_image", watched)
    clean(png_with_text())
    assert free_while_decoding == [FULL_DECODES_AT_ONCE - 1] and free_turns() == FULL_DECODES_AT_ONCE
    taken = [registry.images._full_decodes.acquire(blocking=False) for _ in range(FULL_DECODES_AT_ONCE)]
    try:
        assert all(taken)
        clean(phone_jpeg())  # every turn taken: a plain JPEG does not need one
    finally:
        for _ in taken:
            registry.images._full_decodes.release()


def free_turns() -> int:
    taken = 0
    while registry.images._full_decodes.acquire(blocking=False):
        taken += 1
    for _ in range(taken):
        registry.images._full_decodes.release()
    return taken


def test_the_back_photo_read_by_the_credential_reader_is_kept_as_sent(calls: Counter[str]) -> None:
    upload = flat_back(3)
    decoded = decode_back(upload, today=date(2026, 1, 1), limits=LIMITS, budget_ms=120_000)
    stripped = strip_metadata(upload)
    assert decoded.image is not None and stripped is not None
    assert decoded.image.jpeg == stripped.data and calls["sanitized_jpeg"] == 0


def test_clean_image_gives_the_same_as_the_intake(calls: Counter[str]) -> None:
    upload = phone_jpeg()
    direct = clean_image(upload, kind=ImageKind.FRONT, max_bytes=LIMITS.max_bytes, max_pixels=LIMITS.max_pixels)
    assert direct == clean(upload) and calls == {}
