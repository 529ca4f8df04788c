"""Every figure a report shows, read from the counters (registry.reports.counters) and the roll's tally, never by
grouping the supports: a report answers in milliseconds at two million supports, and its columns always add up to
the supports sent (a support only moves between columns)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from registry.models import Aspirant, Process
from registry.reports.categories import CATEGORIES, OTRA_SITUACION, Category, category_of
from registry.reports.places import PlaceKey, place_names, scope_filter, unit_columns
from registry.states import GeoKind, SituacionRegistral, SupportStatus
from registry.verification.compulsa import current_roll


@dataclass
class Tally:
    """One row of any report: the supports sent, by category, and the "otra situación" column's breakdown."""

    counts: dict[Category, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    otra: dict[SituacionRegistral, int] = field(default_factory=lambda: dict.fromkeys(OTRA_SITUACION, 0))

    def add(self, status: str, situacion: str, n: int) -> None:
        category = category_of(status, situacion)
        self.counts[category] += n
        if category is Category.OTRA_SITUACION_REGISTRAL:
            self.otra[SituacionRegistral(situacion)] += n

    @classmethod
    def of_pivot(cls, values: Sequence[Any]) -> Tally:
        """From _PIVOT's sums: the columns in CATEGORIES' order, then the "otra situación" breakdown."""
        width = len(CATEGORIES)
        return cls(dict(zip(CATEGORIES, map(int, values[:width]), strict=True)),
                   dict(zip(OTRA_SITUACION, map(int, values[width:]), strict=True)))

    def merge(self, other: Tally) -> None:
        for category, n in other.counts.items():
            self.counts[category] += n
        for situacion, n in other.otra.items():
            self.otra[situacion] += n

    @property
    def enviados(self) -> int:
        return sum(self.counts.values())

    @property
    def en_lista_nominal(self) -> int:
        return self.counts[Category.EN_LISTA_NOMINAL]

    @property
    def duplicados_mismo_aspirante(self) -> int:
        return self.counts[Category.DUPLICADOS_MISMO_ASPIRANTE]

    @property
    def otra_situacion_registral(self) -> int:
        return self.counts[Category.OTRA_SITUACION_REGISTRAL]

    @property
    def con_inconsistencia(self) -> int:
        return self.counts[Category.CON_INCONSISTENCIA]

    @property
    def en_procesamiento(self) -> int:
        return self.counts[Category.EN_PROCESAMIENTO]

    @property
    def en_mesa_de_control(self) -> int:
        return self.counts[Category.EN_MESA_DE_CONTROL]

    def conserved(self) -> bool:
        return sum(self.otra.values()) == self.otra_situacion_registral and all(n >= 0 for n in self.counts.values())


def _pivot_sql() -> str:
    """One sum per column and per "otra situación" (Tally.of_pivot's order), so a report by sección reads one row
    per place, not one per place and standing (FILTER: PostgreSQL, and SQLite since 3.30). The conditions come
    from category_of: one rule, not two."""
    pairs = {(status, situacion) for status in SupportStatus for situacion in SituacionRegistral}

    def summed(chosen: set[tuple[SupportStatus, SituacionRegistral]]) -> str:
        arms = []
        for status in SupportStatus:
            mine = sorted(situacion.value for found, situacion in chosen if found is status)
            if len(mine) == len(SituacionRegistral):
                arms.append(f"status = '{status.value}'")
            elif mine:
                arms.append(f"(status = '{status.value}' AND situacion IN ({', '.join(repr(v) for v in mine)}))")
        return f"COALESCE(sum(n) FILTER (WHERE {' OR '.join(arms)}), 0)" if arms else "0"

    sums = [summed({pair for pair in pairs if category_of(*pair) is category}) for category in CATEGORIES]
    sums += [summed({pair for pair in pairs if category_of(*pair) is Category.OTRA_SITUACION_REGISTRAL
                     and pair[1] is situacion}) for situacion in OTRA_SITUACION]
    return ", ".join(sums)


_PIVOT = _pivot_sql()


@dataclass
class UnitProgress:
    key: PlaceKey
    name: str
    roll: int  # the unit's Lista Nominal
    required: int
    counted: int

    @property
    def met(self) -> bool:
        return self.counted >= self.required

    @property
    def missing(self) -> int:
        return max(0, self.required - self.counted)


@dataclass
class Dispersion:
    unit: GeoKind
    units_total: int
    units_needed: int
    units_met: int
    units: list[UnitProgress]

    @property
    def met(self) -> bool:
        return self.units_met >= self.units_needed


@dataclass
class Threshold:
    requeridos: int | None  # None: no roll in force and no roll size set for the process
    contados: int
    porcentaje: Decimal | None  # of the required supports, two decimals
    dispersion: Dispersion | None

    @property
    def met(self) -> bool:
        enough = self.requeridos is not None and self.contados >= self.requeridos
        return enough and (self.dispersion is None or self.dispersion.met)


@dataclass
class AspirantSummary:
    aspirant_id: int
    aspirante: str
    tally: Tally
    threshold: Threshold


@dataclass
class PlaceRow:
    key: PlaceKey
    name: str
    tally: Tally


@dataclass
class DayRow:
    day: date
    tally: Tally  # the supports received that day, as they stand now
    cumulative_enviados: int
    cumulative_en_lista_nominal: int


def _aspirant_filter(aspirant_id: int | None) -> tuple[str, dict[str, object]]:
    if aspirant_id is None:
        return "", {}
    return " AND aspirant_id = :aspirant", {"aspirant": aspirant_id}


def _tallies_by_aspirant(session: Session, process_id: int, aspirant_id: int | None) -> dict[int, Tally]:
    where, params = _aspirant_filter(aspirant_id)
    rows = session.execute(text(
        f"SELECT aspirant_id, status, situacion, sum(n) FROM reportdaycount WHERE process_id = :process{where} "
        f"GROUP BY aspirant_id, status, situacion"), {"process": process_id} | params).all()
    tallies: dict[int, Tally] = defaultdict(Tally)
    for aspirant, status, situacion, n in rows:
        tallies[aspirant].add(status, situacion, int(n))
    return tallies


def process_total(*, session: Session, process_id: int) -> Tally:
    total = Tally()
    for tally in _tallies_by_aspirant(session, process_id, None).values():
        total.merge(tally)
    return total


def summary(*, session: Session, process_id: int, aspirant_id: int | None = None) -> list[AspirantSummary]:
    """The Resumen por candidatura: one row per aspirant of the process (or the one asked for), in name order."""
    process = session.get(Process, process_id)
    if process is None:
        return []
    query = select(Aspirant).where(Aspirant.process_id == process_id).order_by(col(Aspirant.full_name),
                                                                               col(Aspirant.id))
    if aspirant_id is not None:
        query = query.where(Aspirant.id == aspirant_id)
    aspirants = list(session.exec(query))
    tallies = _tallies_by_aspirant(session, process_id, aspirant_id)
    units = _unit_rolls(session, process)
    counted = _valid_by_unit(session, process, aspirant_id)
    base = process.roll_size if process.roll_size is not None else sum(units.values()) if units else None
    names = (place_names(session=session, state_code=process.scope_state, level=process.dispersion_unit)
             if process.dispersion_unit is not None and units else {})
    rows = []
    for aspirant in aspirants:
        assert aspirant.id is not None
        tally = tallies.get(aspirant.id, Tally())
        dispersion = _dispersion(process, units, counted.get(aspirant.id, {}), names)
        rows.append(AspirantSummary(aspirant.id, aspirant.full_name, tally,
                                    _threshold(process, base, tally.en_lista_nominal, dispersion)))
    return rows


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _threshold(process: Process, base: int | None, counted: int, dispersion: Dispersion | None) -> Threshold:
    if not base:
        return Threshold(None, counted, None, dispersion)
    required = _ceil(Decimal(base) * Decimal(process.threshold_percent) / 100)
    share = Decimal(counted) * 100 / required if required else Decimal(100)
    return Threshold(required, counted, share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), dispersion)


