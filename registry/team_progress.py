"""An aspirant's team in numbers: each auxiliary's progress from the supports they captured, the aspirant's
totals, and the suspension flag (a support received before its auxiliary's latest suspension; see
`registry.team` for why it is derived, not stored)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.clock import as_utc
from registry.models import Aspirant, Auxiliary, Process, Support
from registry.states import NEEDS_REVIEW, SupportStatus


def suspension_flag(support: Support, auxiliary: Auxiliary | None) -> bool:
    """True when the support was received before its auxiliary's latest suspension: it stays, and the mesa de
    control should look at it closer."""
    if auxiliary is None or auxiliary.suspended_at is None:
        return False
    return as_utc(support.received_at) <= as_utc(auxiliary.suspended_at)


def _flagged_column() -> ColumnElement[bool]:
    return and_(col(Auxiliary.suspended_at).is_not(None), col(Support.received_at) <= col(Auxiliary.suspended_at))


@dataclass
class Progress:
    """Counts from the supports and their statuses. captured = sent + in_review + valid + rejected, where
    `sent` is what the server holds and has not reviewed or decided yet (received or being verified)."""

    captured: int = 0
    sent: int = 0
    in_review: int = 0
    valid: int = 0
    rejected: int = 0
    manual: int = 0  # captura manual: identifiers typed because the photo could not be read
    flagged: int = 0  # received before the auxiliary's latest suspension
    contested: int = 0  # of in_review: rejected, and the aspirant's objection waits for its answer

    @property
    def not_counting(self) -> int:
        """Rejected, with or without an objection (the garantía de audiencia's pages list them)."""
        return self.rejected + self.contested

    @property
    def pending(self) -> int:
        """Not yet known whether they count: received, being verified, or at the mesa de control."""
        return self.sent + self.in_review - self.contested

    def add(self, status: SupportStatus, count: int, *, manual: bool, flagged: bool) -> None:
        self.captured += count
        if status in NEEDS_REVIEW:
            self.in_review += count
        elif status is SupportStatus.VALID:
            self.valid += count
        elif status is SupportStatus.INVALID:
            self.rejected += count
        else:
            self.sent += count
        self.contested += count if status is SupportStatus.CONTESTED else 0
        self.manual += count if manual else 0
        self.flagged += count if flagged else 0


@dataclass(frozen=True)
class MemberProgress:
    auxiliary: Auxiliary
    progress: Progress
    flagged_by_suspension: bool


def team_progress(*, session: Session, aspirant_id: int) -> list[MemberProgress]:
    """Every auxiliary of the aspirant (in registration order) with their counts."""
    members = session.exec(select(Auxiliary).where(Auxiliary.aspirant_id == aspirant_id)
                           .order_by(col(Auxiliary.id))).all()
    counts: dict[int, Progress] = {member.id: Progress() for member in members if member.id is not None}
    for auxiliary_id, status, manual, flagged, count in _grouped_counts(session, aspirant_id):
        counts[auxiliary_id].add(status, count, manual=bool(manual), flagged=bool(flagged))
    return [MemberProgress(auxiliary=member, progress=counts[member.id] if member.id else Progress(),
                           flagged_by_suspension=member.suspended_at is not None) for member in members]


def _grouped_counts(session: Session, aspirant_id: int) -> list[tuple[int, SupportStatus, bool, bool, int]]:
    flagged = case((_flagged_column(), 1), else_=0)
    statement = (
        sa_select(col(Support.auxiliary_id), col(Support.status), col(Support.manual_capture), flagged,
                  func.count())
        .join(Auxiliary, col(Auxiliary.id) == col(Support.auxiliary_id))
        .where(col(Support.aspirant_id) == aspirant_id)
        .group_by(col(Support.auxiliary_id), col(Support.status), col(Support.manual_capture), flagged)
    )
    return [(int(a), SupportStatus(s), bool(m), bool(f), int(n)) for a, s, m, f, n in session.execute(statement).all()]


def aspirant_totals(*, session: Session, aspirant_id: int) -> Progress:
    """The same counts for every support of the aspirant, whatever the channel."""
    total = Progress()
    statement = (select(col(Support.status), col(Support.manual_capture), func.count())
                 .where(Support.aspirant_id == aspirant_id)
                 .group_by(col(Support.status), col(Support.manual_capture)))
    for status, manual, count in session.exec(statement).all():
        total.add(SupportStatus(status), int(count), manual=bool(manual), flagged=False)
    return total


@dataclass(frozen=True)
class AspirantView:
    aspirant: Aspirant
    process: Process


def aspirants_of(*, session: Session, aspirant_ids: frozenset[int]) -> list[AspirantView]:
    """The aspirant records the signed-in person manages, with their process."""
    rows = session.exec(select(Aspirant, Process).join(Process, col(Process.id) == col(Aspirant.process_id))
                        .where(col(Aspirant.id).in_(aspirant_ids)).order_by(col(Aspirant.id))).all()
    return [AspirantView(aspirant=aspirant, process=process) for aspirant, process in rows]
