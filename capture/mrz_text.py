"""The text of the MRZ's lines 1 and 2 (ICAO 9303 TD1): from OCR output to fields.

Parsing is lenient in *shape* (fillers misread as `K` or `«`, stray characters at the ends,
spaces) and maps letters OCR confuses with digits (O/0, I/1, B/8, ...) only in digit
positions; whether a field is accepted is left to the check digits (see `capture.mrz`).
Each parsed field keeps the OCR's confidence in its characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from capture.identifiers import check_digit_holds
from capture.mrz_ctc import OcrLine
from capture.result import MrzChecks

_DIGIT_LOOKALIKES: Final = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "|": "1", "T": "7",
     "Z": "2", "A": "4", "S": "5", "G": "6", "B": "8"}
)  # fmt: skip
_FILLER_LOOKALIKES: Final = str.maketrans("«‹〈(<{[", "<<<<<<<")
_D: Final = "[0-9OQDUILTZASGB|]"
# Searched, not matched whole: a line cut out with some margin may carry stray characters at
# its ends; the structure (MEX, digit runs, fillers) and the check digits pin the fields.
# `MEX` with at most one character misread anchors both lines.
_MEX: Final = "(?:.EX|M.X|ME.)"
_LINE1: Final = re.compile(rf"{_MEX}(?P<cic>{_D}{{9}})(?P<check>{_D})(?P<fillers>[<K]{{1,3}})(?P<tail>{_D}{{13}})")
# Both fillers misread (as digits, say) leave no anchor between the fields; the line is
# then taken only when it is exactly 30 characters starting `IDMEX`, which fixes every
# position (the check digits still decide).
_LINE1_EXACT: Final = re.compile(
    rf"[I1L|][DO0]{_MEX}(?P<cic>{_D}{{9}})(?P<check>{_D})(?P<fillers>..)(?P<tail>{_D}{{13}})"
)
# Glare over the line's start can take `IDMEX` with it. The two fillers between ten digits
# and thirteen still pin every field (line 2 has no such run); with the weaker anchor only
# real digits are taken, and nothing that continues a longer run of digits.
_LINE1_HEADLESS: Final = re.compile(
    r"(?<![0-9])(?P<cic>[0-9]{9})(?P<check>[0-9])(?P<fillers><<)(?P<tail>[0-9]{13})(?![0-9])"
)
_LINE1_HEAD: Final = re.compile(rf"{_MEX}(?P<cic>{_D}{{9}})(?P<check>{_D})[<K]{{2}}")
_DIGIT_LIKE: Final = re.compile(_D)
_LINE2: Final = re.compile(
    rf"(?P<birth>{_D}{{6}})(?P<birth_check>{_D})(?P<sex>.)(?P<expiry>{_D}{{6}})(?P<expiry_check>{_D})"
    rf"{_MEX}(?P<optional>[0-9A-Z<]{{11}})(?P<composite>{_D})"
)


@dataclass(frozen=True)
class Line1:
    cic: str
    cic_check: str
    tail: str | None  # the 13 digits after `<<`; None when cut off (glare, the photo's edge)
    cic_confidence: float = 1.0  # the least confident of the CIC's and its check's characters
    tail_confidence: float = 1.0

    @property
    def canonical(self) -> str | None:
        return None if self.tail is None else f"IDMEX{self.cic}{self.cic_check}<<{self.tail}"

    @property
    def cic_ok(self) -> bool:
        return check_digit_holds(self.cic, self.cic_check)


@dataclass(frozen=True)
class Line2:
    birth: str
    birth_check: str
    sex: str
    expiry: str
    expiry_check: str
    optional: str
    composite: str
    confidence: float = 1.0  # the least confident character under a check digit

    def checks(self, line1: Line1) -> MrzChecks:
        """Every check digit; the composite only when line 1 was read whole."""
        dates = self.birth + self.birth_check + self.expiry + self.expiry_check
        canonical = line1.canonical
        covered = None if canonical is None else canonical[5:30] + dates + self.optional
        composite = None if covered is None else check_digit_holds(covered, self.composite)
        return MrzChecks(
            cic=line1.cic_ok,
            birth_date=check_digit_holds(self.birth, self.birth_check),
            expiry=check_digit_holds(self.expiry, self.expiry_check),
            composite=composite,
        )


def clean(text: str) -> str:
    """Upper-case ASCII without spaces; filler look-alikes become `<`."""
    return _Cleaned.of(text).text


@dataclass(frozen=True)
class _Cleaned:
    """Cleaned text with each character's OCR confidence kept alongside."""

    text: str
    confidences: tuple[float, ...]

    @classmethod
    def of(cls, text: str, confidences: tuple[float, ...] | None = None) -> _Cleaned:
        chars: list[str] = []
        kept: list[float] = []
        for char, confidence in zip(text, confidences or (1.0,) * len(text), strict=True):
            folded = "".join(unicodedata.normalize("NFKC", char).upper().split()).translate(_FILLER_LOOKALIKES)
            chars.append(folded)
            kept.extend([confidence] * len(folded))
        return cls("".join(chars), tuple(kept))

    def least(self, start: int, end: int) -> float:
        return min(self.confidences[start:end], default=1.0)


