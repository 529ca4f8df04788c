"""A process as the OPL admin types it (the page's form or one row of a file): every field a string, checked at
once into typed values or a list of problems by field. Local date-times are America/Mexico_City (where the
OPLs work) and come back in UTC, the way they are stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from core.clock import MEXICO_CITY
from core.text import TextRefusal, required_text
from registry.states import GeoKind, ScopeKind

MAX_TEXT = 200
MAX_UNIT_NUMBER = 999  # districts and municipalities of a state are numbered in the hundreds at most
MAX_ROLL_SIZE = 200_000_000  # the whole country's Lista Nominal is under 100 million
MAX_INTERVAL_SECONDS = 3600
MAX_PAPER_MUNICIPALITIES = 600  # Oaxaca, the state with most municipalities, has 570
FIRST_YEAR, LAST_YEAR = 2000, 2100
_NUMBER = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{1,6})?")
_LOCAL = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::[0-9]{2})?)?")
SCOPES = {"estado": ScopeKind.STATE, "distrito": ScopeKind.DISTRICT, "municipio": ScopeKind.MUNICIPALITY}
UNITS = {"distrito": GeoKind.DISTRICT, "municipio": GeoKind.MUNICIPALITY, "seccion": GeoKind.SECCION}


class Problem(StrEnum):
    """Why a field was refused; the web layer words each one in Spanish."""

    MISSING = "missing"
    TOO_LONG = "too_long"
    CHARACTERS = "characters"  # control, bidi or zero-width characters (core.text)
    CHOICE = "choice"  # not one of the listed options
    NUMBER = "number"  # not a whole number in range
    PERCENT = "percent"  # not a percentage in range
    DATE = "date"  # not a date-time, or a year out of range
    END_BEFORE_START = "end_before_start"
    NOT_FOR_SCOPE = "not_for_scope"  # a district or municipality number where the scope takes none
    DISPERSION_INCOMPLETE = "dispersion_incomplete"  # a unit without its shares, or shares without a unit
    MUNICIPALITY_LIST = "municipality_list"
    NAME_TAKEN = "name_taken"  # another process of the OPL has this name
    SCOPE_LOCKED = "scope_locked"  # the process already has supports: changing its scope would move them
    PAPER_IN_USE = "paper_in_use"  # paper supports from this municipality were already received


_TEXT_PROBLEMS = {TextRefusal.CHARACTERS: Problem.CHARACTERS, TextRefusal.MISSING: Problem.MISSING,
                  TextRefusal.TOO_LONG: Problem.TOO_LONG}


@dataclass(frozen=True)
class ProcessForm:
    """The typed strings; form field names in Spanish are the file's column names too."""

    nombre: str = ""
    cargo: str = ""
    ambito: str = "estado"
    distrito: str = ""
    municipio: str = ""
    inicio: str = ""
    fin: str = ""
    umbral_porcentaje: str = ""
    unidad_dispersion: str = ""
    dispersion_minima_porcentaje: str = ""
    dispersion_porcentaje_por_unidad: str = ""
    lista_nominal: str = ""
    municipios_papel: str = ""
    muestra_revision_porcentaje: str = "0"
    ritmo_captura_segundos: str = "30"
    objeciones_inicio: str = ""
    objeciones_fin: str = ""


FIELDS = tuple(ProcessForm.__dataclass_fields__)
REQUIRED_COLUMNS = ("nombre", "cargo", "ambito", "inicio", "fin", "umbral_porcentaje")


@dataclass(frozen=True)
class ProcessValues:
    name: str
    office: str
    scope_kind: ScopeKind
    scope_district: int | None
    scope_municipality: int | None
    starts_at: datetime
    ends_at: datetime
    threshold_percent: Decimal
    dispersion_unit: GeoKind | None
    dispersion_min_share: Decimal | None  # a fraction of the units, as the model stores it
    dispersion_unit_percent: Decimal | None
    roll_size: int | None
    paper_municipalities: frozenset[int]
    review_sample_percent: int
    capture_interval_seconds: int
    objections_open_at: datetime | None
    objections_close_at: datetime | None


