import io
import math
import random
import time
from datetime import date

import numpy as np
import pytest
from PIL import Image

from capture.intake import WorkingImage, load_image
from capture.mrz import fields_from, judge, model_hint, names_line, read_mrz
from capture.mrz_ctc import LINE1_SHAPE, LINE2_SHAPE, OcrLine, ShapeDecoder, greedy
from capture.mrz_lines import LineBox, find_mrz_lines, line_box, merge_collinear, split_merged
from capture.mrz_ocr import card_hint
from capture.mrz_text import Line1, parse_line1, parse_line2
from capture.result import ModelHint, MrzChecks, Point, Quad, Reason, Symbol, SymbolKind
from capture.specimens import SpecimenIdentity, random_identity, render_back

TODAY = date(2026, 11, 24)
# A consistent MRZ (all check digits hold) and INE's specimen as printed (CIC, birth date
# and composite check digits wrong: it is a sample card).
GOOD = ("IDMEX1836577177<<0747116375842", "8007050M2212315MEX<02<<12345<4", "GOMEZ<VELAZQUEZ<<MARGARITA<<<<")
SPECIMEN = ("IDMEX1836577170<<0747116375842", "8007057M2212315MEX<02<<12345<7", GOOD[2])


def test_good_fixture_really_checks_out() -> None:
    assert judge(list(GOOD)).full


@pytest.mark.parametrize(
    "text",
    [
        GOOD[0],
        "IDMEX183657717 7<<0747116375842",  # a space inside
        "IDMEX1836577177KK0747116375842",  # fillers read as K
        "IDMEX1836577177««0747116375842",
        "IDMEX1836577177<0747116375842",  # one filler dropped, nothing after the digits
        "1DMEX18365T7177<<O747116375842",  # look-alikes in digit positions
        "xIDMEX1836577177<<0747116375842",  # a stray character before
        "IDMEX1836577177<<0747116375842 ..",
        "IDMEX1836577177310747116375842",  # both fillers misread, but exactly 30 characters
        "EX1836577177<<0747116375842",  # `IDM` lost under glare: the fillers still pin the fields
        "1836577177<<0747116375842",
    ],
)
def test_parse_line1_tolerates_ocr_noise(text: str) -> None:
    assert parse_line1(text) == Line1(cic="183657717", cic_check="7", tail="0747116375842")


@pytest.mark.parametrize(
    "text",
    [
        "IDMEX183657717<<0747116375842",  # a CIC digit lost
        "IDMEX1836577177<40747116375842",  # `<<` read as `<4`: the 13 digits may have shifted
        "IDMEX1836577177 0747116375842",
        "GOMEZ<VELAZQUEZ<<MARGARITA<<<<",
        "91836577177<<0747116375842",  # no anchor and eleven digits: which ten is unknown
        "1836577177<<07471163758421",
        "18365771T7<<0747116375842",  # without `MEX`, no look-alikes are mapped
        "",
    ],
)
def test_parse_line1_refuses_what_it_cannot_place(text: str) -> None:
    assert parse_line1(text) is None


@pytest.mark.parametrize(
    "text",
    [GOOD[1], "8OO7O5OM22123l5MEX<02<<12345<4", "8007050M2212315MEX«02KK12345<4", " 8007050M2212315NEX<02<<12345<4 "],
)
def test_parse_line2_tolerates_ocr_noise(text: str) -> None:
    line = parse_line2(text)
    assert line is not None
    assert (line.birth, line.expiry, line.optional, line.composite) == ("800705", "221231", "<02<<12345<", "4")


def test_a_misread_sex_is_dropped_not_guessed() -> None:
    line2 = GOOD[1][:7] + "0" + GOOD[1][8:]  # `M` read as `0`; sex has no check digit
    parsed = parse_line2(line2)
    assert parsed is not None and parsed.sex == "0"
    fields = fields_from(judge([GOOD[0], line2]), today=TODAY, g_or_h_layout=True)
    assert fields.cic == "183657717"
    assert fields.sex is None