def _digits(text: str) -> str:
    return text.translate(_DIGIT_LOOKALIKES)


def parse_line1(line: str | OcrLine) -> Line1 | None:
    """Line 1's fields with look-alikes mapped to digits; None when its shape is not found.

    `K` is OCR's usual misreading of the `<` filler, so filler runs accept it.
    """
    cleaned = _cleaned(line)
    text = cleaned.text
    match = _LINE1.search(text) or _LINE1_EXACT.fullmatch(text) or _LINE1_HEADLESS.search(text)
    if match is None:
        return _cic_only_line1(cleaned)
    after = text[match.end() : match.end() + 1]
    if len(match["fillers"]) != 2 and _DIGIT_LIKE.fullmatch(after):
        # A filler misread as a digit (`<<` as `<4`) shifts the 13 digits by one; with the
        # fillers' count wrong, a digit after them says that may have happened.
        return None
    return Line1(
        cic=_digits(match["cic"]),
        cic_check=_digits(match["check"]),
        tail=_digits(match["tail"]),
        cic_confidence=cleaned.least(match.start("cic"), match.end("check")),
        tail_confidence=cleaned.least(match.start("tail"), match.end("tail")),
    )


def _cic_only_line1(cleaned: _Cleaned) -> Line1 | None:
    """Line 1 whose 13 digits are cut short: the CIC is still pinned by `MEX` and the fillers."""
    match = _LINE1_HEAD.search(cleaned.text)
    if match is None:
        return None
    return Line1(
        cic=_digits(match["cic"]),
        cic_check=_digits(match["check"]),
        tail=None,
        cic_confidence=cleaned.least(match.start("cic"), match.end("check")),
    )


def _cleaned(line: str | OcrLine) -> _Cleaned:
    if isinstance(line, str):
        return _Cleaned.of(line)
    return _Cleaned.of(line.text, line.confidences)


def parse_line2(line: str | OcrLine) -> Line2 | None:
    """Line 2's fields, None when not found; the optional area keeps `<` and digits only."""
    cleaned = _cleaned(line)
    match = _LINE2.search(cleaned.text)
    if match is None:
        return None
    optional = _digits(match["optional"].replace("K", "<"))
    if not re.fullmatch(r"[0-9<]{11}", optional):
        return None
    return Line2(
        birth=_digits(match["birth"]),
        birth_check=_digits(match["birth_check"]),
        sex=match["sex"],
        expiry=_digits(match["expiry"]),
        expiry_check=_digits(match["expiry_check"]),
        optional=optional,
        composite=_digits(match["composite"]),
        # Sex is the one character no check digit covers.
        confidence=min(cleaned.least(match.start(), match.start("sex")), cleaned.least(match.end("sex"), match.end())),
    )
