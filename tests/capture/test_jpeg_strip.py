"""A JPEG's metadata removed without touching its compressed pixels (capture/jpeg_strip.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from capture.jpeg_strip import JFIF_APP0, Truncated, strip_metadata
from tests.factories.phone_jpegs import GPS_IFD, SECRETS, VARIANTS, phone_jpeg, picture, pixels


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_metadata_segment_and_the_bytes_after_the_image_are_gone(options: dict[str, object]) -> None:
    data = phone_jpeg(**options)  # type: ignore[arg-type]
    assert all(secret in data for secret in SECRETS)
    stripped = strip_metadata(data)
    assert stripped is not None
    assert not [secret for secret in SECRETS if secret in stripped.data]
    assert stripped.data.startswith(b"\xff\xd8" + JFIF_APP0) and stripped.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(stripped.data)) as image:
        assert not image.getexif() and GPS_IFD not in image.getexif()
        assert not {"exif", "icc_profile", "comment", "xmp", "mp", "adobe"} & set(image.info)


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_the_pixels_and_the_compressed_data_are_the_uploads_own(options: dict[str, object]) -> None:
    data = phone_jpeg(**options)  # type: ignore[arg-type]
    stripped = strip_metadata(data)
    assert stripped is not None
    assert pixels(stripped.data) == pixels(data)
    first_scan = data.index(b"\xff\xda")
    assert data[first_scan:data.index(b"\xff\xd9", first_scan)] in stripped.data  # every scan, byte for byte
    with Image.open(io.BytesIO(data)) as image:
        assert (stripped.width, stripped.height) == image.size


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("cut", [0.02, 0.5, 0.999])
def test_a_stream_cut_off_before_its_end_is_truncated(progressive: bool, cut: float) -> None:
    data = phone_jpeg(progressive=progressive, trailer=False)
    with pytest.raises(Truncated):
        strip_metadata(data[:int(len(data) * cut)])


def encoded(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def test_jpegs_whose_colours_depend_on_what_would_be_dropped_are_left_to_a_re_encode() -> None:
    cmyk = encoded(picture((400, 300)).convert("CMYK"))  # four components, Adobe's APP14
    rgb = encoded(picture((400, 300)), keep_rgb=True)  # stored as RGB: without its marker, read as YCbCr
    assert strip_metadata(cmyk) is None and strip_metadata(rgb) is None
    assert strip_metadata(b"\x89PNG\r\n\x1a\n") is None and strip_metadata(b"\xff\xd8\x00\x00") is None
