from collections.abc import Callable
from datetime import date

import pytest

from capture.identifiers import (
    ClaveElector,
    IdentifierError,
    InvalidIdentifier,
    check_digit_holds,
    icao_check_digit,
    mrz_date,
    normalize,
    parse_cic,
    parse_clave_elector,
    parse_identificador_ciudadano,
    parse_mrz_line1,
    parse_ocr,
    parse_seccion,
)

# The INE specimen's CIC check digit is printed 0 but ICAO gives 7; its birth date's is
# printed 7 but ICAO gives 0 (a sample card); its expiry's (5) is right.
SPECIMEN_CIC = "183657717"


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        (SPECIMEN_CIC, "7"),
        ("800705", "0"),
        ("221231", "5"),
        ("L898902C3", "6"),  # ICAO 9303 part 3 worked example
        ("<<<", "0"),
    ],
)
def test_icao_check_digit(field: str, digit: str) -> None:
    assert icao_check_digit(field) == digit


@pytest.mark.parametrize("field", ["12a", "12 3", "١٢٣"])
def test_icao_check_digit_rejects_non_mrz_characters(field: str) -> None:
    with pytest.raises(ValueError):
        icao_check_digit(field)
    assert not check_digit_holds(field, "0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("183657717", "183657717"),
        (" 1836 57717\n", "183657717"),
        ("1836577177", "183657717"),  # typed with its check digit
    ],
)
def test_parse_cic_accepts(text: str, expected: str) -> None:
    assert parse_cic(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", IdentifierError.EMPTY),
        ("   ", IdentifierError.EMPTY),
        ("1836577170", IdentifierError.BAD_CHECK_DIGIT),  # the specimen's printed digit
        ("18365771", IdentifierError.WRONG_LENGTH),
        ("18365771777", IdentifierError.WRONG_LENGTH),
        ("18365771O", IdentifierError.NOT_DIGITS),
        ("１８３６５７７１７", IdentifierError.NOT_DIGITS),  # full-width digits
        ("18365771²", IdentifierError.NOT_DIGITS),
    ],
)
def test_parse_cic_rejects(text: str, code: IdentifierError) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        parse_cic(text)
    assert raised.value.code == code
    assert raised.value.kind == "cic"


@pytest.mark.parametrize(
    ("parse", "good", "short", "letters"),
    [
        (parse_ocr, "0747116375842", "074711637584", "074711637584A"),
        (parse_identificador_ciudadano, "116375842", "11637584", "11637584X"),
        (parse_seccion, "0747", "747", "07A7"),
    ],
)
def test_numeric_identifiers(parse: Callable[[str], str], good: str, short: str, letters: str) -> None:
    assert parse(f" {good[:2]} {good[2:]} ") == good
    for text, code in ((short, IdentifierError.WRONG_LENGTH), (letters, IdentifierError.NOT_DIGITS)):
        with pytest.raises(InvalidIdentifier) as raised:
            parse(text)
        assert raised.value.code == code


def test_parse_clave_elector_reads_its_parts() -> None:
    clave = parse_clave_elector("gmvzmr 80070509 m100", today=date(2026, 1, 1))
    assert clave == ClaveElector(value="GMVZMR80070509M100", birth_date=date(1980, 7, 5), state=9, sex="M")


@pytest.mark.parametrize("text", ["GMVZMR80070587M100", "GMVZMR05123132H001", "GMVZMR80070501H999"])
def test_parse_clave_elector_accepts_valid_states_and_dates(text: str) -> None:
    assert parse_clave_elector(text, today=date(2026, 1, 1)).value == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", IdentifierError.EMPTY),
        ("GMVZMR80070509M10", IdentifierError.WRONG_LENGTH),
        ("GMVZM180070509M100", IdentifierError.BAD_FORMAT),
        ("GMVZMR80070509X100", IdentifierError.BAD_FORMAT),
        ("GMVZMR80023109M100", IdentifierError.BAD_DATE),  # 31 February
        ("GMVZMR80130509M100", IdentifierError.BAD_DATE),
        ("GMVZMR80070533M100", IdentifierError.BAD_STATE),
        ("GMVZMR80070500M100", IdentifierError.BAD_STATE),
        ("GMVZMR80070586M100", IdentifierError.BAD_STATE),
    ],
)
def test_parse_clave_elector_rejects(text: str, code: IdentifierError) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        parse_clave_elector(text, today=date(2026, 1, 1))
    assert raised.value.code == code


@pytest.mark.parametrize(
    "text",
    [
        "IDMEX1836577177<<0747116375842",
        " idmex1836577177<<0747116375842 ",
        "IDMEX 1836577177 << 0747116375842",
        "IDMEX1836577177««0747116375842",
    ],
)
def test_parse_mrz_line1_typed_by_hand(text: str) -> None:
    line = parse_mrz_line1(text)
    assert line.cic == SPECIMEN_CIC
    assert line.optional_digits == "0747116375842"
    assert line.identificador_ciudadano == "116375842"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", IdentifierError.EMPTY),
        ("IDMEX1836577170<<0747116375842", IdentifierError.BAD_CHECK_DIGIT),  # as printed on the specimen
        ("IDMEX1836577177<<074711637584", IdentifierError.WRONG_LENGTH),
        ("IDMEX1836577177<00747116375842", IdentifierError.BAD_FORMAT),
        ("IDUSA1836577177<<0747116375842", IdentifierError.BAD_FORMAT),
    ],
)
def test_parse_mrz_line1_rejects(text: str, code: IdentifierError) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        parse_mrz_line1(text)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("yymmdd", "pivot", "expected"),
    [
        ("800705", 2026, date(1980, 7, 5)),
        ("050101", 2026, date(2005, 1, 1)),
        ("301231", 2026, date(1930, 12, 31)),
        ("301231", 2099, date(2030, 12, 31)),
        ("800230", 2026, None),
        ("80070", 2026, None),
        ("8007O5", 2026, None),
    ],
)
def test_mrz_date(yymmdd: str, pivot: int, expected: date | None) -> None:
    assert mrz_date(yymmdd, pivot_year=pivot) == expected


def test_normalize_strips_all_whitespace_and_upper_cases() -> None:
    assert normalize(" ab\tc\n d ") == "ABCD"
