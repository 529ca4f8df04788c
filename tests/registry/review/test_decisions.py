"""First-level decisions, the OPL's request for a double check and the second reviewer's look: each needs the
reviewer's live claim, changes the support through one event, leaves an audit row without the comment, and refuses
bad input with nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import utcnow
from registry.catalogue import catalogue
from registry.models import InconsistencyType, ReviewClaim, ReviewDecision, Support, SupportEvent
from registry.review.claims import CLAIM_TTL
from registry.review.decisions import (
    DecisionRefused,
    NotFound,
    Problem,
    Verdict,
    decide,
    mark_double_check,
    second_look,
)
from registry.review.queue import QueueFilters, claim_first_level, claim_second_level
from registry.states import ReviewFlag, SecondLook, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories.review import Desk, in_review, make_desk


@pytest.fixture
def desk(session: Session) -> Desk:
    return make_desk(session)


def _held(session: Session, desk: Desk, reviewer: int | None = None, **kwargs: object) -> Support:
    support = in_review(session, desk, desk.people[0], **kwargs)  # type: ignore[arg-type]
    got = claim_first_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                            reviewer_account_id=reviewer or desk.reviewer_ids[0], filters=QueueFilters(),
                            now=utcnow())
    assert got == support.id
    return support


def _type(session: Session, desk: Desk, code: str) -> InconsistencyType:
    assert desk.opl.id is not None
    return next(kind for kind in catalogue(session=session, opl_id=desk.opl.id) if kind.code == code)


def _decide(session: Session, desk: Desk, support: Support, verdict: Verdict, reviewer: int | None = None) -> None:
    assert support.id is not None
    decide(session=session, support_id=support.id, opl_ids=desk.opl_ids,
           reviewer_account_id=reviewer or desk.reviewer_ids[0], verdict=verdict, now=utcnow())


def _events(session: Session, support: Support) -> list[SupportEvent]:
    return list(session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                             .order_by(col(SupportEvent.id))))


def test_valid_keeps_the_situacion_writes_an_event_and_an_audit_row_and_ends_the_claim(session: Session,
                                                                                       desk: Desk) -> None:
    support = _held(session, desk)
    _decide(session, desk, support, Verdict(valid=True))
    session.refresh(support)
    assert (support.status, support.situacion_registral) == (SupportStatus.VALID, SituacionRegistral.EN_LISTA_NOMINAL)
    last = _events(session, support)[-1]
    assert (last.from_status, last.to_status, last.actor_account_id) == (
        SupportStatus.IN_REVIEW, SupportStatus.VALID, desk.reviewer_ids[0])
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "review_decided")).one()
    assert audit.object_id == str(support.id) and "outcome=valid" in audit.after_summary
    assert session.exec(select(ReviewClaim)).all() == []
    decision = session.exec(select(ReviewDecision)).one()
    assert decision.second_look is None


def test_an_inconsistency_makes_it_invalid_with_its_label_and_comment_and_no_comment_in_the_audit(
        session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    photocopy = _type(session, desk, "fotocopia")
    _decide(session, desk, support, Verdict(valid=False, inconsistency_id=photocopy.id, comment="Se ve el papel"))
    session.refresh(support)
    assert (support.status, support.situacion_registral) == (SupportStatus.INVALID,
                                                             SituacionRegistral.CON_INCONSISTENCIA)
    assert _events(session, support)[-1].reason == "mesa de control: Fotocopia de la credencial. Se ve el papel"
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "review_decided")).one()
    assert "inconsistency=fotocopia" in audit.after_summary and "papel" not in audit.after_summary


def _refused(session: Session, desk: Desk, support: Support, verdict: Verdict, problem: Problem,
             reviewer: int | None = None) -> None:
    before = _events(session, support)
    # In a savepoint, as the web's transaction does: a refusal leaves nothing behind.
    with pytest.raises(DecisionRefused) as refused, session.begin_nested():
        _decide(session, desk, support, verdict, reviewer)
    assert refused.value.problem is problem
    session.refresh(support)
    assert support.status is SupportStatus.IN_REVIEW and _events(session, support) == before
    assert session.exec(select(ReviewDecision)).all() == []


@pytest.mark.parametrize(("comment", "problem"), [
    ("x" * 10_000, Problem.TEXT_TOO_LONG), ("con \x00 nulo", Problem.TEXT_CHARACTERS),
    ("   ", Problem.COMMENT_REQUIRED), ("\u202eal revés", Problem.TEXT_CHARACTERS)])
def test_bad_comments_are_refused_with_nothing_changed(session: Session, desk: Desk, comment: str,
                                                       problem: Problem) -> None:
    support = _held(session, desk)
    other = _type(session, desk, "otro")  # requires a comment
    _refused(session, desk, support, Verdict(valid=False, inconsistency_id=other.id, comment=comment), problem)


def test_an_unknown_or_another_opls_inconsistency_is_refused(session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    elsewhere = make_desk(session, reviewers=0)
    foreign = _type(session, elsewhere, "fotocopia")
    for inconsistency_id in (foreign.id, 2_147_483_647, None):
        problem = Problem.NO_CHOICE if inconsistency_id is None else Problem.UNKNOWN_INCONSISTENCY
        _refused(session, desk, support, Verdict(valid=False, inconsistency_id=inconsistency_id), problem)
    retired = _type(session, desk, "firma")
    retired.active = False
    session.add(retired)
    _refused(session, desk, support, Verdict(valid=False, inconsistency_id=retired.id),
             Problem.UNKNOWN_INCONSISTENCY)


def test_deciding_without_holding_the_item_or_after_it_was_decided_changes_nothing(session: Session,
                                                                                   desk: Desk) -> None:
    support = _held(session, desk)
    _refused(session, desk, support, Verdict(valid=True), Problem.NOT_HELD, reviewer=desk.reviewer_ids[1])
    # The claim expires and the other reviewer takes it over: the first one's late decision is refused.
    later = utcnow() + CLAIM_TTL + timedelta(seconds=5)
    assert claim_first_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                             reviewer_account_id=desk.reviewer_ids[1], filters=QueueFilters(), now=later) == support.id
    _refused(session, desk, support, Verdict(valid=True), Problem.NOT_HELD)
    # Meanwhile the compulsa (or anyone) decided it: refused whoever holds it.
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                      situacion=SituacionRegistral.BAJA, reason="compulsa", actor_account_id=None, now=utcnow())
    with pytest.raises(DecisionRefused) as refused:
        _decide(session, desk, support, Verdict(valid=True), reviewer=desk.reviewer_ids[1])
    assert refused.value.problem is Problem.NOT_IN_REVIEW


def test_another_opls_support_is_not_found(session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    elsewhere = make_desk(session, reviewers=1)
    assert support.id is not None
    with pytest.raises(NotFound):
        decide(session=session, support_id=support.id, opl_ids=elsewhere.opl_ids,
               reviewer_account_id=elsewhere.reviewer_ids[0], verdict=Verdict(valid=True), now=utcnow())


def test_a_support_the_citizen_disowned_needs_a_reason_to_count_and_a_second_reviewer(session: Session,
                                                                                     desk: Desk) -> None:
    support = _held(session, desk, flags=(ReviewFlag.DISOWNED,))
    _refused(session, desk, support, Verdict(valid=True), Problem.DISOWNED_NEEDS_COMMENT)
    _decide(session, desk, support, Verdict(valid=True, comment="La firma coincide con la credencial"))
    assert session.exec(select(ReviewDecision)).one().second_look is SecondLook.PENDING


def test_a_type_marked_for_double_check_sends_the_decision_to_the_second_level(session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    kind = _type(session, desk, "simulacion")
    kind.double_check = True
    session.add(kind)
    _decide(session, desk, support, Verdict(valid=False, inconsistency_id=kind.id))
    assert session.exec(select(ReviewDecision)).one().second_look is SecondLook.PENDING
    mine = claim_second_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                              reviewer_account_id=desk.reviewer_ids[0], now=utcnow())
    assert mine is None  # nobody double-checks their own decision
    assert claim_second_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                              reviewer_account_id=desk.reviewer_ids[1], now=utcnow()) == support.id


def _second(session: Session, desk: Desk, support: Support, verdict: Verdict, reviewer: int) -> SecondLook:
    assert support.id is not None
    assert claim_second_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                              reviewer_account_id=reviewer, now=utcnow()) == support.id
    return second_look(session=session, support_id=support.id, opl_ids=desk.opl_ids, reviewer_account_id=reviewer,
                       verdict=verdict, now=utcnow())


def test_the_opl_marks_a_decision_and_another_reviewer_reverses_it(session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    photocopy = _type(session, desk, "fotocopia")
    _decide(session, desk, support, Verdict(valid=False, inconsistency_id=photocopy.id))
    assert support.id is not None
    mark_double_check(session=session, support_id=support.id, opl_ids=desk.opl_ids,
                      actor_account_id=desk.reviewer_ids[1], now=utcnow())
    with pytest.raises(DecisionRefused) as again:
        mark_double_check(session=session, support_id=support.id, opl_ids=desk.opl_ids,
                          actor_account_id=desk.reviewer_ids[1], now=utcnow())
    assert again.value.problem is Problem.ALREADY_MARKED
    assert _second(session, desk, support, Verdict(valid=True), desk.reviewer_ids[1]) is SecondLook.REVERSED
    session.refresh(support)
    # Back to what the roll said before the inconsistency was recorded.
    assert (support.status, support.situacion_registral) == (SupportStatus.VALID, SituacionRegistral.EN_LISTA_NOMINAL)
    first, second = session.exec(select(ReviewDecision).order_by(col(ReviewDecision.id))).all()
    assert (first.second_look, second.level, second.outcome) == (SecondLook.REVERSED, "second", "valid")


def test_a_second_reviewer_confirms_with_the_same_verdict_and_nothing_moves(session: Session, desk: Desk) -> None:
    support = _held(session, desk)
    _decide(session, desk, support, Verdict(valid=True))
    assert support.id is not None
    mark_double_check(session=session, support_id=support.id, opl_ids=desk.opl_ids,
                      actor_account_id=desk.reviewer_ids[1], now=utcnow())
    events = len(_events(session, support))
    assert _second(session, desk, support, Verdict(valid=True), desk.reviewer_ids[1]) is SecondLook.CONFIRMED
    session.refresh(support)
    assert support.status is SupportStatus.VALID and len(_events(session, support)) == events
    assert len(session.exec(select(ReviewDecision)).all()) == 1
