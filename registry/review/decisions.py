"""Decisions at the mesa de control: a reviewer's first look at a support in review (valid, or one inconsistency
of the OPL's catalogue with a comment where the type asks for one), the OPL's request for a double check of a
decision, and the second reviewer's confirmation or reversal.

Every decision needs the reviewer's unexpired claim on the item, and gives it up in the same statement that checks
it (a conditional DELETE): a reviewer whose claim expired and was taken by someone else changes nothing. Every
change of status goes through registry.supports.record_transition (an event) and leaves an audit row that names
the outcome and the inconsistency's code, never the comment (it may quote the citizen)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.audit import record_audit
from core.text import unsafe_character
from registry.evidence import support_in_opls
from registry.models import InconsistencyType, Process, ReviewClaim, ReviewDecision, Support, SupportEvent, SupportFlag
from registry.states import (
    ReviewFlag,
    ReviewLevel,
    ReviewOutcome,
    SecondLook,
    SituacionRegistral,
    SupportStatus,
)
from registry.supports import record_transition

COMMENT_MAX_CHARS = 2000  # ReviewDecision.comment and Objection.resolution


class Problem(StrEnum):
    NOT_HELD = "not_held"  # no unexpired claim of this reviewer on the item (expired, taken over, never held)
    NOT_IN_REVIEW = "not_in_review"  # decided meanwhile (by another reviewer or the compulsa)
    NO_CHOICE = "no_choice"
    UNKNOWN_INCONSISTENCY = "unknown_inconsistency"  # not in the OPL's active catalogue (another OPL's included)
    COMMENT_REQUIRED = "comment_required"
    DISOWNED_NEEDS_COMMENT = "disowned_needs_comment"
    TEXT_TOO_LONG = "text_too_long"
    TEXT_CHARACTERS = "text_characters"
    ANSWER_REQUIRED = "answer_required"
    NOTHING_TO_CHECK = "nothing_to_check"  # no decision waits for a double check
    OWN_DECISION = "own_decision"  # a double check is another reviewer's
    NOT_DECIDED = "not_decided"  # no decision to mark for a double check
    ALREADY_MARKED = "already_marked"
    NOT_CONTESTED = "not_contested"  # no open objection (answered meanwhile)


class NotFound(Exception):
    """No such support in the reviewer's OPLs: the page answers 404."""


class DecisionRefused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Verdict:
    """What the reviewer chose: valid, or the id of an inconsistency type; and the comment typed."""

    valid: bool
    inconsistency_id: int | None = None
    comment: str = ""


# ---------------------------------------------------------------- shared checks


def checked_comment(text: str, *, required: bool = False, missing: Problem = Problem.COMMENT_REQUIRED) -> str:
    cleaned = " ".join(text.split())
    if unsafe_character(cleaned) is not None:
        raise DecisionRefused(Problem.TEXT_CHARACTERS)
    if len(cleaned) > COMMENT_MAX_CHARS:
        raise DecisionRefused(Problem.TEXT_TOO_LONG)
    if required and not cleaned:
        raise DecisionRefused(missing)
    return cleaned


