"""The place report's drill-down, state → district → municipality → sección, as the query carries it
(`?estado=26&distrito=5&municipio=30`: INE's numeric keys, never a name), and the names of the places passed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from core.text import as_row_id
from registry.reports.places import PlaceKey, place_names
from registry.states import GeoKind

LEVELS = (GeoKind.STATE, GeoKind.DISTRICT, GeoKind.MUNICIPALITY, GeoKind.SECCION)
PLACE_PARAMS = ("estado", "distrito", "municipio")  # the drill-down's path, one number per level passed
MAX_PLACE_NUMBER = 99_999  # INE's keys: 32 states, 300 districts, 2,500 municipalities, 72,000 secciones


@dataclass(frozen=True)
class Drill:
    """Where the drill-down stands: the units listed (`level`) inside `within` (None: every state)."""

    level: GeoKind
    within: PlaceKey | None
    path: tuple[int, ...]  # the numbers passed: (), (state,), (state, district), (state, district, municipality)
    ignored: bool  # a number could not be read, so the drill-down stopped above it


def drill_of(query: Mapping[str, str]) -> Drill:
    """The drill-down from the query: each number passed goes one level down; the first one that cannot be read
    (or one after a gap) stops it there."""
    path: list[int] = []
    ignored = False
    for name in PLACE_PARAMS:
        raw = query.get(name)
        if raw is None or raw == "":
            break
        number = as_row_id(raw)
        if number is None or number > (32 if name == "estado" else MAX_PLACE_NUMBER):
            ignored = True
            break
        path.append(number)
    ignored = ignored or any(query.get(n) for n in PLACE_PARAMS[len(path) + 1:])
    padded = (*path, 0, 0, 0, 0)[:4]
    within = PlaceKey(*padded) if path else None
    return Drill(level=LEVELS[len(path)], within=within, path=tuple(path), ignored=ignored)


def path_names(session: Session, drill: Drill) -> list[str]:
    """The catalogue's name of each place passed (its numbered label where the catalogue has none)."""
    names = []
    for depth in range(len(drill.path)):
        level = LEVELS[depth]
        key = PlaceKey(*(*drill.path[: depth + 1], 0, 0, 0)[:4])
        known = place_names(session=session, state_code=key.state_code, level=level)
        names.append(known.get(key.identity(level), key.label(level)))
    return names
