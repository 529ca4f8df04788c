"""The MRZ's full-resolution pass: a distant card the located band misses, and still no value without check digits."""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from capture.intake import WorkingImage, load_image
from capture.mrz import read_mrz
from capture.mrz_ocr import CardHint, card_hint
from capture.mrz_whole import read_mrz_full_resolution
from capture.pipeline import WORKING_LONG_SIDE, g_or_h_layout, read_back
from capture.qr import read_qr
from capture.result import Reason
from capture.specimens import Condition, make_sample

TODAY = date(2026, 12, 1)
SPECIMEN = Path(__file__).resolve().parents[3] / "shared" / "specimens" / "ine-specimen-back-model-gh.jpg"


def test_a_distant_card_whose_band_does_not_read_is_read_at_full_resolution() -> None:
    sample = make_sample(1, Condition.VERY_FAR, 3, "H")
    working = load_image(sample.data, long_side=WORKING_LONG_SIDE)
    full = load_image(sample.data)
    qr = read_qr(working, deadline=math.inf, load_full=lambda: full)
    layout = g_or_h_layout(qr)
    hint = card_hint(qr.symbols, g_or_h_layout=layout)

    band = read_mrz(working, deadline=math.inf, today=TODAY, hint=hint, g_or_h_layout=layout, load_full=lambda: full)
    again = read_mrz_full_resolution(working, lambda: full, hint=hint, deadline=math.inf, today=TODAY,
                                     g_or_h_layout=layout)

    assert not band.ok
    assert again is not None and again.fields is not None and again.fields.cic == sample.identity.cic
    reading = read_back(sample.data, today=TODAY, budget_ms=60_000)
    assert reading.fields is not None and reading.fields.cic == sample.identity.cic


def test_the_full_resolution_pass_finds_the_card_without_a_qr() -> None:
    sample = make_sample(1, Condition.VERY_FAR, 3, "H")
    working = load_image(sample.data, long_side=WORKING_LONG_SIDE)
    full = load_image(sample.data)
    again = read_mrz_full_resolution(working, lambda: full, hint=CardHint(), deadline=math.inf, today=TODAY,
                                     g_or_h_layout=False)
    assert again is not None and again.fields is not None and again.fields.cic == sample.identity.cic


@pytest.mark.skipif(not SPECIMEN.exists(), reason="the shared INE specimen is not on this machine")
def test_a_distant_specimen_with_a_wrong_cic_check_digit_gives_no_cic() -> None:
    """INE's published sample prints a CIC whose check digit does not hold: read small in a 12 MP frame, the
    full-resolution pass must see its line 1 and still refuse the CIC."""
    data = _far_photo(Image.open(SPECIMEN).convert("RGB"))
    working = load_image(data, long_side=WORKING_LONG_SIDE)
    full = load_image(data)
    again = read_mrz_full_resolution(working, lambda: full, hint=CardHint(), deadline=math.inf, today=TODAY,
                                     g_or_h_layout=True)
    assert again is not None and not again.ok
    assert again.reason == Reason.MRZ_CHECK_FAILED
    reading = read_back(data, today=TODAY, budget_ms=60_000)
    assert reading.fields is None or reading.fields.cic is None


def test_the_pass_does_not_apply_when_the_working_image_is_the_photo() -> None:
    image = Image.new("L", (800, 600), 200)
    working = WorkingImage(image=image, scale=1.0, full_size=image.size, format="JPEG")
    assert read_mrz_full_resolution(working, lambda: working, hint=CardHint(), deadline=math.inf, today=TODAY,
                                    g_or_h_layout=False) is None


def _far_photo(specimen: Image.Image) -> bytes:
    """The specimen (584 px wide) upscaled 1.5x on a grey 12 MP frame, off centre."""
    frame = Image.new("RGB", (4000, 3000), (96, 90, 84))
    card = specimen.resize((specimen.width * 3 // 2, specimen.height * 3 // 2), Image.Resampling.BICUBIC)
    frame.paste(card, (2300, 900))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_card_large_in_the_frame_gets_no_full_resolution_pass() -> None:
    """The working image already shows such a card large enough: the pass would only spend the budget."""
    sample = make_sample(1, Condition.NOMINAL, 0, "E")
    working = load_image(sample.data, long_side=WORKING_LONG_SIDE)
    full = load_image(sample.data)
    assert read_mrz_full_resolution(working, lambda: full, hint=CardHint(), deadline=math.inf, today=TODAY,
                                    g_or_h_layout=False) is None
