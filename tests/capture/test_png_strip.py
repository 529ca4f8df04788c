"""A signature's PNG kept as sent without its ancillary chunks, checked whole without decoding it
(capture/png_strip.py): only the plain case is kept, a cut-off, padded, damaged or odd file never is."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from capture.png_strip import SIGNATURE, Truncated, strip_png
from tests.factories.photos import signature_png

MAX_SIDE = 2000
SECRET = b"private-device-0042"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, raw: bytes, *, colour: int = 6, depth: int = 8, interlace: int = 0,
        extra: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return SIGNATURE + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def decoded(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode, image.size, image.tobytes()


def with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    info.add_itxt("Author", "Ciudadana Ejemplo")
    out = io.BytesIO()
    Image.open(io.BytesIO(signature_png())).save(out, "PNG", pnginfo=info, exif=b"Exif\x00\x00" + SECRET,
                                                  dpi=(300, 300))
    return out.getvalue() + b"appended after IEND " + SECRET


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA"])
def test_a_plain_png_is_kept_with_the_same_pixels(mode: str) -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(signature_png())).convert(mode).save(out, "PNG")
    kept = strip_png(out.getvalue(), max_side=MAX_SIDE)
    assert kept is not None and (kept.width, kept.height) == (700, 300) and kept.alpha == ("A" in mode)
    assert decoded(kept.data) == decoded(out.getvalue())


def test_ancillary_chunks_and_what_follows_the_end_are_dropped() -> None:
    upload = with_text()
    assert upload.count(SECRET) == 3
    kept = strip_png(upload, max_side=MAX_SIDE)
    assert kept is not None and SECRET not in kept.data and b"Ciudadana" not in kept.data
    assert kept.data.endswith(chunk(b"IEND", b"")) and decoded(kept.data) == decoded(upload)
    with Image.open(io.BytesIO(kept.data)) as image:
        assert not {"Comment", "Author", "exif", "dpi"} & set(image.info)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_a_file_cut_off_before_its_end_is_truncated(cut: float) -> None:
    upload = signature_png()
    with pytest.raises(Truncated):
        strip_png(upload[:int(len(upload) * cut)], max_side=MAX_SIDE)


def test_image_data_cut_short_and_closed_again_is_not_kept() -> None:
    raw = b"".join(b"\x00" + bytes(400) for _ in range(100))
    deflated = zlib.compress(raw)
    header = struct.pack(">IIBBBBB", 100, 100, 8, 6, 0, 0, 0)
    short = SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", deflated[:len(deflated) // 2]) + chunk(b"IEND", b"")
    assert strip_png(short, max_side=MAX_SIDE) is None
    fewer_rows = png(100, 100, raw[:-401])
    assert strip_png(fewer_rows, max_side=MAX_SIDE) is None
    assert strip_png(png(100, 100, raw), max_side=MAX_SIDE) is not None


def test_zeros_in_place_of_the_image_data_are_not_kept() -> None:
    upload = signature_png()
    start = upload.index(b"IDAT") + 4
    end = upload.index(b"IEND") - 8
    assert strip_png(upload[:start] + bytes(end - start) + upload[end:], max_side=MAX_SIDE) is None  # CRC fails


def test_a_damaged_chunk_is_not_kept() -> None:
    upload = bytearray(signature_png())
    upload[upload.index(b"IDAT") + 20] ^= 0x55
    assert strip_png(bytes(upload), max_side=MAX_SIDE) is None


@pytest.mark.parametrize("options", [{"interlace": 1}, {"depth": 16}, {"colour": 3}],
                         ids=["interlaced", "16-bit", "palette"])
def test_not_the_plain_case_is_not_kept(options: dict[str, int]) -> None:
    assert strip_png(png(10, 10, b"\x00" + bytes(40) * 10, **options), max_side=MAX_SIDE) is None


def test_bigger_than_the_stored_size_is_not_kept() -> None:
    raw = b"".join(b"\x00" + bytes(4 * 2001) for _ in range(2))
    assert strip_png(png(2001, 2, raw), max_side=MAX_SIDE) is None


def test_a_row_with_an_unknown_filter_is_not_kept() -> None:
    raw = b"\x00" + bytes(40) + b"\x05" + bytes(40)
    assert strip_png(png(10, 2, raw), max_side=MAX_SIDE) is None


def test_a_deflate_bomb_is_not_inflated_past_the_image() -> None:
    """A 10x10 image whose data inflates to 100 MB: refused after inflating one byte past the 4,010 expected."""
    bomb = zlib.compress(bytes(100_000_000), 9)
    header = struct.pack(">IIBBBBB", 10, 10, 8, 6, 0, 0, 0)
    data = SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", bomb) + chunk(b"IEND", b"")
    assert strip_png(data, max_side=MAX_SIDE) is None


def test_an_unknown_critical_chunk_is_not_kept() -> None:
    assert strip_png(png(10, 10, (b"\x00" + bytes(40)) * 10, extra=chunk(b"ABCD", b"x")), max_side=MAX_SIDE) is None


@pytest.mark.parametrize("data", [b"", bytes(1000), SIGNATURE, SIGNATURE + bytes(30), b"\xff\xd8\xff\xe0" + bytes(99)],
                         ids=["empty", "nul", "signature only", "nul chunk", "jpeg"])
def test_hostile_input_is_none_or_truncated(data: bytes) -> None:
    try:
        assert strip_png(data, max_side=MAX_SIDE) is None
    except Truncated:
        assert data.startswith(SIGNATURE)