def _unit_rolls(session: Session, process: Process) -> dict[PlaceKey, int]:
    """The Lista Nominal of each dispersion unit in the process's scope (each sección when no rule), from the
    tally of the roll in force."""
    roll = current_roll(session=session, opl_id=process.opl_id)
    if roll is None:
        return {}
    columns = unit_columns(process.dispersion_unit or GeoKind.SECCION)
    scope, params = scope_filter(process)
    rows = session.execute(text(
        f"SELECT {', '.join(columns)}, sum(vigentes) FROM rolltally WHERE roll_import_id = :roll{scope} "
        f"GROUP BY {', '.join(columns)}"), {"roll": roll.id} | params).all()
    make = PlaceKey.maker(columns)
    return {make(row): int(row[-1]) for row in rows}


def _valid_by_unit(session: Session, process: Process, aspirant_id: int | None) -> dict[int, dict[PlaceKey, int]]:
    if process.dispersion_unit is None:
        return {}
    columns = unit_columns(process.dispersion_unit)
    where, params = _aspirant_filter(aspirant_id)
    rows = session.execute(text(
        f"SELECT aspirant_id, {', '.join(columns)}, sum(n) FROM reportplacecount WHERE process_id = :process "
        f"AND status = :valid AND state_code <> 0{where} GROUP BY aspirant_id, {', '.join(columns)}"),
        {"process": process.id, "valid": SupportStatus.VALID.value} | params).all()
    found: dict[int, dict[PlaceKey, int]] = defaultdict(dict)
    make = PlaceKey.maker(columns)
    for row in rows:
        found[row[0]][make(row[1:])] = int(row[-1])
    return found


