"""One item of the mesa de control as the reviewer sees it: the support, what was read or typed, the evidence it
has, the roll entry it matched (from the roll in force, by the citizen the compulsa found), its flags, its
history, the decisions and the open objection, and whether the viewer holds it (showing it renews the claim)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from registry.catalogue import catalogue
from registry.evidence import evidence_images, support_in_opls
from registry.models import (
    Aspirant,
    Auxiliary,
    CredentialReading,
    InconsistencyType,
    Objection,
    PaperForm,
    Process,
    ReviewClaim,
    ReviewDecision,
    RollEntry,
    Support,
    SupportEvent,
    SupportFlag,
)
from registry.review import claims
from registry.review.objections import open_objection
from registry.review.queue import NotInScope
from registry.states import ImageKind, ReviewLevel, SecondLook
from registry.verification.compulsa import current_roll

SHOWN_IMAGES = (ImageKind.BACK, ImageKind.FRONT, ImageKind.LIVE_PHOTO, ImageKind.SIGNATURE, ImageKind.PAPER_FORM)


@dataclass(frozen=True)
class ItemView:
    support: Support
    process: Process
    reading: CredentialReading | None
    aspirant_name: str
    auxiliary_name: str | None
    images: list[ImageKind]
    roll: RollEntry | None
    flags: list[SupportFlag]
    events: list[SupportEvent]
    catalogue: list[InconsistencyType]
    labels: dict[int, InconsistencyType]  # every inconsistency a decision on this item names
    decisions: list[ReviewDecision]
    held: ReviewLevel | None  # the viewer's unexpired claim on it
    holder_is_other: bool  # someone else holds it now
    objection: Objection | None
    paper: PaperForm | None

    @property
    def pending_check(self) -> ReviewDecision | None:
        return next((d for d in reversed(self.decisions) if d.second_look is SecondLook.PENDING), None)


def item_view(*, session: Session, support_id: int, opl_ids: Collection[int], viewer_account_id: int,
              now: datetime) -> ItemView:
    support = support_in_opls(session=session, support_id=support_id, opl_ids=opl_ids)
    if support is None or support.id is None:
        raise NotInScope
    process = session.get(Process, support.process_id)
    assert process is not None
    if claims.renew(session, support_id=support.id, reviewer_account_id=viewer_account_id, now=now):
        session.flush()
    claim = session.get(ReviewClaim, support.id, populate_existing=True)
    live = claim if claim is not None and claim.expires_at > now else None
    held = live.level if live is not None and live.reviewer_account_id == viewer_account_id else None
    decisions = list(session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support.id)
                                  .order_by(col(ReviewDecision.decided_at), col(ReviewDecision.id))))
    types = catalogue(session=session, opl_id=process.opl_id)
    named = {d.inconsistency_id for d in decisions if d.inconsistency_id is not None}
    labels = {t.id: t for t in session.exec(select(InconsistencyType).where(col(InconsistencyType.id).in_(named)))
              if t.id is not None} if named else {}
    return ItemView(
        support=support, process=process, reading=session.get(CredentialReading, support.reading_id),
        aspirant_name=_name(session.get(Aspirant, support.aspirant_id)),
        auxiliary_name=_name(session.get(Auxiliary, support.auxiliary_id)) if support.auxiliary_id else None,
        images=[kind for kind in SHOWN_IMAGES if kind in evidence_images(session=session, support=support)],
        roll=_roll_entry(session, process, support), flags=_flags(session, support.id),
        events=list(session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                                 .order_by(col(SupportEvent.at), col(SupportEvent.id)))),
        catalogue=types, labels=labels, decisions=decisions, held=held,
        holder_is_other=live is not None and held is None, objection=open_objection(session, support.id),
        paper=session.exec(select(PaperForm).where(PaperForm.support_id == support.id)).first())


def _name(row: Aspirant | Auxiliary | None) -> str:
    return row.full_name if row is not None else ""


def _flags(session: Session, support_id: int) -> list[SupportFlag]:
    return list(session.exec(select(SupportFlag).where(SupportFlag.support_id == support_id)
                             .order_by(col(SupportFlag.at))))


def _roll_entry(session: Session, process: Process, support: Support) -> RollEntry | None:
    """The citizen the compulsa matched, as the roll in force has them (None: not found, or not verified yet)."""
    roll = current_roll(session=session, opl_id=process.opl_id)
    if roll is None or not support.citizen_key:
        return None
    # citizen_key is the blind index of the roll's clave de elector (personal columns are sealed at rest)
    return session.exec(select(RollEntry).where(RollEntry.roll_import_id == roll.id,
                                                RollEntry.clave_elector_bidx == support.citizen_key)).first()
