"""Typed results of reading the back of a voter credential.

Everything here is a frozen value: the web layer turns `Reason` codes into Spanish advice,
so no user-facing text lives in `capture/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Reason(StrEnum):
    """Why a photo could not be (fully) read; the UI maps each code to advice."""

    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    IMAGE_TRUNCATED = "image_truncated"
    IMAGE_TOO_SMALL = "image_too_small"
    NO_QR_FOUND = "no_qr_found"
    QR_UNREADABLE = "qr_unreadable"
    ONLY_ENCRYPTED_QR = "only_encrypted_qr"
    # Two different INE URLs: more than one credential in the photo, so nothing is trusted.
    SEVERAL_CREDENTIALS = "several_credentials"
    MRZ_UNREADABLE = "mrz_unreadable"
    # The MRZ was read but a check digit failed: a misprint, a copy or a sample card.
    MRZ_CHECK_FAILED = "mrz_check_failed"
    CREDENTIAL_EXPIRED = "credential_expired"
    # Advisory, added when reading failed and the photo looks out of focus or shaken.
    IMAGE_BLURRY = "image_blurry"
    TIME_BUDGET_EXHAUSTED = "time_budget_exhausted"


class SymbolKind(StrEnum):
    INE_URL_QR = "ine_url_qr"
    INE_ENCRYPTED_QR = "ine_encrypted_qr"
    OTHER_QR = "other_qr"
    UNREADABLE_QR = "unreadable_qr"
    CODE128 = "code128"


class ModelHint(StrEnum):
    """Which credential models the back is consistent with.

    The MRZ text of model D (13-digit OCR) and of models E-H (4 digits + identificador
    ciudadano) has the same shape, so only the layout tells them apart: the two encrypted
    QRs exist on G/H only.
    """

    D = "D"
    E_TO_H = "E-H"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Point:
    x: int
    y: int


@dataclass(frozen=True)
class Quad:
    """A symbol's corners in the EXIF-oriented, full-resolution image."""

    top_left: Point
    top_right: Point
    bottom_right: Point
    bottom_left: Point

    @property
    def points(self) -> tuple[Point, Point, Point, Point]:
        return (self.top_left, self.top_right, self.bottom_right, self.bottom_left)

    def bounds(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the axis-aligned box around the corners."""
        xs = [p.x for p in self.points]
        ys = [p.y for p in self.points]
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class QrUrl:
    """The small QR's URL. Parts are None when the URL does not have the long form."""

    text: str
    token: str | None = None
    date: date | None = None
    letter: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Symbol:
    kind: SymbolKind
    position: Quad
    url: QrUrl | None = None
    text: str | None = None  # Code128 digits or another QR's text; never encrypted bytes
    part_index: int | None = None  # encrypted QRs: the 2-byte index at their start
    byte_count: int = 0


@dataclass(frozen=True)
class QrReading:
    symbols: tuple[Symbol, ...] = ()
    url: QrUrl | None = None
    reason: Reason | None = None
    ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.url is not None


@dataclass(frozen=True)
class MrzChecks:
    """Which ICAO check digits held. None: the field was not read at all."""

    cic: bool | None = None
    birth_date: bool | None = None
    expiry: bool | None = None
    composite: bool | None = None


@dataclass(frozen=True)
class MrzFields:
    """Fields from the MRZ; each one is present only when the check digits covering it held."""

    cic: str | None = None
    optional_digits: str | None = None  # the 13 digits after `<<` on line 1
    identificador_ciudadano: str | None = None
    ocr: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    expiry: date | None = None
    names_truncated: str | None = None  # line 3, not check-digit protected
    model_hint: ModelHint = ModelHint.UNKNOWN
    checks: MrzChecks = field(default_factory=MrzChecks)


@dataclass(frozen=True)
class MrzReading:
    """`fields` only when check digits held; `rejected` says which failed when none did."""

    fields: MrzFields | None = None
    reason: Reason | None = None
    rejected: MrzChecks | None = None
    # Where line 1 of a fully checked reading is (full-size image; top-left is where the
    # line starts): it locates the rest of the card, e.g. the small QR.
    line1: Quad | None = None
    ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.fields is not None and self.fields.cic is not None


@dataclass(frozen=True)
class Timings:
    """Milliseconds per stage; zero when the stage did not run."""

    intake: float = 0.0
    qr: float = 0.0
    mrz: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class BackReading:
    """Everything read from one photo of a credential's back.

    `reasons` lists every problem found, most important first; a photo can succeed partly
    (`qr_ok` without `mrz_ok`).
    """

    qr: QrReading = field(default_factory=QrReading)
    mrz: MrzReading = field(default_factory=MrzReading)
    reasons: tuple[Reason, ...] = ()
    timings: Timings = field(default_factory=Timings)
    image_size: tuple[int, int] | None = None

    @property
    def qr_ok(self) -> bool:
        return self.qr.ok

    @property
    def mrz_ok(self) -> bool:
        return self.mrz.ok

    @property
    def expired(self) -> bool:
        return Reason.CREDENTIAL_EXPIRED in self.reasons

    @property
    def ok(self) -> bool:
        return self.qr_ok and self.mrz_ok and not self.expired

    @property
    def reason(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None

    @property
    def url(self) -> QrUrl | None:
        return self.qr.url

    @property
    def fields(self) -> MrzFields | None:
        return self.mrz.fields
