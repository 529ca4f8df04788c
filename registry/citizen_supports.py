"""Registro Ciudadano, the citizen's own list of supports ("Mis apoyos" and each receipt) with each one's current
status, the mesa de control's reason when it found an inconsistency, and whether the citizen disowned it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.models import Aspirant, InconsistencyType, Process, ReviewDecision, Support, SupportFlag
from registry.states import ReviewFlag, SituacionRegistral, SupportStatus


@dataclass(frozen=True)
class MySupport:
    folio: str
    received_at: datetime
    aspirant_name: str
    office: str
    process_name: str
    status: SupportStatus
    situacion: SituacionRegistral
    inconsistency_es: str | None = None  # the mesa de control's reason, when it found one
    inconsistency_en: str | None = None
    disowned: bool = False  # the citizen reported they never gave it (registry.disown)

    @property
    def counts_for_aspirant(self) -> bool:
        return self.situacion is not SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE


def my_supports(*, session: Session, account_id: int, folio: str | None = None) -> list[MySupport]:
    """Only this citizen's own supports, newest first (or the one with `folio`): one query, each support's latest
    inconsistency and its disowned flag read beside it (they were a query each, and the receipt page after every
    support given paid for both)."""
    query = (sa.select(Support, Aspirant, Process, InconsistencyType, _DISOWNED)
             .join(Aspirant, col(Aspirant.id) == Support.aspirant_id)
             .join(Process, col(Process.id) == Support.process_id)
             .outerjoin(InconsistencyType, col(InconsistencyType.id) == _LATEST_INCONSISTENCY)
             .where(col(Support.citizen_account_id) == account_id))
    if folio is not None:
        query = query.where(col(Support.folio) == folio)
    rows = session.execute(query.order_by(col(Support.received_at).desc(), col(Support.id).desc())).all()
    return [replace(_mine(support, aspirant, process, reason), disowned=bool(disowned))
            for support, aspirant, process, reason, disowned in rows]


def _mine(support: Support, aspirant: Aspirant, process: Process,
          reason: InconsistencyType | None) -> MySupport:
    return MySupport(folio=support.folio, received_at=support.received_at, aspirant_name=aspirant.full_name,
                     office=process.office, process_name=process.name, status=support.status,
                     situacion=support.situacion_registral, inconsistency_es=reason.label_es if reason else None,
                     inconsistency_en=reason.label_en if reason else None)


# The mesa de control's latest decision that names an inconsistency (a later one overrides an earlier one).
_LATEST_INCONSISTENCY = (
    sa.select(col(ReviewDecision.inconsistency_id)).where(col(ReviewDecision.support_id) == col(Support.id),
                                                          col(ReviewDecision.inconsistency_id).is_not(None))
    .order_by(col(ReviewDecision.decided_at).desc(), col(ReviewDecision.id).desc()).limit(1)
    .correlate(Support).scalar_subquery()
)
# The citizen reported they never gave it (registry.disown).
_DISOWNED = sa.exists().where(col(SupportFlag.support_id) == col(Support.id),
                              col(SupportFlag.flag) == ReviewFlag.DISOWNED).correlate(Support)
