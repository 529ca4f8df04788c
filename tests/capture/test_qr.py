import io
import random
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from capture.intake import WorkingImage, load_image
from capture.qr import Region, parse_ine_url, read_qr, read_qr_region
from capture.result import QrUrl, Reason, SymbolKind

SPECIMENS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specimens"
SPECIMEN_URL = "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"


def symbol(content: str | bytes, image_format: zxingcpp.BarcodeFormat, scale: int) -> Image.Image:
    options = {"ec_level": "L"} if image_format == zxingcpp.BarcodeFormat.QRCode else {}
    barcode = zxingcpp.create_barcode(content, image_format, **options)
    image = Image.fromarray(np.asarray(barcode.to_image(scale=scale, add_quiet_zones=True)))
    return image if image_format == zxingcpp.BarcodeFormat.QRCode else image.resize((image.width, 60))


def encrypted_payload(part: int) -> bytes:
    return part.to_bytes(2, "big") + random.Random(part).randbytes(856)


def page(*symbols: tuple[Image.Image, tuple[int, int]], size: tuple[int, int] = (1400, 900)) -> WorkingImage:
    canvas = Image.new("L", size, 235)
    for image, where in symbols:
        canvas.paste(image, where)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return load_image(out.getvalue())


def read(working: WorkingImage) -> tuple[set[SymbolKind], QrUrl | None, Reason | None]:
    reading = read_qr(working, deadline=time.perf_counter() + 2)
    return {s.kind for s in reading.symbols}, reading.url, reading.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SPECIMEN_URL, QrUrl(SPECIMEN_URL, "126303106194403165147533", date(2017, 9, 15), "P", "003660")),
        (
            "  HTTPS://QR.INE.MX/126303106194403165147533/20170915/p/003660/\n",
            QrUrl(
                "HTTPS://QR.INE.MX/126303106194403165147533/20170915/p/003660/",
                "126303106194403165147533", date(2017, 9, 15), "P", "003660",
            ),
        ),
        ("http://qr.ine.mx/Ab3Xy", QrUrl("http://qr.ine.mx/Ab3Xy")),  # short form: opaque
        ("http://qr.ine.mx", QrUrl("http://qr.ine.mx")),
        (  # impossible date: kept, but opaque
            "http://qr.ine.mx/126303106194403165147533/20171345/P/003660",
            QrUrl("http://qr.ine.mx/126303106194403165147533/20171345/P/003660"),
        ),
        ("http://qr.ine.mx.example.com/1/2", None),
        ("http://example.com/qr.ine.mx/1", None),
        ("qr.ine.mx/126303106194403165147533/20170915/P/003660", None),
        ("ftp://qr.ine.mx/x", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_ine_url(text: str, expected: QrUrl | None) -> None:
    assert parse_ine_url(text) == expected


def test_every_symbol_is_found_and_classified() -> None:
    working = page(
        (symbol(encrypted_payload(0), zxingcpp.BarcodeFormat.QRCode, 3), (40, 120)),
        (symbol(encrypted_payload(1), zxingcpp.BarcodeFormat.QRCode, 3), (420, 120)),
        (symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 5), (900, 120)),
        (symbol("183657717", zxingcpp.BarcodeFormat.Code128, 3), (40, 20)),
        (symbol("hola", zxingcpp.BarcodeFormat.QRCode, 6), (900, 500)),
    )
    reading = read_qr(working, deadline=time.perf_counter() + 2)
    assert reading.url is not None and reading.url.text == SPECIMEN_URL
    assert reading.reason is None
    kinds = sorted(s.kind.value for s in reading.symbols)
    assert kinds == ["code128", "ine_encrypted_qr", "ine_encrypted_qr", "ine_url_qr", "other_qr"]
    encrypted = [s for s in reading.symbols if s.kind == SymbolKind.INE_ENCRYPTED_QR]
    assert sorted(s.part_index for s in encrypted if s.part_index is not None) == [0, 1]
    assert {s.byte_count for s in encrypted} == {858}
    code128 = next(s for s in reading.symbols if s.kind == SymbolKind.CODE128)
    assert code128.text == "183657717"
    url = next(s for s in reading.symbols if s.kind == SymbolKind.INE_URL_QR)
    left, top, right, bottom = url.position.bounds()
    assert 900 < left < right < 1400 and 120 < top < bottom < 500


