"""The reviewer's answer to an aspirant's objection: upheld, the support counts again; dismissed, it is invalid with
the situación it had before it was contested; either way with a written answer, an event and an audit row."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import utcnow
from registry.models import Objection, Support, SupportEvent
from registry.review.decisions import DecisionRefused, NotFound, Problem
from registry.review.objections import answer_objection
from registry.review.queue import claim_second_level
from registry.states import ObjectionState, SituacionRegistral, SupportStatus
from tests.factories.accounts import make_account
from tests.factories.review import Desk, contested, make_desk


@pytest.fixture
def desk(session: Session) -> Desk:
    return make_desk(session)


def _contested(session: Session, desk: Desk, situacion: SituacionRegistral = SituacionRegistral.BAJA,
               reviewer: int | None = None) -> tuple[Support, Objection]:
    aspirant_account = make_account(session, name="Aspirante", aspirant_id=desk.aspirant.id)
    assert aspirant_account.id is not None
    support, objection = contested(session, desk, filed_by_account_id=aspirant_account.id, situacion=situacion)
    assert claim_second_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                              reviewer_account_id=reviewer or desk.reviewer_ids[0], now=utcnow()) == support.id
    return support, objection


def _answer(session: Session, desk: Desk, support: Support, *, uphold: bool, answer: str,
            reviewer: int | None = None) -> Objection:
    assert support.id is not None
    return answer_objection(session=session, support_id=support.id, opl_ids=desk.opl_ids,
                            reviewer_account_id=reviewer or desk.reviewer_ids[0], uphold=uphold, answer=answer,
                            now=utcnow())


def _last_event(session: Session, support: Support) -> SupportEvent:
    return session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                        .order_by(col(SupportEvent.id).desc())).first()  # type: ignore[return-value]


def test_an_upheld_objection_makes_the_support_count(session: Session, desk: Desk) -> None:
    support, objection = _contested(session, desk)
    _answer(session, desk, support, uphold=True, answer="La credencial está vigente")
    session.refresh(support)
    session.refresh(objection)
    assert (support.status, support.situacion_registral) == (SupportStatus.VALID, SituacionRegistral.EN_LISTA_NOMINAL)
    assert (objection.state, objection.resolution, objection.resolved_by_account_id) == (
        ObjectionState.UPHELD, "La credencial está vigente", desk.reviewer_ids[0])
    assert _last_event(session, support).reason == "objeción procedente: La credencial está vigente"
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "objection_answered")).one()
    assert "state=upheld" in audit.after_summary and "vigente" not in audit.after_summary


def test_a_dismissed_objection_restores_the_situacion_it_had_before(session: Session, desk: Desk) -> None:
    support, objection = _contested(session, desk, SituacionRegistral.FUERA_DE_AMBITO)
    _answer(session, desk, support, uphold=False, answer="El domicilio está en otro estado")
    session.refresh(support)
    assert (support.status, support.situacion_registral) == (SupportStatus.INVALID,
                                                             SituacionRegistral.FUERA_DE_AMBITO)
    assert _last_event(session, support).reason == "objeción improcedente: El domicilio está en otro estado"
    session.refresh(objection)
    assert objection.state is ObjectionState.DISMISSED


@pytest.mark.parametrize(("answer", "problem"), [("", Problem.ANSWER_REQUIRED), ("  \n ", Problem.ANSWER_REQUIRED),
                                                 ("x" * 10_000, Problem.TEXT_TOO_LONG),
                                                 ("a\x00b", Problem.TEXT_CHARACTERS)])
def test_an_answer_is_required_and_checked(session: Session, desk: Desk, answer: str, problem: Problem) -> None:
    support, _objection = _contested(session, desk)
    with pytest.raises(DecisionRefused) as refused:
        _answer(session, desk, support, uphold=True, answer=answer)
    assert refused.value.problem is problem
    session.refresh(support)
    assert support.status is SupportStatus.CONTESTED


def test_an_objection_answered_meanwhile_or_not_held_changes_nothing(session: Session, desk: Desk) -> None:
    support, _objection = _contested(session, desk)
    with pytest.raises(DecisionRefused) as not_held:
        _answer(session, desk, support, uphold=True, answer="Sí", reviewer=desk.reviewer_ids[1])
    assert not_held.value.problem is Problem.NOT_HELD
    _answer(session, desk, support, uphold=False, answer="No procede")
    with pytest.raises(DecisionRefused) as answered:
        _answer(session, desk, support, uphold=True, answer="Sí procede")
    assert answered.value.problem is Problem.NOT_CONTESTED
    session.refresh(support)
    assert support.status is SupportStatus.INVALID


def test_another_opls_reviewer_cannot_answer(session: Session, desk: Desk) -> None:
    support, _objection = _contested(session, desk)
    elsewhere = make_desk(session, reviewers=1)
    assert support.id is not None
    with pytest.raises(NotFound):
        answer_objection(session=session, support_id=support.id, opl_ids=elsewhere.opl_ids,
                         reviewer_account_id=elsewhere.reviewer_ids[0], uphold=True, answer="Sí", now=utcnow())
