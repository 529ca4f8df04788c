"""Identifiers printed on the voter credential (CPV) and their validation.

ICAO 9303 check digits (weights 7-3-1) are what make an OCR reading trustworthy.
Every `parse_*` function normalises its input (spaces out, upper case) and returns a typed
value or raises `InvalidIdentifier` carrying an `IdentifierError` code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NewType

_WEIGHTS = (7, 3, 1)

Cic = NewType("Cic", str)
Ocr = NewType("Ocr", str)
IdentificadorCiudadano = NewType("IdentificadorCiudadano", str)
Seccion = NewType("Seccion", str)

# States are numbered 01-32 in INE's alphabetical order; 87 and 88 appear in claves of
# people born abroad or of unknown state (seen in practice, meaning *unconfirmed*).
_EXTRA_STATE_CODES = frozenset({87, 88})
_CLAVE_PATTERN = re.compile(r"[A-Z]{6}[0-9]{8}[HM][0-9]{3}")
_MRZ_LINE1_PATTERN = re.compile(r"IDMEX([0-9]{9})([0-9])<<([0-9]{13})")
_SPACES = re.compile(r"\s+")


class IdentifierError(StrEnum):
    EMPTY = "empty"
    WRONG_LENGTH = "wrong_length"
    NOT_DIGITS = "not_digits"
    BAD_FORMAT = "bad_format"
    BAD_DATE = "bad_date"
    BAD_STATE = "bad_state"
    BAD_CHECK_DIGIT = "bad_check_digit"


class InvalidIdentifier(ValueError):
    """A typed rejection: `code` says why, `kind` which identifier."""

    def __init__(self, kind: str, code: IdentifierError) -> None:
        super().__init__(f"{kind}: {code.value}")
        self.kind = kind
        self.code = code


@dataclass(frozen=True)
class ClaveElector:
    value: str
    birth_date: date
    state: int
    sex: str


@dataclass(frozen=True)
class MrzLine1:
    """Line 1 of the TD1 MRZ: the CIC (check digit verified) and the 13 digits after `<<`."""

    cic: Cic
    optional_digits: str

    @property
    def identificador_ciudadano(self) -> IdentificadorCiudadano:
        """Models E-H: the last 9 of the 13 digits."""
        return IdentificadorCiudadano(self.optional_digits[4:])


def _char_value(char: str) -> int:
    if "0" <= char <= "9":
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise ValueError(f"not an MRZ character: {char!r}")


def icao_check_digit(field: str) -> str:
    """The ICAO 9303 check digit of an MRZ field, as a one-character string."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field))
    return str(total % 10)


def check_digit_holds(field: str, check: str) -> bool:
    """True when `check` is the ICAO check digit of `field` (False for any non-MRZ text)."""
    try:
        return icao_check_digit(field) == check
    except ValueError:
        return False


def is_ascii_digits(text: str) -> bool:
    """Only 0-9: `str.isdigit` also accepts superscripts and other scripts' digits."""
    return text.isascii() and text.isdigit()


def normalize(text: str) -> str:
    """Drop all whitespace and upper-case: how people type and paste identifiers."""
    return _SPACES.sub("", text).upper()


def mrz_date(yymmdd: str, *, pivot_year: int) -> date | None:
    """A YYMMDD date; years after `pivot_year`'s last two digits belong to the 1900s."""
    if len(yymmdd) != 6 or not is_ascii_digits(yymmdd):
        return None
    year = 2000 + int(yymmdd[:2])
    if year > pivot_year:
        year -= 100
    try:
        return date(year, int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        return None


def _digits(kind: str, text: str, length: int) -> str:
    value = normalize(text)
    if not value:
        raise InvalidIdentifier(kind, IdentifierError.EMPTY)
    if not is_ascii_digits(value):
        raise InvalidIdentifier(kind, IdentifierError.NOT_DIGITS)
    if len(value) != length:
        raise InvalidIdentifier(kind, IdentifierError.WRONG_LENGTH)
    return value


def parse_cic(text: str) -> Cic:
    """9 digits, or 10 when typed with the MRZ check digit (which must then hold)."""
    value = normalize(text)
    if len(value) == 10 and is_ascii_digits(value):
        if not check_digit_holds(value[:9], value[9]):
            raise InvalidIdentifier("cic", IdentifierError.BAD_CHECK_DIGIT)
        return Cic(value[:9])
    return Cic(_digits("cic", value, 9))


def parse_ocr(text: str) -> Ocr:
    return Ocr(_digits("ocr", text, 13))


def parse_identificador_ciudadano(text: str) -> IdentificadorCiudadano:
    return IdentificadorCiudadano(_digits("identificador_ciudadano", text, 9))


def parse_seccion(text: str) -> Seccion:
    return Seccion(_digits("seccion", text, 4))


def _valid_state(code: int) -> bool:
    return 1 <= code <= 32 or code in _EXTRA_STATE_CODES


def parse_clave_elector(text: str, *, today: date | None = None) -> ClaveElector:
    """18 characters: 6 letters, birth YYMMDD, state of birth, sex H/M, 3 digits."""
    value = normalize(text)
    if not value:
        raise InvalidIdentifier("clave_elector", IdentifierError.EMPTY)
    if len(value) != 18:
        raise InvalidIdentifier("clave_elector", IdentifierError.WRONG_LENGTH)
    if not _CLAVE_PATTERN.fullmatch(value):
        raise InvalidIdentifier("clave_elector", IdentifierError.BAD_FORMAT)
    pivot = (today or date.today()).year
    birth = mrz_date(value[6:12], pivot_year=pivot)
    if birth is None:
        raise InvalidIdentifier("clave_elector", IdentifierError.BAD_DATE)
    state = int(value[12:14])
    if not _valid_state(state):
        raise InvalidIdentifier("clave_elector", IdentifierError.BAD_STATE)
    return ClaveElector(value=value, birth_date=birth, state=state, sex=value[14])


def parse_mrz_line1(text: str) -> MrzLine1:
    """Line 1 of the MRZ typed by hand, e.g. `IDMEX1836577177<<0747116375842`.

    `«` is accepted for `<` because some fonts and keyboards produce it. The CIC's check
    digit must hold; the 13 digits have no check digit of their own on line 1.
    """
    value = normalize(text).replace("«", "<")
    if not value:
        raise InvalidIdentifier("mrz_line1", IdentifierError.EMPTY)
    match = _MRZ_LINE1_PATTERN.fullmatch(value)
    if match is None:
        code = IdentifierError.WRONG_LENGTH if len(value) != 30 else IdentifierError.BAD_FORMAT
        raise InvalidIdentifier("mrz_line1", code)
    cic, check, optional = match.groups()
    if not check_digit_holds(cic, check):
        raise InvalidIdentifier("mrz_line1", IdentifierError.BAD_CHECK_DIGIT)
    return MrzLine1(cic=Cic(cic), optional_digits=optional)
