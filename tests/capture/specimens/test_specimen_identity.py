"""Synthetic identities: MRZ shape and check digits, QR URL shape, determinism."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from capture.identifiers import icao_check_digit
from capture.specimens.identity import MODELS, SpecimenIdentity, random_identity

QR_URL = re.compile(r"http://qr\.ine\.mx/\d{24}/\d{8}/P/\d{6}")


def specimen_margarita() -> SpecimenIdentity:
    """INE's published sample card's data (DOMAIN.md), as our generator models it."""
    return SpecimenIdentity(
        model="H", cic="183657717", seccion="0747", identificador_ciudadano="116375842", ocr=None,
        emission_number="02", optional_digits="12345", birth_date=date(1980, 7, 5), sex="M",
        expiry_year=2022, surnames=("GOMEZ", "VELAZQUEZ"), names=("MARGARITA",),
        qr_url="http://qr.ine.mx/126303106194403165147533/20170915/P/003660",
    )


def identities(count: int = 40) -> list[SpecimenIdentity]:
    rng = random.Random(7)
    return [random_identity(rng, MODELS[index % len(MODELS)]) for index in range(count)]


def assert_check_digits_hold(line1: str, line2: str) -> None:
    assert icao_check_digit(line1[5:14]) == line1[14]
    assert icao_check_digit(line2[0:6]) == line2[6]
    assert icao_check_digit(line2[8:14]) == line2[14]
    assert icao_check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]) == line2[29]


@pytest.mark.parametrize("identity", identities(), ids=lambda identity: f"{identity.model}-{identity.cic}")
def test_mrz_lines_are_30_characters_with_valid_check_digits(identity: SpecimenIdentity) -> None:
    line1, line2, line3 = identity.mrz_lines()
    assert [len(line1), len(line2), len(line3)] == [30, 30, 30]
    assert re.fullmatch(r"IDMEX\d{10}<<\d{13}", line1)
    assert re.fullmatch(r"\d{7}[HM]\d{2}1231\dMEX<\d{2}<<\d{5}<\d", line2)
    assert re.fullmatch(r"[A-Z<]{30}", line3)
    assert_check_digits_hold(line1, line2)


def test_line1_carries_the_ocr_on_model_d_and_the_identificador_on_e_to_h() -> None:
    rng = random.Random(3)
    model_d, model_g = random_identity(rng, "D"), random_identity(rng, "G")
    assert model_d.ocr is not None and model_d.identificador_ciudadano is None
    assert model_d.mrz_lines()[0].endswith("<<" + model_d.ocr)
    assert model_g.ocr is None and model_g.identificador_ciudadano is not None
    assert model_g.mrz_lines()[0].endswith(model_g.identificador_ciudadano)


def test_matches_the_real_specimen_except_its_deliberately_wrong_check_digits() -> None:
    real = ("IDMEX1836577170<<0747116375842", "8007057M2212315MEX<02<<12345<7", "GOMEZ<VELAZQUEZ<<MARGARITA<<<<")
    ours = specimen_margarita().mrz_lines()
    wrong_on_the_sample = {0: {14}, 1: {6, 29}, 2: set()}
    for line_index, (real_line, our_line) in enumerate(zip(real, ours, strict=True)):
        differing = {i for i, (a, b) in enumerate(zip(real_line, our_line, strict=True)) if a != b}
        assert differing == wrong_on_the_sample[line_index]
    assert ours[0][14] == "7"  # the CIC's true check digit (DOMAIN.md)


def test_names_line_is_truncated_at_30() -> None:
    long_names = replace(specimen_margarita(), surnames=("DE LA CRUZ", "VELAZQUEZ"), names=("MARIA", "GUADALUPE"))
    line3 = long_names.mrz_lines()[2]
    assert line3 == "DE<LA<CRUZ<VELAZQUEZ<<MARIA<GU"


def test_qr_url_has_the_real_shape_and_59_characters() -> None:
    for identity in identities():
        assert len(identity.qr_url) == 59
        assert QR_URL.fullmatch(identity.qr_url)


def test_same_seed_gives_the_same_identity_and_another_seed_another() -> None:
    assert random_identity(random.Random(11), "E") == random_identity(random.Random(11), "E")
    assert random_identity(random.Random(11), "E") != random_identity(random.Random(12), "E")


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="model"):
        random_identity(random.Random(1), "C")
