"""Whether a JPEG kept as sent holds its whole image (capture/jpeg_complete.py): cut-off files closed again with an
end-of-image marker, zero-filled tails and missing progressive scans are caught, which the scaled Pillow decode it
replaces let through; damaged streams go to the full decode; hostile input never raises."""

from __future__ import annotations

from dataclasses import replace

import pytest

from capture.jpeg_complete import Completeness, completeness, scans_cover_image
from capture.jpeg_strip import StrippedJpeg, strip_metadata
from tests.factories.phone_jpegs import VARIANTS, phone_jpeg

EOI = b"\xff\xd9"
SOS = b"\xff\xda"


def stripped(data: bytes) -> StrippedJpeg:
    result = strip_metadata(data)
    assert result is not None
    return result


def plain(**options: object) -> bytes:
    return stripped(phone_jpeg(trailer=False, **options)).data  # type: ignore[arg-type]


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_a_whole_phone_jpeg_is_complete(options: dict[str, object]) -> None:
    assert completeness(stripped(plain(**options))) is Completeness.COMPLETE


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
def test_a_file_cut_off_and_closed_again_is_cut_off(options: dict[str, object], cut: float) -> None:
    data = plain(**options)
    assert completeness(stripped(data[:int(len(data) * cut)] + EOI)) is Completeness.CUT_OFF


@pytest.mark.parametrize("progressive", [False, True])
def test_a_tail_of_zeros_is_cut_off(progressive: bool) -> None:
    data = plain(progressive=progressive)
    keep = len(data) // 2
    assert completeness(stripped(data[:keep] + bytes(len(data) - keep - 2) + EOI)) is Completeness.CUT_OFF


def test_a_progressive_jpeg_cut_at_a_scan_boundary_is_cut_off() -> None:
    """No data segment ends early here: only the scan headers tell that the finest refinements never came."""
    data = plain(progressive=True)
    cut = stripped(data[:data.rindex(SOS)] + EOI)
    assert not scans_cover_image(cut)
    assert completeness(cut) is Completeness.CUT_OFF


def test_a_sequential_jpeg_missing_a_components_scan_is_cut_off() -> None:
    whole = stripped(plain())
    only_luma = replace(whole, scans=tuple(replace(scan, ids=scan.ids[:1]) for scan in whole.scans))
    assert scans_cover_image(whole) and not scans_cover_image(only_luma)


def test_bytes_no_block_needs_are_damaged_not_complete() -> None:
    data = plain()
    extra = bytes(range(1, 255)) * 4  # no 0xFF: no marker made up; libjpeg warns of "extraneous bytes"
    assert completeness(stripped(data[:-2] + extra + EOI)) is Completeness.DAMAGED


def test_nuls_in_place_of_the_data_are_not_complete() -> None:
    whole = plain()
    first_scan = whole.index(SOS)
    nuls = whole[:first_scan + 14] + bytes(len(whole) - first_scan - 16) + EOI  # 3-component SOS is 14 bytes
    assert completeness(stripped(nuls)) is not Completeness.COMPLETE
    assert strip_metadata(b"\xff\xd8" + bytes(5000) + EOI) is None  # NULs after the start marker: no frame


def test_a_huge_frame_with_no_data_is_not_complete() -> None:
    whole = stripped(plain())
    huge = replace(whole, width=65535, height=65535)
    frame = whole.data.index(b"\xff\xc0") + 5  # height, width in the frame header
    data = whole.data[:frame] + b"\xff\xff\xff\xff" + whole.data[frame + 4:frame + 600] + EOI
    assert completeness(replace(huge, data=data)) is not Completeness.COMPLETE
