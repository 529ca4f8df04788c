"""What an auxiliary sees of their own work: the teams they belong to and the supports they captured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from registry.models import Aspirant, Auxiliary, Opl, Process, Support
from registry.states import CAN_CAPTURE, InvitationState, SupportStatus


@dataclass(frozen=True)
class Membership:
    auxiliary_id: int
    aspirant_id: int
    aspirant_name: str
    process_name: str
    state: InvitationState
    office: str = ""
    opl_name: str = ""  # office and OPL: what the statement of will names

    @property
    def can_capture(self) -> bool:
        return self.state in CAN_CAPTURE


def memberships(*, session: Session, account_id: int) -> list[Membership]:
    rows = session.exec(
        select(Auxiliary, Aspirant, Process, Opl)
        .join(Aspirant, col(Aspirant.id) == col(Auxiliary.aspirant_id))
        .join(Process, col(Process.id) == col(Aspirant.process_id))
        .join(Opl, col(Opl.id) == col(Process.opl_id))
        .where(Auxiliary.account_id == account_id).order_by(col(Auxiliary.id))
    ).all()
    return [Membership(auxiliary_id=aux.id or 0, aspirant_id=asp.id or 0, aspirant_name=asp.full_name,
                       process_name=process.name, state=aux.state, office=process.office, opl_name=opl.name)
            for aux, asp, process, opl in rows]


@dataclass(frozen=True)
class OwnCapture:
    folio: str
    aspirant_name: str
    captured_at: datetime
    received_at: datetime
    status: SupportStatus
    manual_capture: bool
    device_time_suspect: bool


def own_captures(*, session: Session, account_id: int, limit: int = 100) -> list[OwnCapture]:
    """The signed-in auxiliary's own supports, newest first; never anybody else's."""
    rows = session.exec(
        select(Support, Aspirant)
        .join(Auxiliary, col(Auxiliary.id) == col(Support.auxiliary_id))
        .join(Aspirant, col(Aspirant.id) == col(Support.aspirant_id))
        .where(Auxiliary.account_id == account_id)
        .order_by(col(Support.received_at).desc(), col(Support.id).desc()).limit(limit)
    ).all()
    return [OwnCapture(folio=s.folio, aspirant_name=a.full_name, captured_at=s.captured_at,
                       received_at=s.received_at, status=s.status, manual_capture=s.manual_capture,
                       device_time_suspect=s.device_time_suspect) for s, a in rows]
