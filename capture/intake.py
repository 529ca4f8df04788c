"""Safe intake of untrusted photo bytes.

Order matters: byte size first, then the format from magic bytes (never the file name),
then the pixel count from the header (Pillow's `open` is lazy), and only then decoding.
JPEGs are decoded with DCT scaling (`Image.draft`), which is several times faster than a
full 12 MP decode and is all the barcode and OCR stages need for a first pass.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps

from capture.result import Reason

DEFAULT_MAX_BYTES: Final = 15_000_000
DEFAULT_MAX_PIXELS: Final = 50_000_000
# Below this a credential's MRZ characters are a few pixels tall: nothing can be read.
MIN_SIDE: Final = 200
MIN_PIXELS: Final = 100_000

_ORIENTATION: Final = 0x0112  # the EXIF tag
_TURNS: Final = range(2, 9)  # the orientations `ImageOps.exif_transpose` acts on
_JPEG: Final = "JPEG"
_PNG: Final = "PNG"
_WEBP: Final = "WEBP"
_HEIF: Final = "HEIF"
_ACCEPTED: Final = (_JPEG, _PNG, _WEBP)
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
# Formats we recognise but do not take, so the user hears "send a photo", not "broken file".
_OTHER_IMAGE_MAGIC: Final = (b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"%PDF")


class IntakeError(Exception):
    """Typed rejection of uploaded bytes; `reason` is what the UI explains."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


@dataclass(frozen=True)
class WorkingImage:
    """A decoded, EXIF-oriented image, possibly downscaled from the original.

    `scale` is working pixels per original pixel, so `x / scale` maps back to the
    original (oriented) image.
    """

    image: Image.Image
    scale: float
    full_size: tuple[int, int]
    format: str


def sniff_format(data: bytes) -> str:
    """The Pillow format name for accepted bytes, judged by content only."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        if heif_supported():
            return _HEIF
        raise IntakeError(Reason.UNSUPPORTED_FORMAT, "heif")
    if data.startswith(_OTHER_IMAGE_MAGIC):
        raise IntakeError(Reason.UNSUPPORTED_FORMAT)
    raise IntakeError(Reason.NOT_AN_IMAGE)


@functools.cache
def heif_supported() -> bool:
    """HEIC (iPhones) needs the optional `pillow-heif` plugin; without it HEIC is refused."""
    try:
        import pillow_heif  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def open_checked(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Open lazily and check size limits before any pixel is decoded."""
    if len(data) > max_bytes:
        raise IntakeError(Reason.TOO_LARGE)
    image_format = sniff_format(data)
    image = _open_lazy(data, image_format)
    width, height = image.size
    if width * height > max_pixels:
        raise IntakeError(Reason.TOO_MANY_PIXELS)
    if min(width, height) < MIN_SIDE or width * height < MIN_PIXELS:
        raise IntakeError(Reason.IMAGE_TOO_SMALL)
    if image_format == _JPEG and data.rfind(b"\xff\xd9") < 0:
        raise IntakeError(Reason.IMAGE_TRUNCATED)  # no end-of-image marker anywhere
    return image


def _open_lazy(data: bytes, image_format: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError as error:
        raise IntakeError(Reason.TOO_MANY_PIXELS) from error
    # Pillow's parsers raise many exception types on hostile headers; all mean "not an image".
    except Exception as error:
        raise IntakeError(Reason.NOT_AN_IMAGE, type(error).__name__) from error


def load_image(
    data: bytes,
    *,
    long_side: int | None = None,
    mode: str = "L",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> WorkingImage:
    """Decode, apply EXIF orientation and shrink to about `long_side` (None: full size).

    The result's long side is between `long_side` and twice it: JPEG DCT scaling and
    `Image.reduce` only divide by whole factors, which is what keeps them fast.
    """
    image = open_checked(data, max_bytes=max_bytes, max_pixels=max_pixels)
    full_size = image.size
    factor = _reduce_factor(full_size, long_side)
    decoded = _decode(image, mode, factor)
    oriented = _upright(decoded)
    if oriented.size[0] != decoded.size[0]:
        full_size = (full_size[1], full_size[0])
    scale = oriented.size[0] / full_size[0]
    return WorkingImage(image=oriented, scale=scale, full_size=full_size, format=image.format or "")


def _upright(image: Image.Image) -> Image.Image:
    try:
        # Most photos need no turn, and `exif_transpose` copies the pixels even then (40 ms for a 2000 px colour
        # image): only a real turn (orientations 2-8) goes through it.
        if image.getexif().get(_ORIENTATION, 1) not in _TURNS:
            return image
        return ImageOps.exif_transpose(image)
    except Exception:  # an unreadable EXIF block (WebP raises on it): the pixels as stored, as browsers show them
        return image


def _reduce_factor(size: tuple[int, int], long_side: int | None) -> int:
    if long_side is None:
        return 1
    return max(1, max(size) // long_side)


def _decode(image: Image.Image, mode: str, factor: int) -> Image.Image:
    try:
        if image.format == _JPEG:
            width, height = image.size
            image.draft(mode, (width // factor, height // factor))
            factor = 1
        image.load()
        converted = image if image.mode == mode else image.convert(mode)
        return converted.reduce(factor) if factor > 1 else converted
    except Image.DecompressionBombError as error:
        raise IntakeError(Reason.TOO_MANY_PIXELS) from error
    except OSError as error:
        if "truncated" in str(error):
            raise IntakeError(Reason.IMAGE_TRUNCATED) from error
        raise IntakeError(Reason.NOT_AN_IMAGE, type(error).__name__) from error
    except Exception as error:
        raise IntakeError(Reason.NOT_AN_IMAGE, type(error).__name__) from error


def sanitized_jpeg(image: Image.Image, *, quality: int = 85, max_long_side: int | None = None) -> bytes:
    """Re-encode for storage with no metadata at all (EXIF, GPS, XMP, ICC, comments).

    Only pixels are copied, so anything appended to or hidden in the upload is dropped.
    """
    pixels = image.convert("RGB")
    if max_long_side is not None and max(pixels.size) > max_long_side:
        pixels = pixels.copy()
        pixels.thumbnail((max_long_side, max_long_side))
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def sanitized_upload(
    data: bytes,
    *,
    max_long_side: int | None = 2400,
    quality: int = 85,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> bytes:
    """Checked, upright, metadata-free JPEG of an upload, for the image store.

    Raises `IntakeError` like `load_image`. Decoding at about `max_long_side` keeps a
    12 MP photo's re-encode cheap and the stored evidence legible.
    """
    working = load_image(data, long_side=max_long_side, mode="RGB", max_bytes=max_bytes, max_pixels=max_pixels)
    return sanitized_jpeg(working.image, quality=quality, max_long_side=max_long_side)
