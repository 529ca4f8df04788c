"""The flat rendered card: size, and every symbol on it reads back as generated."""

from __future__ import annotations

import random
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from capture.specimens import card as card_module
from capture.specimens.card import render_back
from capture.specimens.identity import SpecimenIdentity, random_identity


def identity_of(model: str, seed: int = 5) -> SpecimenIdentity:
    return random_identity(random.Random(seed), model)


def read(image: Image.Image, formats: zxingcpp.BarcodeFormat) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image.convert("RGB"), formats=zxingcpp.BarcodeFormats(formats))


def test_card_is_id1_sized_with_transparent_corners() -> None:
    card = render_back(identity_of("E"), px_per_mm=12)
    assert card.size == (1027, 648)  # 85.60 x 53.98 mm
    assert card.mode == "RGBA"
    alpha = np.asarray(card)[..., 3]
    assert alpha[0, 0] == 0 and alpha[300, 500] == 255


@pytest.mark.parametrize("model", ["D", "E", "F", "G", "H"])
def test_small_qr_reads_exactly_the_url_as_byte_mode_level_l_version_4(model: str) -> None:
    identity = identity_of(model)
    small = [code for code in read(render_back(identity), zxingcpp.BarcodeFormat.QRCode) if len(code.bytes) == 59]
    assert [code.text for code in small] == [identity.qr_url]
    extra = cast(dict[str, object], small[0].extra)
    assert extra["Version"] == "4" and small[0].ec_level == "L"


@pytest.mark.parametrize("model", ["G", "H"])
def test_models_g_and_h_carry_two_858_byte_binary_qrs_with_part_indexes(model: str) -> None:
    codes = read(render_back(identity_of(model)), zxingcpp.BarcodeFormat.QRCode)
    large = sorted(code.bytes for code in codes if len(code.bytes) == 858)
    assert [payload[:2] for payload in large] == [b"\x00\x00", b"\x00\x01"]
    assert all(code.ec_level == "L" for code in codes)


@pytest.mark.parametrize("model", ["D", "E", "F"])
def test_models_d_to_f_have_no_large_qrs(model: str) -> None:
    codes = read(render_back(identity_of(model)), zxingcpp.BarcodeFormat.QRCode)
    assert [len(code.bytes) for code in codes] == [59]


@pytest.mark.parametrize("model", ["E", "H"])
def test_code128_reads_the_nine_digit_cic(model: str) -> None:
    identity = identity_of(model)
    codes = read(render_back(identity), zxingcpp.BarcodeFormat.Code128)
    assert [code.text for code in codes] == [identity.cic]


def test_rendering_is_deterministic() -> None:
    identity = identity_of("H")
    assert render_back(identity).tobytes() == render_back(identity).tobytes()


def test_the_ocr_b_font_ships_inside_the_package_not_the_system() -> None:
    assert card_module.OCR_B_FONT.is_relative_to(Path(card_module.__file__).resolve().parent)
    assert card_module.load_ocr_b(40).getname() == ("OCR B", "Regular")


def test_missing_ocr_b_font_fails_saying_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(card_module, "OCR_B_FONT", tmp_path / "absent.otf")
    with pytest.raises(FileNotFoundError, match="OCR-B font not found"):
        render_back(identity_of("E"))
