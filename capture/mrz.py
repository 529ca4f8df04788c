"""Reading the TD1 machine-readable zone (3 lines x 30) of the credential's back.

A field is accepted only when the ICAO 9303 check digits covering it hold: all four (CIC,
birth date, expiry, composite) for a full reading; a CIC alone only when its own check
digit holds, it was read confidently and nothing contradicts it. Readings come from
`MrzAttempts` (cheapest first) and, when the recogniser's free reading fails, from the
same output decoded in the MRZ's shape (`capture.mrz_ctc`). Two readings that disagree
yield nothing: when unsure, fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from capture import budget
from capture.identifiers import icao_check_digit, mrz_date
from capture.intake import WorkingImage
from capture.mrz_ctc import LINE1_SHAPE, LINE2_INE_SHAPE, LINE2_SHAPE, OcrLine
from capture.mrz_ocr import CardHint, LineReader, Loader, MrzAttempts, default_reader
from capture.mrz_text import Line1, Line2, clean, parse_line1, parse_line2
from capture.result import ModelHint, MrzChecks, MrzFields, MrzReading, Quad, Reason

# Credentials last 10 years and model E replaced D around 2013-2014 (the exact switch-over
# is *unconfirmed*), so an expiry up to 2023 means model D and from 2025 model E or later;
# 2024 could be either, and then neither the OCR nor the identificador is given.
LAST_D_MODEL_EXPIRY_YEAR: Final = 2023
FIRST_E_MODEL_EXPIRY_YEAR: Final = 2025
# A CIC accepted on its own check digit must have been read this confidently, every digit.
CIC_ONLY_MIN_CONFIDENCE: Final = 0.9
# Fields under two check digits (the CIC) or only the composite (line 1's 13 digits) need
# this much: below it a character is a guess (read under glare, or filled in by the
# shape decoder), and a guess can pass one mod-10 check by chance.
FULL_MIN_CONFIDENCE: Final = 0.5
# A shape-constrained reading may be this much (nats) less probable than the free one: a
# few dropped or misread fillers; hallucinating digits costs far more.
SHAPED_MAX_MARGIN: Final = 12.0
_MRZ_CHARACTERS: Final = frozenset("0123456789<")
_MIN_MRZ_CHARACTERS: Final = 15


@dataclass(frozen=True)
class Verdict:
    """What one OCR reading of the MRZ supports."""

    line1: Line1 | None
    line2: Line2 | None
    checks: MrzChecks

    @property
    def full(self) -> bool:
        """Every check digit held (and the CIC was not guessed): the fields are trustworthy."""
        c = self.checks
        sure = self.line1 is not None and self.line1.cic_confidence >= FULL_MIN_CONFIDENCE
        return bool(c.cic and c.birth_date and c.expiry and c.composite) and sure

    @property
    def cic_only(self) -> bool:
        """The CIC checks out, was read confidently, and nothing contradicts it, but the
        composite check could not be made (line 2 unreadable, or line 1's 13 digits cut
        off): only the CIC, and dates whose own check digits hold, are trusted.

        One check digit misses one misreading in ten when several characters are wrong at
        once, which is how OCR fails under glare; the confidence floor keeps such readings out.
        """
        c = self.checks
        confident = self.line1 is not None and self.line1.cic_confidence >= CIC_ONLY_MIN_CONFIDENCE
        no_contradiction = c.birth_date is not False and c.expiry is not False
        return bool(c.cic) and confident and c.composite is None and no_contradiction

    @property
    def cic_beside_damaged_line2(self) -> bool:
        """Line 1 read whole and confidently with a valid CIC, beside a line 2 whose own
        date check failed (glare on line 2). The composite's failure is then explained by
        line 2 and says nothing about line 1: the CIC is as good as with line 2 unread,
        but `ReadingTally` also wants it confirmed by a second reading, as glare was about."""
        line1, c = self.line1, self.checks
        if line1 is None or line1.tail is None or self.line2 is None:
            return False
        whole = min(line1.cic_confidence, line1.tail_confidence) >= CIC_ONLY_MIN_CONFIDENCE
        return bool(c.cic) and whole and (c.birth_date is False or c.expiry is False)

    @property
    def failed_check(self) -> bool:
        return False in (self.checks.cic, self.checks.birth_date, self.checks.expiry, self.checks.composite)


def judge(lines: Sequence[str | OcrLine]) -> Verdict:
    """Find lines 1 and 2 among OCR'd lines (in reading order) and check them."""
    line1 = next((first for t in lines if (first := parse_line1(t)) is not None), None)
    line2 = next((second for t in lines if (second := parse_line2(t)) is not None), None)
    if line1 is None:
        return Verdict(None, line2, MrzChecks())
    if line2 is None:
        return Verdict(line1, None, MrzChecks(cic=line1.cic_ok))
    return Verdict(line1, line2, line2.checks(line1))