def _dispersion(process: Process, units: dict[PlaceKey, int], counted: dict[PlaceKey, int],
                names: dict[PlaceKey, str]) -> Dispersion | None:
    kind, share, percent = process.dispersion_unit, process.dispersion_min_share, process.dispersion_unit_percent
    if kind is None or share is None or percent is None or not units:
        return None
    progress = [UnitProgress(key, names.get(key.identity(kind), key.label(kind)), roll,
                             _ceil(Decimal(roll) * Decimal(percent) / 100), counted.get(key, 0))
                for key, roll in units.items()]
    progress.sort(key=lambda unit: (unit.met, -unit.missing, unit.key.sort_key()))
    return Dispersion(kind, len(progress), _ceil(Decimal(len(progress)) * Decimal(share)),
                      sum(1 for unit in progress if unit.met), progress)


def by_place(*, session: Session, process_id: int, aspirant_id: int | None, level: GeoKind,
             within: PlaceKey | None = None) -> list[PlaceRow]:
    """The supports by place at `level` (inside `within` when given), in key order; at the top level a last row
    with key 0 holds the supports not located yet (not verified, or not found in the roll), so the rows add up to
    every support sent."""
    process = session.get(Process, process_id)
    if process is None:
        return []
    columns = unit_columns(level, within)
    where, params = _aspirant_filter(aspirant_id)
    inside, inside_params = (within or PlaceKey(0, 0, 0, 0)).condition()
    grouped = ", ".join(columns)
    rows = session.execute(text(
        f"SELECT {grouped}, {_PIVOT} FROM reportplacecount WHERE process_id = :process{where}{inside} "
        f"GROUP BY {grouped} HAVING sum(n) <> 0"), {"process": process_id} | params | inside_params).all()
    make, width = PlaceKey.maker(columns), len(columns)
    tallies = {make(row): Tally.of_pivot(row[width:]) for row in rows}
    names = place_names(session=session, state_code=process.scope_state, level=level)
    located = [PlaceRow(key, names.get(key.identity(level), key.label(level)), tally)
               for key, tally in sorted(tallies.items(), key=lambda item: item[0].sort_key()) if key.located]
    unlocated = tallies.get(PlaceKey(0, 0, 0, 0))
    if within is None and unlocated is not None and unlocated.enviados:
        located.append(PlaceRow(PlaceKey(0, 0, 0, 0), "", unlocated))
    return located


def by_day(*, session: Session, process_id: int, aspirant_id: int | None) -> list[DayRow]:
    """Supports by the local day they were received: new that day (as they stand now) and cumulative."""
    where, params = _aspirant_filter(aspirant_id)
    rows = session.execute(text(
        f"SELECT day, status, situacion, sum(n) FROM reportdaycount WHERE process_id = :process{where} "
        f"GROUP BY day, status, situacion HAVING sum(n) <> 0"), {"process": process_id} | params).all()
    tallies: dict[date, Tally] = defaultdict(Tally)
    for day, status, situacion, n in rows:
        tallies[day if isinstance(day, date) else date.fromisoformat(str(day))].add(status, situacion, int(n))
    result, sent, counted = [], 0, 0
    for day in sorted(tallies):
        tally = tallies[day]
        sent, counted = sent + tally.enviados, counted + tally.en_lista_nominal
        result.append(DayRow(day, tally, sent, counted))
    return result


def summary_json(rows: list[AspirantSummary]) -> list[dict[str, object]]:
    """The command line's contract (`registro report summary --json`): one object per aspirant."""
    return [{
        "aspirante": row.aspirante,
        "enviados": row.tally.enviados,
        "en_lista_nominal": row.tally.en_lista_nominal,
        "duplicados_mismo_aspirante": row.tally.duplicados_mismo_aspirante,
        "otra_situacion_registral": row.tally.otra_situacion_registral,
        "con_inconsistencia": row.tally.con_inconsistencia,
        "en_procesamiento": row.tally.en_procesamiento,
        "en_mesa_de_control": row.tally.en_mesa_de_control,
        "requeridos": row.threshold.requeridos,
        "porcentaje": float(row.threshold.porcentaje) if row.threshold.porcentaje is not None else None,
        "otra_situacion_por_categoria": {situacion.value: n for situacion, n in row.tally.otra.items()},
    } for row in rows]
