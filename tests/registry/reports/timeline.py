"""The naive oracle the "what changed" tests compare against: every support's standing at a moment rebuilt in
Python from all its events (no index, no counter, no SQL cleverness), and a report cell's members from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.clock import as_utc
from registry.models import Support, SupportEvent
from registry.reports.categories import Category, category_of
from registry.reports.places import PlaceKey
from registry.states import SituacionRegistral, SupportStatus

NOWHERE = PlaceKey(0, 0, 0, 0)


@dataclass(frozen=True)
class Stood:
    status: SupportStatus
    situacion: SituacionRegistral
    place: PlaceKey

    @property
    def category(self) -> Category:
        return category_of(self.status, self.situacion)


def standings_at(session: Session, process_id: int, moment: datetime) -> dict[int, Stood]:
    """Each support of the process received by `moment`: where its last event at or before it left it."""
    rows = session.exec(select(SupportEvent).join(Support, col(Support.id) == col(SupportEvent.support_id))
                        .where(Support.process_id == process_id)).all()
    last: dict[int, SupportEvent] = {}
    for event in sorted(rows, key=lambda e: (as_utc(e.at), e.id)):
        if as_utc(event.at) <= as_utc(moment):
            last[event.support_id] = event
    return {support_id: Stood(e.to_status, e.situacion_registral,
                              PlaceKey(e.state_code or 0, e.district or 0, e.municipality or 0, e.seccion or 0))
            for support_id, e in last.items()}


def inside(stood: Stood, *, category: Category | None = None, situacion: SituacionRegistral | None = None,
           place: PlaceKey | None = None) -> bool:
    if category is not None and stood.category is not category:
        return False
    if situacion is not None and stood.situacion is not situacion:
        return False
    if place == NOWHERE:
        return not stood.place.located
    if place is not None:
        return all(not want or want == got for want, got in zip(place.sort_key(), stood.place.sort_key(),
                                                                  strict=True))
    return True


def members(standings: dict[int, Stood], aspirants: dict[int, int], aspirant_id: int | None = None,
            **cell: object) -> set[int]:
    """The supports in the cell (`aspirants`: support id -> aspirant id)."""
    return {support_id for support_id, stood in standings.items()
            if (aspirant_id is None or aspirants[support_id] == aspirant_id) and inside(stood, **cell)}  # type: ignore[arg-type]


def aspirant_of_supports(session: Session, process_id: int) -> dict[int, int]:
    return {s.id: s.aspirant_id for s in session.exec(select(Support).where(Support.process_id == process_id))
            if s.id is not None}
