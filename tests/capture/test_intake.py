import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from capture.intake import (
    IntakeError,
    heif_supported,
    load_image,
    open_checked,
    sanitized_jpeg,
    sanitized_upload,
    sniff_format,
)
from capture.result import Reason

_ORIENTATION = 0x0112
_GPS_IFD = 0x8825


def picture(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """An RGB picture whose left half is dark, so orientation changes are visible."""
    image = Image.new("RGB", size, (240, 240, 240))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2, size[1]), fill=(10, 10, 10))
    return image


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares `width` x `height` pixels: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


def rejection(data: bytes, *, max_bytes: int = 15_000_000, max_pixels: int = 50_000_000) -> Reason:
    with pytest.raises(IntakeError) as raised:
        load_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return raised.value.reason


@pytest.mark.parametrize(("image_format", "name"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP")])
def test_accepts_photo_formats_by_content(image_format: str, name: str) -> None:
    data = encode(picture(), image_format)
    assert sniff_format(data) == name
    working = load_image(data)
    assert working.image.size == (400, 300)
    assert working.image.mode == "L"
    assert working.format == name


def test_exif_orientation_is_applied() -> None:
    # Stored sideways, as phones do, with the tag that says "turn 90 degrees clockwise".
    stored = picture().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    working = load_image(encode(stored, "JPEG", exif=exif.tobytes()), long_side=200)
    assert working.image.size == (200, 150)
    assert working.full_size == (400, 300)
    left, right = working.image.getpixel((10, 75)), working.image.getpixel((190, 75))
    assert isinstance(left, int) and isinstance(right, int)
    assert right - left > 150


@pytest.mark.parametrize("orientation", [None, 1, 9])
def test_a_photo_that_needs_no_turn_is_kept_as_stored(orientation: int | None) -> None:
    # No tag, "as stored", or a value no reader knows: the pixels as stored (no turn, no mirror).
    exif = Image.Exif()
    if orientation is not None:
        exif[_ORIENTATION] = orientation
    working = load_image(encode(picture(), "JPEG", exif=exif.tobytes()), long_side=200, mode="RGB")
    assert working.image.size == (200, 150)
    left, right = working.image.getpixel((10, 75)), working.image.getpixel((190, 75))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert right[0] - left[0] > 150


def test_jpeg_is_decoded_downscaled_with_its_scale() -> None:
    data = encode(picture((1600, 1200)), "JPEG")
    working = load_image(data, long_side=400)
    assert working.image.size == (400, 300)
    assert working.scale == pytest.approx(0.25)
    assert working.full_size == (1600, 1200)


def test_png_is_reduced_too() -> None:
    working = load_image(encode(picture((1600, 1200)), "PNG"), long_side=800)
    assert working.image.size == (800, 600)
    assert working.scale == pytest.approx(0.5)


def test_size_limit_is_checked_before_anything_else() -> None:
    assert rejection(b"not even an image" * 100, max_bytes=1000) == Reason.TOO_LARGE


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (8_000, 8_000)])
def test_pixel_bombs_are_refused_from_the_header(width: int, height: int) -> None:
    assert rejection(png_header_only(width, height)) == Reason.TOO_MANY_PIXELS


def test_pixel_limit_is_configurable() -> None:
    data = encode(picture(), "PNG")
    assert rejection(data, max_pixels=100_000) == Reason.TOO_MANY_PIXELS


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.97])
def test_truncated_jpeg(cut: float) -> None:
    data = encode(picture((800, 600)), "JPEG", quality=95)
    assert rejection(data[: int(len(data) * cut)]) == Reason.IMAGE_TRUNCATED


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"<html><body>not a photo</body></html>",
        b"PK\x03\x04" + b"\x00" * 200,  # a zip
        b"\xff\xd8\xff\xe0" + b"PK\x03\x04" + b"\x00" * 200,  # JPEG magic, then a zip
        b"\xff\xd8\xff<html><script>alert(1)</script></html>\xff\xd9",  # JPEG magic, then HTML
        b"\x89PNG\r\n\x1a\n<svg></svg>",
        b"RIFF\x00\x00\x00\x00WEBPjunk",
    ],
)
def test_non_images_and_polyglots(data: bytes) -> None:
    assert rejection(data) == Reason.NOT_AN_IMAGE


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_unsupported(image_format: str) -> None:
    assert rejection(encode(picture(), image_format)) == Reason.UNSUPPORTED_FORMAT


def test_heic_is_read_with_the_optional_plugin_and_refused_without() -> None:
    if heif_supported():
        working = load_image(encode(picture(), "HEIF"))
        assert working.image.size == (400, 300)
        assert working.format == "HEIF"
    else:
        heic_like = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
        assert rejection(heic_like) == Reason.UNSUPPORTED_FORMAT


def test_tiny_images_are_too_small() -> None:
    assert rejection(encode(picture((150, 120)), "PNG")) == Reason.IMAGE_TOO_SMALL


def test_open_checked_reads_only_the_header() -> None:
    data = bytearray(encode(picture(), "PNG"))
    pixels_at = data.index(b"IDAT") + 4
    data[pixels_at : pixels_at + 40] = b"\x00" * 40  # corrupt the compressed pixels
    assert open_checked(bytes(data)).size == (400, 300)
    assert rejection(bytes(data)) == Reason.NOT_AN_IMAGE


def test_sanitized_jpeg_keeps_pixels_and_drops_metadata() -> None:
    exif = Image.Exif()
    exif[_ORIENTATION] = 1
    exif.get_ifd(_GPS_IFD)[2] = (19.0, 25.0, 0.0)  # GPSLatitude
    data = encode(picture(), "JPEG", exif=exif.tobytes(), comment=b"secret")
    upload = data + b"PK\x03\x04 appended archive"
    clean = sanitized_jpeg(load_image(upload, mode="RGB").image)
    reopened = Image.open(io.BytesIO(clean))
    assert reopened.format == "JPEG"
    assert reopened.size == (400, 300)
    assert not reopened.getexif()
    assert "exif" not in reopened.info and "comment" not in reopened.info
    assert b"PK\x03\x04" not in clean and b"secret" not in clean


def test_sanitized_upload_is_upright_small_and_clean() -> None:
    stored = picture((1600, 1200)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    clean = sanitized_upload(encode(stored, "JPEG", exif=exif.tobytes()), max_long_side=800)
    reopened = Image.open(io.BytesIO(clean))
    assert reopened.size == (800, 600)
    assert not reopened.getexif()
    with pytest.raises(IntakeError):
        sanitized_upload(b"<html></html>")


def test_sanitized_jpeg_can_shrink() -> None:
    clean = sanitized_jpeg(picture((1600, 1200)), max_long_side=800)
    assert Image.open(io.BytesIO(clean)).size == (800, 600)