def test_specimen_is_rejected_on_its_check_digits() -> None:
    verdict = judge(list(SPECIMEN))
    assert not verdict.full and not verdict.cic_only and verdict.failed_check
    assert verdict.checks == MrzChecks(cic=False, birth_date=False, expiry=True, composite=False)
    assert fields_from(verdict, today=TODAY, g_or_h_layout=True).cic is None


def test_a_single_misread_digit_is_caught() -> None:
    for position in range(5, 14):
        wrong = GOOD[0][:position] + str((int(GOOD[0][position]) + 1) % 10) + GOOD[0][position + 1 :]
        assert not judge([wrong, GOOD[1]]).full


def test_a_misread_in_the_13_digits_fails_the_composite() -> None:
    wrong = GOOD[0][:20] + "9" + GOOD[0][21:]
    verdict = judge([wrong, GOOD[1]])
    assert verdict.checks.cic is True
    assert verdict.checks.composite is False
    assert fields_from(verdict, today=TODAY, g_or_h_layout=False).cic is None


def test_full_reading_gives_every_field() -> None:
    fields = fields_from(judge(list(GOOD)), today=TODAY, g_or_h_layout=True, names=GOOD[2])
    assert fields.cic == "183657717"
    assert fields.identificador_ciudadano == "116375842"
    assert fields.ocr is None
    assert fields.birth_date == date(1980, 7, 5)
    assert fields.expiry == date(2022, 12, 31)
    assert fields.sex == "M"
    assert fields.names_truncated == GOOD[2]
    assert fields.model_hint == ModelHint.E_TO_H


def test_line1_alone_gives_the_cic_only() -> None:
    verdict = judge([GOOD[0], "unreadable"])
    assert verdict.cic_only
    fields = fields_from(verdict, today=TODAY, g_or_h_layout=False)
    assert fields.cic == "183657717"
    assert fields.identificador_ciudadano is None and fields.ocr is None and fields.expiry is None


def test_line1_cut_short_still_gives_the_cic_and_checked_dates() -> None:
    cut = GOOD[0][:-3]  # the last digits under a glare spot: no composite check possible
    verdict = judge([cut, GOOD[1]])
    assert verdict.cic_only and not verdict.full
    fields = fields_from(verdict, today=TODAY, g_or_h_layout=True)
    assert fields.cic == "183657717"
    assert fields.expiry == date(2022, 12, 31)
    assert fields.identificador_ciudadano is None and fields.optional_digits is None


def test_line1_cut_short_with_a_bad_date_check_is_rejected() -> None:
    line2 = GOOD[1][:13] + "9" + GOOD[1][14:]  # expiry misread
    verdict = judge([GOOD[0][:-3], line2])
    assert not verdict.cic_only and verdict.failed_check


@pytest.mark.parametrize(
    ("expiry", "layout", "hint"),
    [
        (date(2023, 12, 31), False, ModelHint.D),
        (date(2024, 12, 31), False, ModelHint.UNKNOWN),  # issued around the D-to-E switch
        (date(2025, 12, 31), False, ModelHint.E_TO_H),
        (date(2019, 12, 31), True, ModelHint.E_TO_H),
        (None, False, ModelHint.UNKNOWN),
    ],
)
def test_model_hint(expiry: date | None, layout: bool, hint: ModelHint) -> None:
    assert model_hint(expiry, g_or_h_layout=layout) == hint


def test_model_d_reading_gives_the_ocr_number() -> None:
    fields = fields_from(judge(list(GOOD)), today=TODAY, g_or_h_layout=False)
    assert fields.model_hint == ModelHint.D  # expiry 2022
    assert fields.ocr == "0747116375842"
    assert fields.identificador_ciudadano is None