def test_only_encrypted_qrs() -> None:
    working = page((symbol(encrypted_payload(0), zxingcpp.BarcodeFormat.QRCode, 3), (40, 40)))
    kinds, url, reason = read(working)
    assert kinds == {SymbolKind.INE_ENCRYPTED_QR}
    assert url is None
    assert reason == Reason.ONLY_ENCRYPTED_QR


def test_no_qr_at_all() -> None:
    assert read(page()) == (set(), None, Reason.NO_QR_FOUND)


def test_qr_seen_but_unreadable() -> None:
    qr = symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 5)
    draw = ImageDraw.Draw(qr)
    rng = random.Random(3)
    for _ in range(120):  # scribble over the data modules, sparing the finder patterns
        x, y = rng.randrange(60, 150), rng.randrange(60, 150)
        draw.rectangle((x, y, x + 6, y + 6), fill=rng.choice((0, 255)))
    kinds, url, reason = read(page((qr, (300, 300))))
    assert url is None
    assert kinds == {SymbolKind.UNREADABLE_QR}
    assert reason == Reason.QR_UNREADABLE


def test_a_url_of_another_site_is_not_the_ine_url() -> None:
    lookalike = symbol("http://qr.ine.mx.example.com/1", zxingcpp.BarcodeFormat.QRCode, 5)
    kinds, url, reason = read(page((lookalike, (50, 50))))
    assert kinds == {SymbolKind.OTHER_QR}
    assert url is None
    assert reason == Reason.NO_QR_FOUND


def test_two_different_ine_urls_give_none() -> None:
    other = SPECIMEN_URL.replace("003660", "003661")
    working = page(
        (symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 5), (50, 50)),
        (symbol(other, zxingcpp.BarcodeFormat.QRCode, 5), (700, 50)),
    )
    kinds, url, reason = read(working)
    assert kinds == {SymbolKind.INE_URL_QR}
    assert url is None
    assert reason == Reason.SEVERAL_CREDENTIALS


def test_a_passed_deadline_still_makes_the_first_pass() -> None:
    working = page((symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 5), (50, 50)))
    reading = read_qr(working, deadline=time.perf_counter() - 1)
    assert reading.url is not None and reading.url.text == SPECIMEN_URL


def test_read_qr_region_finds_a_turned_qr_where_told() -> None:
    qr = symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 4).rotate(30, expand=True, fillcolor=235)
    working = page((qr, (500, 300)))
    centre = (500 + qr.width / 2, 300 + qr.height / 2)
    region = Region(centre[0], centre[1], side=qr.width * 1.1, angle=-30)
    reading = read_qr_region(working, region, deadline=time.perf_counter() + 2)
    assert reading.url is not None and reading.url.text == SPECIMEN_URL
    left, top, right, bottom = reading.symbols[0].position.bounds()
    assert left < centre[0] < right and top < centre[1] < bottom


def test_read_qr_region_elsewhere_finds_nothing() -> None:
    working = page((symbol(SPECIMEN_URL, zxingcpp.BarcodeFormat.QRCode, 4), (900, 500)))
    reading = read_qr_region(working, Region(200, 200, side=300, angle=0), deadline=time.perf_counter() + 2)
    assert reading.url is None and reading.symbols == ()


@pytest.fixture(scope="module")
def specimen_gh() -> WorkingImage:
    path = SPECIMENS / "ine-specimen-back-model-gh.jpg"
    if not path.is_file():
        pytest.skip("shared specimens not present")
    return load_image(path.read_bytes())


def test_specimen_small_qr_at_first_pass(specimen_gh: WorkingImage) -> None:
    reading = read_qr(specimen_gh, deadline=time.perf_counter() + 2)
    assert reading.url == QrUrl(SPECIMEN_URL, "126303106194403165147533", date(2017, 9, 15), "P", "003660")


def test_specimen_large_qrs_are_classified_encrypted(specimen_gh: WorkingImage) -> None:
    reading = read_qr(specimen_gh, deadline=time.perf_counter() + 2, classify_ms=500)
    encrypted = [s for s in reading.symbols if s.kind == SymbolKind.INE_ENCRYPTED_QR]
    assert sorted(s.part_index for s in encrypted if s.part_index is not None) == [0, 1]
    assert all(s.byte_count == 858 and s.text is None for s in encrypted)
    assert [s.url for s in reading.symbols if s.kind == SymbolKind.INE_URL_QR] == [reading.url]
