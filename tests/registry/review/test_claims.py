"""Claims: the oldest free item goes to the reviewer who asks, a held item comes back to its holder, an expired
claim can be taken over, and two reviewers never hold the same item at once, even asking at the same instant
from separate connections (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import ReviewClaim
from registry.review.claims import CLAIM_TTL, holds
from registry.review.queue import QueueFilters, claim_first_level
from registry.states import ReviewLevel
from tests.factories.accounts import make_account
from tests.factories.review import Desk, in_review, make_desk


def _claim(session: Session, desk: Desk, reviewer: int, *, at: datetime | None = None) -> int | None:
    return claim_first_level(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                             reviewer_account_id=reviewer, filters=QueueFilters(), now=at or utcnow())


def _items(session: Session, desk: Desk, count: int) -> list[int]:
    now = utcnow()
    ids = [in_review(session, desk, desk.people[n], received_at=now - timedelta(hours=count - n)).id
           for n in range(count)]
    session.commit()
    return [i for i in ids if i is not None]


def test_the_oldest_free_item_goes_first_and_a_held_one_comes_back_to_its_holder(session: Session) -> None:
    desk = make_desk(session)
    first, second, _third = _items(session, desk, 3)
    one, two = desk.reviewer_ids
    assert _claim(session, desk, one) == first
    assert _claim(session, desk, two) == second  # the first is held by someone else
    assert _claim(session, desk, one) == first  # still theirs: given back, not a new one
    assert holds(session, support_id=first, reviewer_account_id=one, level=ReviewLevel.FIRST, now=utcnow())
    assert not holds(session, support_id=first, reviewer_account_id=two, level=ReviewLevel.FIRST, now=utcnow())


def test_an_expired_claim_is_taken_over_and_a_shown_item_is_renewed(session: Session) -> None:
    desk = make_desk(session)
    (only,) = _items(session, desk, 1)
    one, two = desk.reviewer_ids
    start = utcnow()
    assert _claim(session, desk, one, at=start) == only
    assert _claim(session, desk, two, at=start + CLAIM_TTL - timedelta(seconds=1)) is None
    later = start + CLAIM_TTL + timedelta(seconds=1)
    assert _claim(session, desk, two, at=later) == only
    claim = session.exec(select(ReviewClaim).execution_options(populate_existing=True)).one()
    assert (claim.reviewer_account_id, claim.expires_at) == (two, later + CLAIM_TTL)
    assert _claim(session, desk, two, at=later + timedelta(minutes=5)) == only  # asked again: renewed
    session.refresh(claim)
    assert claim.expires_at == later + timedelta(minutes=5) + CLAIM_TTL


def _race(app_engine: Engine, desk: Desk, reviewers: list[int], at: datetime) -> list[int | None]:
    """Every reviewer asks for an item at the same instant, each on its own connection."""
    barrier = threading.Barrier(len(reviewers))
    got: dict[int, int | None] = {}
    failures: list[BaseException] = []

    def ask(reviewer: int) -> None:
        try:
            barrier.wait(timeout=30)
            with session_scope(app_engine) as session:
                got[reviewer] = _claim(session, desk, reviewer, at=at)
        except BaseException as failure:  # reported below, not lost in the thread
            failures.append(failure)

    threads = [threading.Thread(target=ask, args=(reviewer,)) for reviewer in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    return [got.get(reviewer) for reviewer in reviewers]


def _more_reviewers(engine: Engine, desk: Desk, count: int) -> list[int]:
    with session_scope(engine) as session:
        return [make_account(session, name=f"Revisor {n}", role=Role.REVIEWER, opl_id=desk.opl.id).id or 0
                for n in range(count)]


def test_reviewers_asking_at_once_never_get_the_same_item(engine: Engine, app_engine: Engine) -> None:
    with session_scope(engine) as session:
        desk = make_desk(session, reviewers=0)
        items = _items(session, desk, 3)
    reviewers = _more_reviewers(engine, desk, 6)
    got = _race(app_engine, desk, reviewers, utcnow())
    claimed = [item for item in got if item is not None]
    assert sorted(claimed) == sorted(items)  # each item to exactly one reviewer; the others got nothing
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(select(ReviewClaim)).all()
    assert {(row.support_id, row.reviewer_account_id) for row in rows} == {
        (item, reviewer) for reviewer, item in zip(reviewers, got, strict=True) if item is not None}


def test_reviewers_taking_over_expired_claims_at_once_never_share_one(engine: Engine, app_engine: Engine) -> None:
    with session_scope(engine) as session:
        desk = make_desk(session, reviewers=2)
        items = _items(session, desk, 2)
    start = utcnow()
    with session_scope(app_engine) as session:  # both items held, by a reviewer who then walked away
        assert {_claim(session, desk, desk.reviewer_ids[0], at=start),
                _claim(session, desk, desk.reviewer_ids[1], at=start)} == set(items)
    reviewers = _more_reviewers(engine, desk, 5)
    got = _race(app_engine, desk, reviewers, start + CLAIM_TTL + timedelta(minutes=1))
    claimed = [item for item in got if item is not None]
    assert sorted(claimed) == sorted(items)