@dataclass
class InvalidProcess(Exception):
    problems: dict[str, Problem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(", ".join(f"{name}:{problem}" for name, problem in self.problems.items()))


def validate_process(form: ProcessForm) -> ProcessValues:
    """The typed values; raises InvalidProcess naming every field with a problem."""
    problems: dict[str, Problem] = {}
    check = _Checker(form, problems)
    scope = SCOPES.get(form.ambito.strip().lower())
    if scope is None:
        problems["ambito"] = Problem.CHOICE
    district = check.unit("distrito", wanted=scope is ScopeKind.DISTRICT)
    municipality = check.unit("municipio", wanted=scope is ScopeKind.MUNICIPALITY)
    starts, ends = check.moment("inicio", required=True), check.moment("fin", required=True)
    check.order(starts, ends, "fin")
    opens, closes = check.moment("objeciones_inicio"), check.moment("objeciones_fin")
    check.order(opens, closes, "objeciones_fin")
    unit, share, per_unit = check.dispersion()
    values = ProcessValues(
        name=check.text("nombre"), office=check.text("cargo"), scope_kind=scope or ScopeKind.STATE,
        scope_district=district, scope_municipality=municipality, starts_at=starts or _EPOCH, ends_at=ends or _EPOCH,
        threshold_percent=check.percent("umbral_porcentaje", required=True) or Decimal(0),
        dispersion_unit=unit, dispersion_min_share=share, dispersion_unit_percent=per_unit,
        roll_size=check.number("lista_nominal", 1, MAX_ROLL_SIZE),
        paper_municipalities=check.municipalities(),
        review_sample_percent=check.number("muestra_revision_porcentaje", 0, 100) or 0,
        capture_interval_seconds=check.number("ritmo_captura_segundos", 1, MAX_INTERVAL_SECONDS) or 30,
        objections_open_at=opens, objections_close_at=closes)
    if problems:
        raise InvalidProcess(problems)
    return values


_EPOCH = datetime(2000, 1, 1, tzinfo=MEXICO_CITY)


@dataclass
class _Checker:
    form: ProcessForm
    problems: dict[str, Problem]

    def raw(self, name: str) -> str:
        return str(getattr(self.form, name)).strip()

    def text(self, name: str) -> str:
        value, refused = required_text(self.raw(name), MAX_TEXT)
        if refused is not None:
            self.problems[name] = _TEXT_PROBLEMS[refused]
        return value

    def number(self, name: str, low: int, high: int, *, required: bool = False) -> int | None:
        raw = self.raw(name).replace(",", "").replace(" ", "")
        if not raw:
            if required:
                self.problems[name] = Problem.MISSING
            return None
        if not _NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            self.problems[name] = Problem.NUMBER
            return None
        return int(raw)

    def unit(self, name: str, *, wanted: bool) -> int | None:
        if not wanted:
            if self.raw(name):
                self.problems[name] = Problem.NOT_FOR_SCOPE
            return None
        return self.number(name, 1, MAX_UNIT_NUMBER, required=True)

    def percent(self, name: str, *, required: bool = False, places: int = 3) -> Decimal | None:
        raw = self.raw(name).removesuffix("%").strip()
        if not raw:
            if required:
                self.problems[name] = Problem.MISSING
            return None
        if not _DECIMAL.fullmatch(raw):
            self.problems[name] = Problem.PERCENT
            return None
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            value = Decimal(-1)
        if not Decimal(0) < value <= Decimal(100) or value != round(value, places):
            self.problems[name] = Problem.PERCENT
            return None
        return value

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        raw = self.raw(name)
        if not raw:
            if required:
                self.problems[name] = Problem.MISSING
            return None
        found = _LOCAL.fullmatch(raw)
        try:
            assert found is not None
            year, month, day, hour, minute = (int(part) if part else 0 for part in found.groups())
            if not FIRST_YEAR <= year <= LAST_YEAR:
                raise ValueError(year)
            return datetime(year, month, day, hour, minute, tzinfo=MEXICO_CITY).astimezone(UTC)
        except (AssertionError, ValueError):
            self.problems[name] = Problem.DATE
            return None

    def order(self, first: datetime | None, last: datetime | None, name: str) -> None:
        if first is not None and last is not None and last <= first:
            self.problems.setdefault(name, Problem.END_BEFORE_START)

    def dispersion(self) -> tuple[GeoKind | None, Decimal | None, Decimal | None]:
        raw = self.raw("unidad_dispersion").lower()
        unit = UNITS.get(raw)
        if raw and unit is None:
            self.problems["unidad_dispersion"] = Problem.CHOICE
        share = self.percent("dispersion_minima_porcentaje", places=2)
        per_unit = self.percent("dispersion_porcentaje_por_unidad")
        given = [self.raw("dispersion_minima_porcentaje"), self.raw("dispersion_porcentaje_por_unidad")]
        if unit is not None and not all(given):
            self.problems.setdefault("unidad_dispersion", Problem.DISPERSION_INCOMPLETE)
        if not raw and any(given):
            self.problems["unidad_dispersion"] = Problem.DISPERSION_INCOMPLETE
        return unit, (share / 100 if share is not None else None), per_unit

    def municipalities(self) -> frozenset[int]:
        parts = [part.strip() for part in re.split(r"[,;\s]+", self.raw("municipios_papel")) if part.strip()]
        if len(parts) > MAX_PAPER_MUNICIPALITIES or not all(
                _NUMBER.fullmatch(part) and 1 <= int(part) <= MAX_UNIT_NUMBER for part in parts):
            self.problems["municipios_papel"] = Problem.MUNICIPALITY_LIST
            return frozenset()
        return frozenset(int(part) for part in parts)

