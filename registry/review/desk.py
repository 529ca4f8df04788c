"""The desk's actions as the reviewer's keys trigger them: act on the item held, then claim the next item of the same
queue (same process, same filters), in one transaction; each returns the next support's id, or None when the queue
is empty for this reviewer."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session

from registry.review import claims
from registry.review.decisions import Verdict, decide, scoped_support, second_look
from registry.review.objections import answer_objection
from registry.review.queue import QueueFilters, claim_first_level, claim_second_level


def decide_then_next(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                     verdict: Verdict, filters: QueueFilters, now: datetime) -> int | None:
    decide(session=session, support_id=support_id, opl_ids=opl_ids, reviewer_account_id=reviewer_account_id,
           verdict=verdict, now=now)
    return _next_first(session, support_id, opl_ids, reviewer_account_id, filters, now)


def skip_then_next(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                   filters: QueueFilters, second: bool, now: datetime) -> int | None:
    """Give the item back (another reviewer may take it) and claim the next one, never the same."""
    support, _process = scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    claims.release(session, support_id=support_id, reviewer_account_id=reviewer_account_id)
    if second:
        return claim_second_level(session=session, process_id=support.process_id, opl_ids=opl_ids,
                                  reviewer_account_id=reviewer_account_id, now=now, exclude={support_id})
    return claim_first_level(session=session, process_id=support.process_id, opl_ids=opl_ids,
                             reviewer_account_id=reviewer_account_id, filters=filters, now=now,
                             exclude={support_id})


def second_look_then_next(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                          verdict: Verdict, now: datetime) -> int | None:
    second_look(session=session, support_id=support_id, opl_ids=opl_ids, reviewer_account_id=reviewer_account_id,
                verdict=verdict, now=now)
    return _next_second(session, support_id, opl_ids, reviewer_account_id, now)


def answer_then_next(*, session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                     uphold: bool, answer: str, now: datetime) -> int | None:
    answer_objection(session=session, support_id=support_id, opl_ids=opl_ids,
                     reviewer_account_id=reviewer_account_id, uphold=uphold, answer=answer, now=now)
    return _next_second(session, support_id, opl_ids, reviewer_account_id, now)


def _process_of(session: Session, support_id: int, opl_ids: Collection[int]) -> int:
    support, _process = scoped_support(session, support_id=support_id, opl_ids=opl_ids)
    return support.process_id


def _next_first(session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                filters: QueueFilters, now: datetime) -> int | None:
    return claim_first_level(session=session, process_id=_process_of(session, support_id, opl_ids),
                             opl_ids=opl_ids, reviewer_account_id=reviewer_account_id, filters=filters, now=now)


def _next_second(session: Session, support_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                 now: datetime) -> int | None:
    return claim_second_level(session=session, process_id=_process_of(session, support_id, opl_ids),
                              opl_ids=opl_ids, reviewer_account_id=reviewer_account_id, now=now)
