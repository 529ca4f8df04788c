"""Garantía de audiencia, the reviewer's side: the answer to an aspirant's objection, at the second level of the
mesa de control. Upheld (procedente): the support counts again (valid, en_lista_nominal) and the compulsa leaves it
so. Dismissed (improcedente): the support is invalid again with the situación registral it had before it was
contested, read from its events. Either way the written answer is an event the aspirant sees, and an audit row."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from core.audit import record_audit
from registry.models import Objection, ReviewDecision
from registry.review.decisions import (
    DecisionRefused,
    Problem,
    checked_comment,
    give_up_claim,
    scoped_support,
    situacion_before,
)
from registry.states import (
    OPEN_OBJECTIONS,
    ObjectionState,
    ReviewLevel,
    SecondLook,
    SituacionRegistral,
    SupportStatus,
)
from registry.supports import record_transition


def open_objection(session: Session, support_id: int) -> Objection | None:
    return session.exec(select(Objection).where(Objection.support_id == support_id,
                                                col(Objection.state).in_(OPEN_OBJECTIONS))
                        .order_by(col(Objection.filed_at).desc(), col(Objection.id).desc())).first()


def answer_objection(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                     uphold: bool, answer: str, now: datetime) -> Objection:
    """Resolve the open objection on a contested support held by this reviewer (second level)."""
    support, _process = scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    written = checked_comment(answer, required=True, missing=Problem.ANSWER_REQUIRED)
    objection = open_objection(session, support_id)
    if objection is None or support.status is not SupportStatus.CONTESTED:
        raise DecisionRefused(Problem.NOT_CONTESTED)
    give_up_claim(session, support_id=support_id, reviewer_account_id=reviewer_account_id,
                  level=ReviewLevel.SECOND, now=now)
    objection.state = ObjectionState.UPHELD if uphold else ObjectionState.DISMISSED
    objection.resolved_by_account_id, objection.resolved_at, objection.resolution = reviewer_account_id, now, written
    session.add(objection)
    if uphold:
        record_transition(session=session, support=support, to_status=SupportStatus.VALID,
                          situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason=f"objeción procedente: {written}",
                          actor_account_id=reviewer_account_id, now=now)
    else:
        before = situacion_before(session, support_id=support_id, status_not=SupportStatus.CONTESTED)
        record_transition(session=session, support=support, to_status=SupportStatus.INVALID, situacion=before,
                          reason=f"objeción improcedente: {written}", actor_account_id=reviewer_account_id, now=now)
    _settle_double_checks(session, support_id, upheld=uphold)
    record_audit(session, action="objection_answered", actor_account_id=reviewer_account_id,
                 object_type="objection", object_id=objection.id, after=f"support={support_id} state={objection.state}")
    session.flush()
    return objection


def _settle_double_checks(session: Session, support_id: int, *, upheld: bool) -> None:
    """A decision waiting for a double check is settled by the answer: an upheld objection overturned it."""
    for decision in session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support_id,
                                                              ReviewDecision.second_look == SecondLook.PENDING)):
        decision.second_look = SecondLook.REVERSED if upheld else SecondLook.CONFIRMED
        session.add(decision)
