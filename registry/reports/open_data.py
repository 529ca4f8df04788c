"""Open data: each process's supports by municipality and by day, per aspirant, for anybody (no personal data).

Read from the report's figures (registry.reports.figures), never from the supports. What protects the citizens
of a small place or a quiet day (k is `REGISTRO_OPEN_DATA_MIN_CELL`):

- a count above 0 and below k is **suppressed**: published as "<k" (JSON: null, its column named in the row's
  `suprimidos`);
- every other count is **rounded down to a multiple of k** ("10" means 10 to 10 + k - 1);
- a row's total ("enviados") is **withheld** ("*"; JSON: null, named in `retenidos`) whenever one of its columns
  is suppressed, and no table publishes a column total or a cumulative series.

Why this and not "suppress a second cell": the same counts add up along several paths at once (a row's columns
to its total, the municipalities and the days to the same aspirant total), and a second cell hides only the one
sum it sits in. So no total is published next to a suppressed cell, and every other figure is a range: the only
sum left, a column by municipality against the same column by day, is a difference of ranges that leaves a
suppressed cell at least two possible values (with k of 4 or more; at 2 or 3 the ranges are too narrow). The
withholding depends only on which cells are suppressed, never on a hidden value, so "*" teaches nothing more.
tests/registry/reports/test_open_data.py checks both by enumerating small tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from registry.models import Aspirant, Process
from registry.reports.categories import CATEGORIES
from registry.reports.figures import Tally, by_day, by_place
from registry.states import GeoKind

# The published columns, in seed 000's order, after the total they add up to.
PARTS: tuple[str, ...] = tuple(category.value for category in CATEGORIES)
COLUMNS: tuple[str, ...] = ("enviados", *PARTS)


class Mark(StrEnum):
    PUBLISHED = "published"
    SMALL = "small"  # between 1 and k - 1: "<k"
    WITHHELD = "withheld"  # any size: hidden so that no sum gives a small cell back


@dataclass(frozen=True)
class Cell:
    """A count as published: the true count is not kept, so no page or file can show it by mistake."""

    value: int | None  # a multiple of k: the count is between it and k - 1 more (0 is exact); None unless PUBLISHED
    mark: Mark
    k: int

    @property
    def suppressed(self) -> bool:
        return self.mark is not Mark.PUBLISHED


def publish(count: int, k: int) -> Cell:
    if 0 < count < k:
        return Cell(None, Mark.SMALL, k)
    return Cell(k * (count // k), Mark.PUBLISHED, k)


@dataclass(frozen=True)
class MunicipalityRow:
    state_code: int  # 0 with municipality 0: supports not located yet (not verified, or not in the roll)
    municipality: int
    name: str
    cells: dict[str, Cell]


@dataclass(frozen=True)
class DayRow:
    day: date
    cells: dict[str, Cell]


@dataclass(frozen=True)
class AspirantData:
    aspirante: str
    municipios: list[MunicipalityRow]
    dias: list[DayRow]


@dataclass(frozen=True)
class ProcessData:
    process_id: int
    nombre: str
    cargo: str
    k: int
    aspirantes: list[AspirantData]


@dataclass(frozen=True)
class ProcessListing:
    process_id: int
    nombre: str
    cargo: str
    starts_at: date
    ends_at: date


def row_cells(total: int, parts: dict[str, int], k: int) -> dict[str, Cell]:
    """One published row: its parts, and its total withheld when a part is suppressed."""
    cells = {name: publish(count, k) for name, count in parts.items()}
    withheld = any(cell.suppressed for cell in cells.values())
    return {"enviados": Cell(None, Mark.WITHHELD, k) if withheld else publish(total, k)} | cells


def _cells(tally: Tally, k: int) -> dict[str, Cell]:
    return row_cells(tally.enviados, {category.value: tally.counts[category] for category in CATEGORIES}, k)


def open_processes(*, session: Session) -> list[ProcessListing]:
    processes = session.exec(select(Process).order_by(col(Process.starts_at).desc(), col(Process.id)))
    return [ProcessListing(p.id, p.name, p.office, p.starts_at.date(), p.ends_at.date())
            for p in processes if p.id is not None]


def process_data(*, session: Session, process_id: int, k: int) -> ProcessData | None:
    """Everything /datos/procesos/{id} publishes, or None for a process that does not exist."""
    process = session.get(Process, process_id)
    if process is None:
        return None
    aspirants = session.exec(select(Aspirant).where(Aspirant.process_id == process_id)
                             .order_by(col(Aspirant.full_name), col(Aspirant.id)))
    return ProcessData(process_id, process.name, process.office, k,
                       [_aspirant(session, process_id, aspirant, k) for aspirant in aspirants])


def _aspirant(session: Session, process_id: int, aspirant: Aspirant, k: int) -> AspirantData:
    places = by_place(session=session, process_id=process_id, aspirant_id=aspirant.id, level=GeoKind.MUNICIPALITY)
    days = by_day(session=session, process_id=process_id, aspirant_id=aspirant.id)
    return AspirantData(
        aspirant.full_name,
        [MunicipalityRow(row.key.state_code, row.key.municipality, row.name, _cells(row.tally, k))
         for row in places],
        [DayRow(row.day, _cells(row.tally, k)) for row in days])


# ---------------------------------------------------------------- machine-readable forms


def _json_cells(cells: dict[str, Cell]) -> dict[str, Any]:
    return {**{name: cell.value for name, cell in cells.items()},
            "suprimidos": [name for name, cell in cells.items() if cell.mark is Mark.SMALL],
            "retenidos": [name for name, cell in cells.items() if cell.mark is Mark.WITHHELD]}


def as_json(data: ProcessData) -> dict[str, Any]:
    return {
        "proceso": {"id": data.process_id, "nombre": data.nombre, "cargo": data.cargo},
        "k": data.k,
        "nota": (f"Cada conteo se redondea hacia abajo a un múltiplo de {data.k}: N significa de N a "
                 f"N + {data.k - 1}. Un conteo de 1 a {data.k - 1} se publica como null y su columna aparece "
                 "en 'suprimidos'; entonces el total ('enviados') de su renglón también es null y aparece en "
                 "'retenidos'."),
        "aspirantes": [{
            "aspirante": aspirant.aspirante,
            "por_municipio": [{"estado": row.state_code, "municipio": row.municipality, "nombre": row.name,
                               **_json_cells(row.cells)} for row in aspirant.municipios],
            "por_dia": [{"dia": row.day.isoformat(), **_json_cells(row.cells)} for row in aspirant.dias],
        } for aspirant in data.aspirantes],
    }


def shown(cell: Cell) -> str | int:
    """A cell as the page and the CSV write it."""
    if cell.mark is Mark.SMALL:
        return f"<{cell.k}"
    if cell.mark is Mark.WITHHELD:
        return "*"
    return cell.value or 0


def municipality_table(data: ProcessData) -> tuple[list[str], list[list[str | int]]]:
    header = ["aspirante", "estado", "municipio", "nombre_municipio", *COLUMNS]
    rows = [[aspirant.aspirante, row.state_code, row.municipality, row.name,
             *(shown(row.cells[name]) for name in COLUMNS)]
            for aspirant in data.aspirantes for row in aspirant.municipios]
    return header, rows


def day_table(data: ProcessData) -> tuple[list[str], list[list[str | int]]]:
    header = ["aspirante", "dia", *COLUMNS]
    rows = [[aspirant.aspirante, row.day.isoformat(), *(shown(row.cells[name]) for name in COLUMNS)]
            for aspirant in data.aspirantes for row in aspirant.dias]
    return header, rows
