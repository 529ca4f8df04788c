"""The first-level queue and its filters, each filter's values counted with the other filters applied; the desk's
home counts per process; and a reviewer never reaches another OPL's process."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from core.clock import MEXICO_CITY, utcnow
from registry.models import Auxiliary
from registry.review.queue import (
    NotInScope,
    QueueFilters,
    claim_first_level,
    desk_home,
    first_level_queue,
)
from registry.states import Channel, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.factories.review import Desk, contested, in_review, make_desk


def _counts(queue: object, name: str) -> dict[str, int]:
    facet = next(f for f in queue.facets if f.name == name)  # type: ignore[attr-defined]
    return {value: count for value, _label, count in facet.counts}


@pytest.fixture
def desk(session: Session) -> Desk:
    return make_desk(session)


def test_filters_narrow_the_queue_and_every_filter_counts_with_the_others_applied(session: Session,
                                                                                   desk: Desk) -> None:
    other = make_aspirant(session, process=desk.process, name="Otra Aspirante")
    auxiliary: Auxiliary = make_auxiliary(session, aspirant=desk.aspirant)
    # Two days in central Mexico: 23:30 local on the 1st is already the 2nd in UTC.
    late = datetime(2026, 11, 1, 23, 30, tzinfo=MEXICO_CITY)
    next_day = datetime(2026, 11, 2, 9, 0, tzinfo=MEXICO_CITY)
    a = in_review(session, desk, desk.people[0], received_at=late)
    a.auxiliary_id = auxiliary.id
    in_review(session, desk, desk.people[1], flags=(ReviewFlag.IMAGE_REUSED, ReviewFlag.MANUAL_CAPTURE),
              received_at=next_day, channel=Channel.PAPER)
    in_review(session, desk, desk.people[2], flags=(ReviewFlag.SAMPLE,), received_at=next_day, aspirant_id=other.id)
    done = in_review(session, desk, desk.people[3], received_at=next_day)
    record_transition(session=session, support=done, to_status=SupportStatus.VALID,
                      situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="", actor_account_id=None, now=utcnow())
    session.flush()

    everything = first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                                   filters=QueueFilters())
    assert everything.total == 3
    assert _counts(everything, "estado") == {"in_review": 3, "valid": 1}
    assert _counts(everything, "marca") == {"image_reused": 1, "manual_capture": 2, "sample": 1}
    assert _counts(everything, "fecha") == {"2026-11-01": 1, "2026-11-02": 2}
    assert _counts(everything, "canal") == {"auxiliary": 2, "paper": 1}
    assert _counts(everything, "auxiliar") == {str(auxiliary.id): 1}

    manual = first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                               filters=QueueFilters(flag=ReviewFlag.MANUAL_CAPTURE))
    assert manual.total == 2
    assert _counts(manual, "marca") == {"image_reused": 1, "manual_capture": 2, "sample": 1}  # its own: unfiltered
    assert _counts(manual, "aspirante") == {str(desk.aspirant.id): 2}
    assert _counts(manual, "estado") == {"in_review": 2, "valid": 1}

    second_day = first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                                   filters=QueueFilters(received_on=next_day.date(), channel=Channel.PAPER))
    assert [item.support_id for item in second_day.items] == [
        item.support_id for item in everything.items if item.channel is Channel.PAPER]
    valid = first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                              filters=QueueFilters(status=SupportStatus.VALID))
    assert [item.support_id for item in valid.items] == [done.id]


def test_claiming_follows_the_filters_and_only_takes_items_in_review(session: Session, desk: Desk) -> None:
    paper = in_review(session, desk, desk.people[0], channel=Channel.PAPER, received_at=utcnow() - timedelta(hours=1))
    in_review(session, desk, desk.people[1], received_at=utcnow() - timedelta(hours=2))

    def claim(filters: QueueFilters, reviewer: int) -> int | None:
        return claim_first_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                                 reviewer_account_id=reviewer, filters=filters, now=utcnow())

    assert claim(QueueFilters(channel=Channel.PAPER), desk.reviewer_ids[0]) == paper.id  # not the oldest overall
    assert claim(QueueFilters(status=SupportStatus.VALID, channel=Channel.PAPER), desk.reviewer_ids[1]) is None


def test_the_home_counts_items_in_review_and_at_the_second_level_per_process(session: Session, desk: Desk) -> None:
    in_review(session, desk, desk.people[0])
    in_review(session, desk, desk.people[1])
    contested(session, desk, filed_by_account_id=desk.reviewer_ids[1])
    elsewhere = make_desk(session, reviewers=0)
    in_review(session, elsewhere, elsewhere.people[0])
    rows = desk_home(session=session, opl_ids=desk.opl_ids, reviewer_account_id=desk.reviewer_ids[0])
    assert [(row.process.id, row.in_review, row.second_level) for row in rows] == [(desk.process_id, 2, 1)]


def test_another_opls_process_is_out_of_scope(session: Session, desk: Desk) -> None:
    elsewhere = make_desk(session, reviewers=0)
    with pytest.raises(NotInScope):
        first_level_queue(session=session, process_id=elsewhere.process_id, opl_ids=desk.opl_ids,
                          filters=QueueFilters())
    with pytest.raises(NotInScope):
        claim_first_level(session=session, process_id=elsewhere.process_id, opl_ids=desk.opl_ids,
                          reviewer_account_id=desk.reviewer_ids[0], filters=QueueFilters(), now=utcnow())