def test_names_line_follows_line2() -> None:
    assert names_line(list(GOOD)) == GOOD[2]
    assert names_line([GOOD[0], GOOD[2]]) is None


def box(cx: float, cy: float, length: float, thickness: float, degrees: float = 0.0) -> LineBox:
    return LineBox(cx, cy, math.cos(math.radians(degrees)), math.sin(math.radians(degrees)), length, thickness)


def test_line_box_from_detector_corners() -> None:
    vertical = line_box(np.array([[10, 0], [30, 0], [30, 300], [10, 300]], dtype=np.float32))
    assert (vertical.length, vertical.thickness) == (300, 20)
    assert (vertical.ux, vertical.uy) == (0, 1)
    assert (vertical.cx, vertical.cy) == (20, 150)


def test_pieces_of_one_line_are_merged() -> None:
    merged = merge_collinear([box(100, 50, 200, 20), box(330, 51, 240, 20)])
    assert len(merged) == 1
    assert merged[0].length == pytest.approx(450, abs=2)


def test_a_fused_block_is_split_into_lines() -> None:
    pitch = 600 * 4.2 / 78
    lines = split_merged(box(300, 100, 600, 3 * pitch))
    assert len(lines) == 3
    assert [round(b.cy) for b in lines] == [round(100 - pitch), 100, round(100 + pitch)]


def test_find_mrz_lines_picks_the_parallel_group() -> None:
    boxes = [box(300, 100, 600, 30), box(300, 132, 600, 30), box(300, 164, 600, 30), box(200, 20, 120, 25)]
    lines = find_mrz_lines(boxes)
    assert lines is not None
    assert [round(b.cy) for b in lines] == [100, 132, 164]


def test_find_mrz_lines_restores_a_line_lost_to_glare() -> None:
    lines = find_mrz_lines([box(300, 100, 600, 30), box(300, 164, 600, 30)])
    assert lines is not None
    assert [round(b.cy) for b in lines] == [100, 132, 164]


def test_find_mrz_lines_needs_two_lines() -> None:
    assert find_mrz_lines([box(300, 100, 600, 30), box(300, 400, 100, 30)]) is None


def quad(corners: list[tuple[int, int]]) -> Quad:
    return Quad(*(Point(x, y) for x, y in corners))


def test_card_hint_from_an_upright_small_qr() -> None:
    url_qr = Symbol(SymbolKind.INE_URL_QR, quad([(800, 100), (900, 100), (900, 200), (800, 200)]))
    hint = card_hint((url_qr,), g_or_h_layout=False)
    assert hint.text_angles[0] == pytest.approx(0)
    assert hint.upright


def test_card_hint_for_the_g_h_layout_follows_the_specimen() -> None:
    # On INE's G/H specimen the small QR's top edge points down the card.
    url_qr = Symbol(SymbolKind.INE_URL_QR, quad([(522, 143), (522, 215), (449, 215), (449, 142)]))
    hint = card_hint((url_qr,), g_or_h_layout=True)
    assert hint.text_angles[0] == pytest.approx(0)
    assert not hint.upright


@pytest.fixture(scope="module")
def flat_card_e() -> tuple[SpecimenIdentity, bytes]:
    identity = random_identity(random.Random(5), "E")
    out = io.BytesIO()
    render_back(identity, px_per_mm=10).convert("RGB").save(out, format="JPEG", quality=90)
    return identity, out.getvalue()


def test_read_mrz_on_a_flat_card(flat_card_e: tuple[SpecimenIdentity, bytes]) -> None:
    identity, data = flat_card_e
    reading = read_mrz(load_image(data), deadline=time.perf_counter() + 5, today=TODAY)
    assert reading.fields is not None
    assert reading.fields.cic == identity.cic
    assert reading.fields.identificador_ciudadano == identity.identificador_ciudadano