def scoped_support(session: Session, *, support_id: int, opl_ids: Collection[int]) -> tuple[Support, Process]:
    """The support (its row locked until the transaction ends, on PostgreSQL) when it is in these OPLs."""
    if support_in_opls(session=session, support_id=support_id, opl_ids=opl_ids) is None:
        raise NotFound
    support = session.exec(select(Support).where(Support.id == support_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    process = session.get(Process, support.process_id)
    assert process is not None
    return support, process


def give_up_claim(session: Session, *, support_id: int, reviewer_account_id: int, level: ReviewLevel,
                  now: datetime) -> None:
    """End this reviewer's unexpired claim on the item; refuses when there is none (the check and the release are
    one statement, so two reviewers can never both pass it)."""
    released = session.execute(
        delete(ReviewClaim).where(col(ReviewClaim.support_id) == support_id,
                                  col(ReviewClaim.reviewer_account_id) == reviewer_account_id,
                                  col(ReviewClaim.level) == level, col(ReviewClaim.expires_at) > now)
        .execution_options(synchronize_session=False))
    if not released.rowcount:  # type: ignore[attr-defined]
        raise DecisionRefused(Problem.NOT_HELD)


def situacion_before(session: Session, *, support_id: int, status_not: SupportStatus | None = None,
                     situacion_not: SituacionRegistral | None = None) -> SituacionRegistral:
    """The situación registral of the support's latest event that is not of that status or situación: what it
    was before it was contested, or before an inconsistency was recorded."""
    query = select(SupportEvent).where(SupportEvent.support_id == support_id)
    if status_not is not None:
        query = query.where(SupportEvent.to_status != status_not)
    if situacion_not is not None:
        query = query.where(SupportEvent.situacion_registral != situacion_not)
    event = session.exec(query.order_by(col(SupportEvent.at).desc(), col(SupportEvent.id).desc())).first()
    return event.situacion_registral if event is not None else SituacionRegistral.SIN_VERIFICAR


def _inconsistency(session: Session, *, opl_id: int, verdict: Verdict) -> InconsistencyType | None:
    if verdict.valid:
        return None
    if verdict.inconsistency_id is None:
        raise DecisionRefused(Problem.NO_CHOICE)
    found = session.get(InconsistencyType, verdict.inconsistency_id)
    if found is None or found.opl_id != opl_id or not found.active:
        raise DecisionRefused(Problem.UNKNOWN_INCONSISTENCY)
    return found


def _disowned(session: Session, support_id: int) -> bool:
    return session.get(SupportFlag, (support_id, ReviewFlag.DISOWNED)) is not None


def _checked_verdict(session: Session, support: Support, process: Process,
                     verdict: Verdict) -> tuple[InconsistencyType | None, str, bool]:
    """(inconsistency, comment, needs a double check) for a verdict on this support, or refused."""
    assert support.id is not None
    inconsistency = _inconsistency(session, opl_id=process.opl_id, verdict=verdict)
    comment = checked_comment(verdict.comment)
    if inconsistency is not None and inconsistency.requires_comment and not comment:
        raise DecisionRefused(Problem.COMMENT_REQUIRED)
    # The citizen said they never gave this support: one reviewer alone never counts it over their word. Saying
    # why is required, and a second reviewer looks again.
    overrules_citizen = verdict.valid and _disowned(session, support.id)
    if overrules_citizen and not comment:
        raise DecisionRefused(Problem.DISOWNED_NEEDS_COMMENT)
    double_check = overrules_citizen or bool(inconsistency is not None and inconsistency.double_check)
    return inconsistency, comment, double_check


def _reason(prefix: str, inconsistency: InconsistencyType | None, comment: str) -> str:
    what = inconsistency.label_es if inconsistency is not None else "válido"
    return f"{prefix}: {what}" + (f". {comment}" if comment else "")


def _apply(session: Session, support: Support, inconsistency: InconsistencyType | None, reason: str,
           actor_account_id: int, now: datetime) -> None:
    assert support.id is not None
    if inconsistency is None:
        situacion = support.situacion_registral
        if situacion is SituacionRegistral.CON_INCONSISTENCIA:  # a reversal: back to what the roll said
            situacion = situacion_before(session, support_id=support.id,
                                         situacion_not=SituacionRegistral.CON_INCONSISTENCIA)
        record_transition(session=session, support=support, to_status=SupportStatus.VALID, situacion=situacion,
                          reason=reason, actor_account_id=actor_account_id, now=now)
    else:
        record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                          situacion=SituacionRegistral.CON_INCONSISTENCIA, reason=reason,
                          actor_account_id=actor_account_id, now=now)


def _audit_summary(outcome: ReviewOutcome, inconsistency: InconsistencyType | None, level: ReviewLevel) -> str:
    code = inconsistency.code if inconsistency is not None else "-"
    return f"level={level} outcome={outcome} inconsistency={code}"


# ---------------------------------------------------------------- the first look


def decide(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
           verdict: Verdict, now: datetime) -> ReviewDecision:
    """A first-level decision on a support in review, by the reviewer holding its claim."""
    support, process = scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    inconsistency, comment, double_check = _checked_verdict(session, support, process, verdict)
    if support.status is not SupportStatus.IN_REVIEW:
        raise DecisionRefused(Problem.NOT_IN_REVIEW)
    give_up_claim(session, support_id=support_id, reviewer_account_id=reviewer_account_id, level=ReviewLevel.FIRST,
                  now=now)
    outcome = ReviewOutcome.VALID if inconsistency is None else ReviewOutcome.INVALID
    decision = ReviewDecision(support_id=support_id, reviewer_account_id=reviewer_account_id,
                              level=ReviewLevel.FIRST, outcome=outcome,
                              inconsistency_id=inconsistency.id if inconsistency else None, comment=comment,
                              second_look=SecondLook.PENDING if double_check else None, decided_at=now)
    session.add(decision)
    _apply(session, support, inconsistency, _reason("mesa de control", inconsistency, comment), reviewer_account_id,
           now)
    record_audit(session, action="review_decided", actor_account_id=reviewer_account_id, object_type="support",
                 object_id=support_id, after=_audit_summary(outcome, inconsistency, ReviewLevel.FIRST)
                 + (" second_look=pending" if double_check else ""))
    session.flush()
    return decision


# ---------------------------------------------------------------- double checks


def latest_decision(session: Session, support_id: int) -> ReviewDecision | None:
    return session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support_id)
                        .order_by(col(ReviewDecision.decided_at).desc(), col(ReviewDecision.id).desc())).first()