def judge_shaped(lines: Sequence[OcrLine], reader: LineReader) -> tuple[Verdict, int] | None:
    """A full verdict from readings constrained to the MRZ's shape, or None.

    For each pair of consecutive lines, the first is decoded as line 1 and the second as
    line 2 (general shape, then the INE layout of its optional area); a pair counts only
    if both decodings are nearly as probable as the free readings (so the image supports
    them) and then every check digit holds. Returns the verdict and line 1's index.
    """
    shaped1 = [_shaped(line, LINE1_SHAPE, reader) for line in lines[:-1]]
    for line2_shape in (LINE2_SHAPE, LINE2_INE_SHAPE):
        for index, (first, line) in enumerate(zip(shaped1, lines[1:], strict=True)):
            second = _shaped(line, line2_shape, reader) if first is not None else None
            if first is not None and second is not None:
                verdict = judge([first, second])
                if verdict.full:
                    return verdict, index
    return None


def _shaped(line: OcrLine, shape: tuple[str, ...], reader: LineReader) -> OcrLine | None:
    """The line decoded in `shape`, if the image supports it (decoding costs ~7 ms: lines
    that read as mostly something else are not tried)."""
    mrz_characters = sum(1 for char in line.text if char in _MRZ_CHARACTERS)
    if line.log_probs is None or mrz_characters < _MIN_MRZ_CHARACTERS:
        return None
    shaped = reader.decoder(shape).decode(line.log_probs)
    return OcrLine(shaped.text, shaped.confidences) if shaped.margin <= SHAPED_MAX_MARGIN else None


def names_line(lines: Sequence[str | OcrLine]) -> str | None:
    """Line 3 (surnames<<names, truncated at 30): the line after line 2, if it has that shape."""
    cleaned = [clean(t if isinstance(t, str) else t.text) for t in lines]
    for index, text in enumerate(cleaned[:-1]):
        if parse_line2(text) is not None and re.fullmatch(r"[A-Z<]{20,30}", cleaned[index + 1]):
            return cleaned[index + 1]
    return None


def model_hint(expiry: date | None, *, g_or_h_layout: bool) -> ModelHint:
    if g_or_h_layout:
        return ModelHint.E_TO_H
    if expiry is None:
        return ModelHint.UNKNOWN
    if expiry.year >= FIRST_E_MODEL_EXPIRY_YEAR:
        return ModelHint.E_TO_H
    return ModelHint.D if expiry.year <= LAST_D_MODEL_EXPIRY_YEAR else ModelHint.UNKNOWN


def fields_from(verdict: Verdict, *, today: date, g_or_h_layout: bool, names: str | None = None) -> MrzFields:
    """The accepted fields of a full or CIC-only verdict."""
    line1, line2 = verdict.line1, verdict.line2
    if line1 is None or not (verdict.full or verdict.cic_only):
        return MrzFields(checks=verdict.checks)
    birth, expiry = _checked_dates(verdict, today=today)
    hint = model_hint(expiry, g_or_h_layout=g_or_h_layout)
    tail = line1.tail if verdict.full and line1.tail_confidence >= FULL_MIN_CONFIDENCE else None
    return MrzFields(
        cic=line1.cic,
        optional_digits=tail,
        identificador_ciudadano=tail[4:] if tail and hint == ModelHint.E_TO_H else None,
        ocr=tail if tail and hint == ModelHint.D else None,
        birth_date=birth,
        sex=line2.sex if line2 and verdict.full and line2.sex in "HM" else None,
        expiry=expiry,
        names_truncated=names if verdict.full else None,
        model_hint=hint,
        checks=verdict.checks,
    )


def _checked_dates(verdict: Verdict, *, today: date) -> tuple[date | None, date | None]:
    """Birth date and expiry, each only if its check digits (and confidence) allow."""
    line2 = verdict.line2
    if line2 is None or not (verdict.full or _dates_alone_trusted(line2)):
        return None, None
    birth = mrz_date(line2.birth, pivot_year=today.year) if verdict.checks.birth_date else None
    expiry = mrz_date(line2.expiry, pivot_year=2099) if verdict.checks.expiry else None
    return birth, expiry


def _dates_alone_trusted(line2: Line2) -> bool:
    """Dates on their own check digits (no composite): only a confident reading whose
    expiry has the INE form (31 December), a second, free check."""
    return line2.confidence >= CIC_ONLY_MIN_CONFIDENCE and line2.expiry.endswith("1231")