def test_read_mrz_on_a_blank_image_is_unreadable() -> None:
    blank = WorkingImage(Image.new("L", (800, 500), 200), 1.0, (800, 500), "PNG")
    reading = read_mrz(blank, deadline=time.perf_counter() + 5, today=TODAY)
    assert reading.fields is None
    assert reading.reason == Reason.MRZ_UNREADABLE


CHARSET = ["blank", *"0123456789<IDMEXHKA"]


def frames(text: str, *, confusions: dict[int, tuple[str, float]] | None = None) -> np.ndarray:
    """Recogniser-like probabilities: two frames per character and a blank between.

    `confusions` maps a character position to (what is read instead, its probability);
    the true character keeps most of the rest.
    """
    rows = []
    for position, char in enumerate(text):
        read, strength = (confusions or {}).get(position, (char, 0.95))
        weights = {read: strength} if read == char else {read: strength, char: 0.9 - strength}
        rows += [_row(weights)] * 2
        rows.append(_row({"blank": 0.98}))
    return np.array(rows)


def _row(weights: dict[str, float]) -> np.ndarray:
    rest = (1 - sum(weights.values())) / (len(CHARSET) - len(weights))
    row = np.full(len(CHARSET), rest)
    for char, weight in weights.items():
        row[CHARSET.index(char)] = weight
    return row


def test_greedy_decoding_keeps_each_characters_confidence() -> None:
    line = greedy(frames("IDMEX<<1", confusions={7: ("7", 0.5)}), CHARSET)
    assert line.text == "IDMEX<<7"
    assert line.confidences[0] == pytest.approx(0.95, abs=0.01)
    assert line.confidences[7] == pytest.approx(0.5, abs=0.01)


def test_shape_decoding_restores_misread_fillers() -> None:
    # `<<` read as `22`, the fillers a close second: the line's shape puts them back.
    probs = frames(GOOD[0], confusions={15: ("2", 0.5), 16: ("2", 0.5)})
    assert greedy(probs, CHARSET).text == GOOD[0][:15] + "22" + GOOD[0][17:]
    shaped = ShapeDecoder(LINE1_SHAPE, CHARSET).decode(np.log(probs))
    assert shaped.text == GOOD[0]
    assert 0 < shaped.margin < 3
    assert min(shaped.confidences) == pytest.approx(0.4, abs=0.05)


def test_shape_decoding_of_another_line_costs_a_large_margin() -> None:
    shaped = ShapeDecoder(LINE1_SHAPE, CHARSET).decode(np.log(frames(GOOD[1])))
    assert len(shaped.text) == 30
    assert shaped.margin > 50


def test_shape_decoding_of_a_clean_line_is_the_line_itself() -> None:
    shaped = ShapeDecoder(LINE2_SHAPE, CHARSET).decode(np.log(frames(GOOD[1])))
    assert shaped.text == GOOD[1]
    assert shaped.margin == pytest.approx(0, abs=1e-6)


def test_an_unsure_cic_is_not_accepted_on_its_check_digit_alone() -> None:
    confident = OcrLine(GOOD[0], (0.99,) * 30)
    unsure = OcrLine(GOOD[0], (0.99,) * 8 + (0.6,) + (0.99,) * 21)
    assert judge([confident]).cic_only
    assert not judge([unsure]).cic_only
    assert judge([unsure, GOOD[1]]).full  # with line 2, all four check digits decide


def test_guessed_characters_are_not_trusted_even_when_checks_hold() -> None:
    guessed_tail = OcrLine(GOOD[0], (0.99,) * 20 + (0.2,) + (0.99,) * 9)
    fields = fields_from(judge([guessed_tail, GOOD[1]]), today=TODAY, g_or_h_layout=True)
    assert fields.cic == "183657717"
    assert fields.identificador_ciudadano is None and fields.optional_digits is None
    guessed_cic = OcrLine(GOOD[0], (0.99,) * 6 + (0.2,) + (0.99,) * 23)
    assert not judge([guessed_cic, GOOD[1]]).full