def mark_double_check(*, session: Session, support_id: int, opl_ids: Collection[int], actor_account_id: int,
                      now: datetime) -> ReviewDecision:
    """The OPL asks a second reviewer to look again at the latest decision on a support."""
    scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    decision = latest_decision(session, support_id)
    if decision is None:
        raise DecisionRefused(Problem.NOT_DECIDED)
    if decision.second_look is SecondLook.PENDING:
        raise DecisionRefused(Problem.ALREADY_MARKED)
    decision.second_look = SecondLook.PENDING
    session.add(decision)
    record_audit(session, action="review_double_check_requested", actor_account_id=actor_account_id,
                 object_type="support", object_id=support_id, after=f"decision={decision.id}")
    session.flush()
    return decision


def second_look(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                verdict: Verdict, now: datetime) -> SecondLook:
    """A different reviewer confirms the decision marked for a double check (the same verdict) or reverses it (a
    new second-level decision, and the support's status follows)."""
    support, process = scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    pending = session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support_id,
                                                        ReviewDecision.second_look == SecondLook.PENDING)
                           .order_by(col(ReviewDecision.id).desc())).first()
    if pending is None or support.status is SupportStatus.CONTESTED:
        raise DecisionRefused(Problem.NOTHING_TO_CHECK)
    if pending.reviewer_account_id == reviewer_account_id:
        raise DecisionRefused(Problem.OWN_DECISION)
    inconsistency = _inconsistency(session, opl_id=process.opl_id, verdict=verdict)
    comment = checked_comment(verdict.comment)
    if inconsistency is not None and inconsistency.requires_comment and not comment:
        raise DecisionRefused(Problem.COMMENT_REQUIRED)
    give_up_claim(session, support_id=support_id, reviewer_account_id=reviewer_account_id,
                  level=ReviewLevel.SECOND, now=now)
    outcome = ReviewOutcome.VALID if inconsistency is None else ReviewOutcome.INVALID
    same = outcome is pending.outcome and (inconsistency.id if inconsistency else None) == pending.inconsistency_id
    pending.second_look = SecondLook.CONFIRMED if same else SecondLook.REVERSED
    session.add(pending)
    if not same:
        session.add(ReviewDecision(support_id=support_id, reviewer_account_id=reviewer_account_id,
                                   level=ReviewLevel.SECOND, outcome=outcome,
                                   inconsistency_id=inconsistency.id if inconsistency else None, comment=comment,
                                   decided_at=now))
        _apply(session, support, inconsistency, _reason("doble revisión", inconsistency, comment),
               reviewer_account_id, now)
    record_audit(session, action="review_second_look", actor_account_id=reviewer_account_id, object_type="support",
                 object_id=support_id, after=f"{pending.second_look} "
                 + _audit_summary(outcome, inconsistency, ReviewLevel.SECOND))
    session.flush()
    return pending.second_look
