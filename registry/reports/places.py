"""Places in reports: a key of four numbers (0 where the level doesn't reach), the columns each level groups by,
and the places' names from the geography catalogue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from registry.models import GeoUnit, Process
from registry.states import GeoKind, ScopeKind

_COLUMNS = ("state_code", "district", "municipality", "seccion")
# What names a place at each level: a municipality spans districts, a sección is unique within its state.
_IDENTITY = {
    GeoKind.STATE: ("state_code",),
    GeoKind.DISTRICT: ("state_code", "district"),
    GeoKind.MUNICIPALITY: ("state_code", "municipality"),
    GeoKind.SECCION: ("state_code", "seccion"),
}
_DEFAULT_LABELS = {GeoKind.STATE: "Entidad {state_code}", GeoKind.DISTRICT: "Distrito {district}",
                   GeoKind.MUNICIPALITY: "Municipio {municipality}", GeoKind.SECCION: "Sección {seccion:04d}"}


@dataclass(frozen=True)
class PlaceKey:
    state_code: int
    district: int = 0
    municipality: int = 0
    seccion: int = 0

    @classmethod
    def of(cls, values: dict[str, object]) -> PlaceKey:
        return cls(*(int(values.get(name) or 0) for name in _COLUMNS))  # type: ignore[call-overload]

    @classmethod
    def maker(cls, columns: tuple[str, ...]) -> Callable[[Sequence[Any]], PlaceKey]:
        """A fast constructor from a row whose first values are `columns` (a report reads thousands of them)."""
        if columns == _COLUMNS:
            return lambda row: cls(row[0] or 0, row[1] or 0, row[2] or 0, row[3] or 0)
        positions = tuple(columns.index(name) if name in columns else None for name in _COLUMNS)
        return lambda row: cls(*(0 if at is None else row[at] or 0 for at in positions))

    @property
    def located(self) -> bool:
        return self.state_code != 0

    def sort_key(self) -> tuple[int, int, int, int]:
        return (self.state_code, self.district, self.municipality, self.seccion)

    def identity(self, level: GeoKind) -> PlaceKey:
        """The key with only what names a place of this level (a municipality's name, whatever its district)."""
        if level is GeoKind.SECCION:
            return PlaceKey(self.state_code, 0, 0, self.seccion)
        if level is GeoKind.MUNICIPALITY:
            return PlaceKey(self.state_code, 0, self.municipality, 0)
        return PlaceKey(self.state_code, self.district if level is GeoKind.DISTRICT else 0, 0, 0)

    def label(self, level: GeoKind) -> str:
        return _DEFAULT_LABELS[level].format(**{name: getattr(self, name) for name in _COLUMNS})

    def condition(self) -> tuple[str, dict[str, object]]:
        """SQL (AND ...) keeping the rows inside this place: each of its non-zero numbers must match."""
        kept = {name: getattr(self, name) for name in _COLUMNS if getattr(self, name)}
        sql = "".join(f" AND {name} = :within_{name}" for name in kept)
        return sql, {f"within_{name}": value for name, value in kept.items()}


def unit_columns(level: GeoKind, within: PlaceKey | None = None) -> tuple[str, ...]:
    """The columns a report at `level` groups by: the level's identity, plus the district when drilling down
    from one (a municipality's supports inside that district), and the whole path for a sección."""
    if level is GeoKind.SECCION:
        return _COLUMNS
    columns = _IDENTITY[level]
    if level is GeoKind.MUNICIPALITY and within is not None and within.district:
        return ("state_code", "district", "municipality")
    return columns


def scope_filter(process: Process) -> tuple[str, dict[str, object]]:
    """SQL (AND ...) keeping the places inside the process's territory."""
    key = PlaceKey(process.scope_state,
                   process.scope_district or 0 if process.scope_kind is ScopeKind.DISTRICT else 0,
                   process.scope_municipality or 0 if process.scope_kind is ScopeKind.MUNICIPALITY else 0)
    return key.condition()


def place_names(*, session: Session, state_code: int, level: GeoKind) -> dict[PlaceKey, str]:
    """Names by place identity (PlaceKey.identity) for one state and level; places not in the catalogue get a
    numbered label from the caller."""
    units = session.execute(sa_select(col(GeoUnit.state_code), col(GeoUnit.district), col(GeoUnit.municipality),
                                      col(GeoUnit.seccion), col(GeoUnit.name))
                            .where(col(GeoUnit.state_code) == state_code, col(GeoUnit.kind) == level)).all()
    make = PlaceKey.maker(_COLUMNS)
    return {make(unit).identity(level): unit[4] for unit in units}
