import io
import struct
import zlib
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageOps

from capture.pipeline import read_back, small_qr_region
from capture.result import BackReading, ModelHint, Point, Quad, Reason, SymbolKind
from capture.specimens import Condition, Sample, SpecimenIdentity, make_sample

SPECIMENS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specimens"
SPECIMEN_URL = "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"
SEED = 2024
_ORIENTATION = 0x0112


def before_expiry(identity: SpecimenIdentity) -> date:
    return date(identity.expiry_year, 6, 1)


def reencoded(data: bytes, turn: Image.Transpose | None, *, orientation: int | None = None) -> bytes:
    """The photo's pixels turned by `turn`, optionally tagged with an EXIF orientation."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if turn is not None:
        image = image.transpose(turn)
    exif = Image.Exif()
    if orientation is not None:
        exif[_ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def nominal_e() -> Sample:
    return make_sample(SEED, Condition.NOMINAL, 0, "E")


@pytest.fixture(scope="module")
def nominal_h() -> Sample:
    return make_sample(SEED, Condition.NOMINAL, 1, "H")


def assert_exact(reading: BackReading, identity: SpecimenIdentity) -> None:
    assert reading.url is not None and reading.url.text == identity.qr_url
    assert reading.fields is not None
    assert reading.fields.cic == identity.cic
    assert reading.fields.identificador_ciudadano == identity.identificador_ciudadano


@pytest.mark.parametrize("sample_name", ["nominal_e", "nominal_h"])
def test_nominal_photo_is_read_exactly(sample_name: str, request: pytest.FixtureRequest) -> None:
    sample: Sample = request.getfixturevalue(sample_name)
    reading = read_back(sample.data, today=before_expiry(sample.identity))
    assert_exact(reading, sample.identity)
    assert reading.ok and reading.qr_ok and reading.mrz_ok
    assert reading.reasons == ()
    assert reading.fields is not None
    assert reading.fields.model_hint == ModelHint.E_TO_H
    assert reading.fields.expiry == date(sample.identity.expiry_year, 12, 31)
    assert reading.fields.birth_date == sample.identity.birth_date
    assert reading.image_size == (4000, 3000)
    assert reading.timings.total >= reading.timings.qr > 0


def test_model_h_large_qrs_give_the_g_h_layout(nominal_h: Sample) -> None:
    reading = read_back(nominal_h.data, today=before_expiry(nominal_h.identity))
    large = [s for s in reading.qr.symbols if s.kind in (SymbolKind.INE_ENCRYPTED_QR, SymbolKind.UNREADABLE_QR)]
    assert large, "the two large QRs are at least seen"


@pytest.mark.parametrize(
    ("turn", "orientation"),
    [
        (Image.Transpose.ROTATE_90, 6),  # stored sideways with its EXIF tag, as phones do
        (Image.Transpose.ROTATE_270, None),  # card photographed sideways, no tag
        (Image.Transpose.ROTATE_180, None),  # upside down
    ],
)
def test_rotated_photo(nominal_h: Sample, turn: Image.Transpose, orientation: int | None) -> None:
    data = reencoded(nominal_h.data, turn, orientation=orientation)
    reading = read_back(data, today=before_expiry(nominal_h.identity))
    assert_exact(reading, nominal_h.identity)


def test_expired_credential(nominal_e: Sample) -> None:
    after = date(nominal_e.identity.expiry_year + 1, 1, 1)
    reading = read_back(nominal_e.data, today=after)
    assert reading.reason == Reason.CREDENTIAL_EXPIRED
    assert reading.expired and not reading.ok
    assert reading.qr_ok and reading.mrz_ok  # the values are still right
    assert_exact(reading, nominal_e.identity)


def test_last_day_of_validity_is_not_expired(nominal_e: Sample) -> None:
    reading = read_back(nominal_e.data, today=date(nominal_e.identity.expiry_year, 12, 31))
    assert not reading.expired and reading.ok


def test_model_d_gives_the_ocr_number() -> None:
    sample = make_sample(SEED, Condition.NOMINAL, 2, "D")
    reading = read_back(sample.data, today=before_expiry(sample.identity))
    assert reading.fields is not None
    assert reading.fields.cic == sample.identity.cic
    assert reading.fields.model_hint == ModelHint.D
    assert reading.fields.ocr == sample.identity.ocr
    assert reading.fields.identificador_ciudadano is None


def test_small_qr_region_from_the_specimens_mrz_line1() -> None:
    # INE's G/H specimen: MRZ line 1 spans x 46-521 around y 323-346; the small QR is at
    # x 449-522, y 142-215.
    line1 = Quad(Point(46, 323), Point(521, 323), Point(521, 346), Point(46, 346))
    region = small_qr_region(line1)
    assert abs(region.cx - 485.5) < 12 and abs(region.cy - 178.5) < 12
    assert 73 < region.side < 2.5 * 73
    assert region.angle == pytest.approx(0)


def test_small_qr_region_turns_with_the_card() -> None:
    upright = small_qr_region(Quad(Point(0, 0), Point(100, 0), Point(100, 5), Point(0, 5)))
    # The same line on a card turned 90 degrees clockwise: it runs downwards.
    turned = small_qr_region(Quad(Point(0, 0), Point(0, 100), Point(-5, 100), Point(-5, 0)))
    assert (round(turned.cx), round(turned.cy)) == (round(-upright.cy), round(upright.cx))
    assert turned.angle == pytest.approx(90)


def tiny_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_bad_inputs_give_typed_reasons_not_exceptions(nominal_e: Sample) -> None:
    cases = {
        b"definitely not a photo": Reason.NOT_AN_IMAGE,
        b"\xff\xd8\xff\xe0" + b"PK\x03\x04" + b"\0" * 500: Reason.NOT_AN_IMAGE,
        b"\xff\xd8\xff<html><body>hi</body></html>\xff\xd9": Reason.NOT_AN_IMAGE,
        nominal_e.data[: len(nominal_e.data) // 2]: Reason.IMAGE_TRUNCATED,
        tiny_png(200_000, 200_000): Reason.TOO_MANY_PIXELS,
    }
    for data, reason in cases.items():
        reading = read_back(data)
        assert reading.reasons == (reason,)
        assert not reading.ok and reading.fields is None and reading.url is None
    assert read_back(nominal_e.data, max_bytes=1000).reasons == (Reason.TOO_LARGE,)
    assert read_back(nominal_e.data, max_pixels=1_000_000).reasons == (Reason.TOO_MANY_PIXELS,)


def test_a_blurred_photo_is_advised_as_blurry(nominal_e: Sample) -> None:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(nominal_e.data))).filter(ImageFilter.GaussianBlur(14))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    reading = read_back(out.getvalue(), today=before_expiry(nominal_e.identity), budget_ms=600)
    assert not reading.ok
    assert Reason.IMAGE_BLURRY in reading.reasons
    assert reading.fields is None or reading.fields.cic in (None, nominal_e.identity.cic)


def test_a_hard_photo_never_gives_a_wrong_value() -> None:
    sample = make_sample(SEED, Condition.MOTION_BLUR, 0, "H")
    reading = read_back(sample.data, today=before_expiry(sample.identity), budget_ms=800)
    if reading.fields is not None and reading.fields.cic is not None:
        assert reading.fields.cic == sample.identity.cic
    if reading.url is not None:
        assert reading.url.text == sample.identity.qr_url
    assert reading.ok or reading.reasons


@pytest.fixture(scope="module")
def specimen_reading() -> BackReading:
    path = SPECIMENS / "ine-specimen-back-model-gh.jpg"
    if not path.is_file():
        pytest.skip("shared specimens not present")
    return read_back(path.read_bytes(), today=date(2020, 1, 1))


def test_low_resolution_e_f_specimen_gives_no_cic() -> None:
    path = SPECIMENS / "ine-specimen-back-model-ef-lowres.jpg"
    if not path.is_file():
        pytest.skip("shared specimens not present")
    reading = read_back(path.read_bytes(), today=date(2017, 1, 1))
    assert reading.fields is None  # same sample data: its CIC check digit is wrong too
    assert reading.url is None  # the QR is too small at this resolution
    assert not reading.ok and reading.reasons


def test_specimen_small_qr_is_read(specimen_reading: BackReading) -> None:
    assert specimen_reading.url is not None
    assert specimen_reading.url.text == SPECIMEN_URL
    assert specimen_reading.qr_ok


def test_specimen_large_qrs_are_encrypted(specimen_reading: BackReading) -> None:
    encrypted = [s for s in specimen_reading.qr.symbols if s.kind == SymbolKind.INE_ENCRYPTED_QR]
    assert sorted(s.part_index for s in encrypted if s.part_index is not None) == [0, 1]
    assert {s.byte_count for s in encrypted} == {858}


def test_specimen_cic_with_a_bad_check_digit_is_never_returned(specimen_reading: BackReading) -> None:
    assert specimen_reading.fields is None
    assert not specimen_reading.mrz_ok and not specimen_reading.ok
    assert Reason.MRZ_CHECK_FAILED in specimen_reading.reasons
    assert specimen_reading.mrz.rejected is not None
    assert specimen_reading.mrz.rejected.cic is False
    assert Reason.IMAGE_BLURRY not in specimen_reading.reasons


@pytest.mark.parametrize(
    ("seed", "index"),
    [
        (11, 2),  # glare over `IDM`: line 1 is placed by its fillers alone
        (11, 4),  # glare over line 2's expiry: line 1 is read whole, twice, beside it
    ],
)
def test_cic_is_read_beside_glare_but_nothing_glare_touched(seed: int, index: int) -> None:
    sample = make_sample(seed, Condition.MIXED, index, "E")
    reading = read_back(sample.data, today=before_expiry(sample.identity), budget_ms=30_000)
    assert reading.fields is not None and reading.fields.cic == sample.identity.cic
    assert reading.fields.expiry in (None, date(sample.identity.expiry_year, 12, 31))
