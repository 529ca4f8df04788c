from datetime import date

from capture.identifiers import icao_check_digit
from capture.mrz import ReadingTally, fields_from, judge
from capture.mrz_ctc import OcrLine

TODAY = date(2026, 11, 24)
# A consistent MRZ: every check digit holds.
LINE1 = "IDMEX1836577177<<0747116375842"
LINE2 = "8007050M2212315MEX<02<<12345<4"
LINE2_EXPIRY_MISREAD = LINE2[:9] + "5" + LINE2[10:]  # 221231 read as 251231 (glare)


def confident(text: str) -> OcrLine:
    return OcrLine(text, (0.99,) * len(text))


def unsure(text: str) -> OcrLine:
    return OcrLine(text, (0.99,) * 8 + (0.6,) + (0.99,) * (len(text) - 9))


def other_cic_line1() -> str:
    cic = "123456789"
    return f"IDMEX{cic}{icao_check_digit(cic)}<<0747116375842"


def test_a_confident_line1_beside_a_line2_failing_its_own_check_is_noted() -> None:
    verdict = judge([confident(LINE1), confident(LINE2_EXPIRY_MISREAD)])
    assert verdict.checks.expiry is False and verdict.checks.composite is False
    assert verdict.cic_beside_damaged_line2
    assert not verdict.cic_only and not verdict.full


def test_an_unsure_line1_or_an_intact_line2_does_not_qualify() -> None:
    assert not judge([unsure(LINE1), confident(LINE2_EXPIRY_MISREAD)]).cic_beside_damaged_line2
    tail_misread = LINE1[:20] + "9" + LINE1[21:]  # line 2's dates hold: the composite accuses line 1
    assert not judge([confident(tail_misread), confident(LINE2)]).cic_beside_damaged_line2
    assert not judge([confident(LINE1[:-3]), confident(LINE2_EXPIRY_MISREAD)]).cic_beside_damaged_line2


def test_one_reading_beside_a_damaged_line2_is_not_enough() -> None:
    tally = ReadingTally()
    tally.add([confident(LINE1), confident(LINE2_EXPIRY_MISREAD)])
    assert tally.result() is None


def test_a_second_reading_of_the_same_cic_confirms_it() -> None:
    tally = ReadingTally()
    tally.add([confident(LINE1), confident(LINE2_EXPIRY_MISREAD)])
    tally.add([unsure(LINE1)])
    verdict = tally.result()
    assert verdict is not None
    fields = fields_from(verdict, today=TODAY, g_or_h_layout=True)
    assert fields.cic == "183657717"
    assert fields.expiry is None and fields.birth_date is None and fields.identificador_ciudadano is None


def test_any_valid_reading_of_another_cic_yields_nothing() -> None:
    tally = ReadingTally()
    tally.add([confident(LINE1), confident(LINE2_EXPIRY_MISREAD)])
    tally.add([unsure(LINE1)])
    tally.add([unsure(other_cic_line1())])
    assert tally.result() is None


def test_the_same_strip_read_twice_is_no_confirmation() -> None:
    tally = ReadingTally()
    for _ in range(2):
        tally.add([confident(LINE1), confident(LINE2_EXPIRY_MISREAD)])
    assert tally.result() is None
