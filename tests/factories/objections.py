"""Factories for the garantía de audiencia: rejected supports (as the compulsa or the mesa de control leaves them)
and the reviewer's answer to an objection."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from core.clock import utcnow
from registry.catalogue import catalogue
from registry.models import Aspirant, Process, ReviewDecision, Support
from registry.review.objections import answer_objection
from registry.review.queue import claim_second_level
from registry.states import Channel, ReviewOutcome, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories import add
from tests.factories.roll import place_support


def rejected_support(session: Session, *, aspirant: Aspirant,
                     situacion: SituacionRegistral = SituacionRegistral.DATOS_NO_ENCONTRADOS,
                     channel: Channel = Channel.AUXILIARY, cic: str | None = None, clave_elector: str | None = None,
                     ocr: str | None = None, received_at: datetime | None = None) -> Support:
    """A support the compulsa found not counting (invalid with its category)."""
    assert aspirant.id is not None
    support = place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id,
                            cic=cic or "123456789", clave_elector=clave_elector, ocr=ocr, channel=channel,
                            received_at=received_at)
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID, situacion=situacion,
                      reason="Compulsa con la Lista Nominal: no cuenta", actor_account_id=None,
                      now=(received_at or utcnow()) + timedelta(minutes=1))
    session.flush()
    return support


def valid_support(session: Session, *, aspirant: Aspirant) -> Support:
    assert aspirant.id is not None
    support = place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic="987654321")
    record_transition(session=session, support=support, to_status=SupportStatus.VALID,
                      situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="en lista nominal",
                      actor_account_id=None, now=utcnow())
    session.flush()
    return support


def inconsistent_support(session: Session, *, aspirant: Aspirant, reviewer_account_id: int, code: str = "fotocopia",
                         comment: str = "") -> Support:
    """A support the mesa de control rejected with an inconsistency of the OPL's catalogue."""
    process = session.get(Process, aspirant.process_id)
    assert process is not None
    kind = next(k for k in catalogue(session=session, opl_id=process.opl_id) if k.code == code)
    support = rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.CON_INCONSISTENCIA)
    assert support.id is not None
    add(session, ReviewDecision(support_id=support.id, reviewer_account_id=reviewer_account_id,
                                outcome=ReviewOutcome.INVALID, inconsistency_id=kind.id, comment=comment))
    return support


def uphold(session: Session, *, support: Support, reviewer_account_id: int, resolution: str,
           now: datetime | None = None) -> None:
    """The reviewer takes the contested support from the second-level queue and upholds its objection, through
    the desk's own services (registry.review)."""
    now = now or utcnow()
    process = session.get(Process, support.process_id)
    assert process is not None and support.id is not None
    claimed = claim_second_level(session=session, process_id=support.process_id, opl_ids={process.opl_id},
                                 reviewer_account_id=reviewer_account_id, now=now)
    assert claimed == support.id, "the test's one contested support is the one the reviewer receives"
    answer_objection(session=session, support_id=support.id, opl_ids={process.opl_id},
                     reviewer_account_id=reviewer_account_id, uphold=True, answer=resolution, now=now)
    session.flush()
    session.refresh(support)