class ReadingTally:
    """Readings across attempts: the first full one wins; CIC-only ones must all agree."""

    def __init__(self) -> None:
        self.full: Verdict | None = None
        self.full_lines: Sequence[str | OcrLine] = ()
        self.cic_only: set[str] = set()
        self.partial: Verdict | None = None  # the CIC-only reading that also had line 2
        self.rejected: MrzChecks | None = None
        self.failed_check = False
        self.beside_damaged: set[str] = set()
        # Every CIC read with a valid check digit, however unsure, with the confidences it
        # was read with: the same strip recognised twice gives the same confidence, so
        # distinct confidences count distinct looks at the image.
        self.valid_cics: dict[str, set[float]] = {}

    def add(self, lines: Sequence[str | OcrLine]) -> None:
        self.add_verdict(judge(lines), lines)

    def add_verdict(self, verdict: Verdict, lines: Sequence[str | OcrLine] = ()) -> None:
        if verdict.line1 is not None and verdict.checks.cic:
            self.valid_cics.setdefault(verdict.line1.cic, set()).add(verdict.line1.cic_confidence)
        if verdict.cic_beside_damaged_line2 and verdict.line1 is not None:
            self.beside_damaged.add(verdict.line1.cic)
        if verdict.full and self.full is None:
            self.full, self.full_lines = verdict, lines
        elif verdict.cic_only and verdict.line1 is not None:
            self.cic_only.add(verdict.line1.cic)
            if verdict.line2 is not None and self.partial is None:
                self.partial = verdict
        elif verdict.line1 is not None:
            self.failed_check = self.failed_check or verdict.failed_check
            self.rejected = self.rejected or verdict.checks

    @property
    def done(self) -> bool:
        return self.full is not None

    def result(self) -> Verdict | None:
        if self.full is not None and self.full.line1 is not None:
            agreeing = self.cic_only <= {self.full.line1.cic}
            return self.full if agreeing else None
        if len(self.cic_only) == 1:
            if self.partial is not None:
                return self.partial
            cic = next(iter(self.cic_only))
            line1 = Line1(cic=cic, cic_check=icao_check_digit(cic), tail=None)
            return Verdict(line1, None, MrzChecks(cic=True))
        return self._beside_damaged_line2()

    def _beside_damaged_line2(self) -> Verdict | None:
        """A CIC read beside a damaged line 2, if no reading with a valid check digit
        disagrees and at least one other look at the image (another strip) confirms it."""
        if len(self.beside_damaged) != 1 or len(self.valid_cics) != 1:
            return None
        cic = next(iter(self.beside_damaged))
        if len(self.valid_cics.get(cic, ())) < 2:
            return None
        line1 = Line1(cic=cic, cic_check=icao_check_digit(cic), tail=None)
        return Verdict(line1, None, MrzChecks(cic=True))

    def reason(self) -> Reason:
        return Reason.MRZ_CHECK_FAILED if self.failed_check else Reason.MRZ_UNREADABLE


def read_mrz(
    working: WorkingImage,
    *,
    deadline: float,
    today: date,
    hint: CardHint | None = None,
    g_or_h_layout: bool = False,
    reader: LineReader | None = None,
    load_full: Loader | None = None,
    names: bool = False,
    attempts: MrzAttempts | None = None,
) -> MrzReading:
    """Locate the MRZ (guided by `hint`, from the QR stage, when given) and read it.

    Attempts come cheapest first from `MrzAttempts` (or the `attempts` given, which must be
    made on `working`); none starts after `deadline`.
    """
    started = time.perf_counter()
    reader = reader or default_reader()
    tally = ReadingTally()
    if attempts is None:
        attempts = MrzAttempts(working, hint=hint, reader=reader, load_full=load_full, names=names, deadline=deadline)
    line1_at: Quad | None = None
    for lines in attempts:
        tally.add(lines)
        index = _line1_index(lines)
        if not tally.done:
            shaped = judge_shaped(lines, reader)
            if shaped is not None:
                tally.add_verdict(shaped[0])
                index = shaped[1]
        if tally.done and index is not None:
            line1_at = attempts.line_position(index)
        if tally.done or budget.now() > deadline:
            break
    verdict = tally.result()
    ms = (time.perf_counter() - started) * 1000
    if verdict is None:
        return MrzReading(fields=None, reason=tally.reason(), rejected=tally.rejected, ms=ms)
    line3 = names_line(tally.full_lines) if verdict.full and names else None
    fields = fields_from(verdict, today=today, g_or_h_layout=g_or_h_layout, names=line3)
    return MrzReading(fields=fields, reason=None, line1=line1_at if verdict.full else None, ms=ms)


def _line1_index(lines: Sequence[OcrLine]) -> int | None:
    return next((i for i, line in enumerate(lines) if parse_line1(line) is not None), None)
