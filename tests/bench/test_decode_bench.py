"""bench/decode.py's scoring (what counts as a read, a WRONG value, a ratio) and the other generator's photos."""

from __future__ import annotations

import argparse
import io
import random
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bench.decode import (
    Reading,
    Tally,
    behind_plain,
    cic_from_texts,
    make_photos,
    median_ratio,
    score,
    total_row,
    wrong_fields,
)
from bench.other_generator import mrz_lines
from capture.identifiers import icao_check_digit
from capture.mrz import judge
from capture.specimens import random_identity

SPECIMEN = Path(__file__).resolve().parents[3] / "shared" / "specimens" / "ine-specimen-back-model-gh.jpg"


def test_a_cic_counts_only_with_its_check_digit() -> None:
    # INE's specimen prints 0 where ICAO 7-3-1 gives 7.
    assert cic_from_texts(["IDMEX1836577170<<0747116375842"]) is None
    assert cic_from_texts(["noise", "IDMEX 1836577177<<0747116375842"]) == "183657717"


def test_a_different_value_is_wrong_and_a_missing_one_is_not() -> None:
    identity = random_identity(random.Random(5), "H")
    assert wrong_fields(Reading(), identity) == []
    assert wrong_fields(Reading(qr_url=identity.qr_url, cic=identity.cic), identity) == []
    other_cic = "000000000" if identity.cic != "000000000" else "111111111"
    assert wrong_fields(Reading(cic=other_cic), identity) == ["cic"]
    assert wrong_fields(Reading(extra={"expiry": f"{identity.expiry_year + 1}-12-31"}), identity) == ["expiry"]


def test_scores_add_up_per_method() -> None:
    identity = random_identity(random.Random(6), "E")
    right, wrong = Tally(), Tally()
    score(right, Reading(qr_url=identity.qr_url, cic=identity.cic, extra={"ok": True}, ms=10.0), identity)
    score(wrong, Reading(qr_url=identity.qr_url + "0", ms=30.0), identity)
    assert (right.qr_ok, right.mrz_ok, right.ok_flag, right.wrong) == (1, 1, 1, 0)
    assert (wrong.qr_ok, wrong.mrz_ok, wrong.wrong) == (0, 0, 1)
    total = total_row({"a": {"ours": right}, "b": {"ours": wrong}}, ["ours"])["ours"]
    assert (total.qr_ok, total.wrong, total.ms) == (1, 1, [10.0, 30.0])
    assert median_ratio([10.0, 30.0], [40.0, 80.0]) == "0.33"


def test_several_seeds_add_their_photos() -> None:
    def photos(seeds: str) -> list[str]:
        args = argparse.Namespace(seed=seeds, generator="ours", conditions="tiny", per_condition=1, models="E")
        return [photo.name + str(len(photo.data)) for photo in make_photos(args)]

    one, two = photos("1"), photos("1,2")
    assert len(two) == 2 and two[0] == one[0] and two[1] != one[0]


@pytest.mark.skipif(not SPECIMEN.exists(), reason="the shared INE specimen is not on this machine")
def test_the_other_generator_makes_deterministic_check_digit_valid_photos() -> None:
    args = argparse.Namespace(seed="3", generator="other", conditions="nominal,tiny", per_condition=1, models="E")
    first, again = make_photos(args), make_photos(args)
    assert [p.data for p in first] == [p.data for p in again]
    assert [str(p.condition) for p in first] == ["nominal", "tiny"]
    nominal, tiny = first
    assert Image.open(io.BytesIO(tiny.data)).size[0] <= 1000
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(nominal.data)))
    assert nominal.identity.qr_url in [code.text for code in codes]


def test_the_other_generator_s_mrz_passes_every_check_digit() -> None:
    for seed in range(20):
        lines, truth = mrz_lines(random.Random(seed))
        assert lines[0][5:15] == truth.cic + icao_check_digit(truth.cic)
        verdict = judge(lines)
        assert verdict.full and verdict.line1 is not None and verdict.line1.cic == truth.cic


def test_photos_where_a_plain_reader_beat_ours_are_named() -> None:
    identity = random_identity(random.Random(7), "H")
    readings = {"ours": Reading(qr_url=identity.qr_url), "zxing": Reading(qr_url=identity.qr_url),
                "ocr": Reading(cic=identity.cic), "pyzbar": Reading()}
    assert behind_plain(readings, identity) == ["ocr CIC"]
    readings["ours"] = Reading(cic=identity.cic)
    assert behind_plain(readings, identity) == ["zxing QR"]
