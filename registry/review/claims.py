"""Claims: a reviewer holds one item of the mesa de control for a while, so two reviewers never look at (and
decide) the same support at once.

The ReviewClaim primary key (the support) is the guard on both databases: a new claim is an INSERT in a savepoint,
and the loser of a race gets an IntegrityError and moves on to the next candidate; taking over an expired claim is
an UPDATE conditioned on the expiry the claimer saw, whose row count says who won. Nothing relies on a read made
before the write."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.models import ReviewClaim, Support
from registry.states import ReviewLevel

# Long enough to look at the evidence and write a comment; short enough that an abandoned item goes back soon.
CLAIM_TTL = timedelta(minutes=10)
CANDIDATES_PER_ROUND = 20  # oldest unclaimed items tried per round; a race lost on one moves to the next
MAX_ROUNDS = 5


def claimable(now: datetime) -> ColumnElement[bool]:
    """Nobody holds the support, or the claim on it has expired (for a `select(Support)` query)."""
    held = select(ReviewClaim.support_id).where(ReviewClaim.support_id == Support.id, ReviewClaim.expires_at > now)
    return ~held.exists()


def held_by(session: Session, *, reviewer_account_id: int, level: ReviewLevel, now: datetime,
            within: ColumnElement[bool]) -> int | None:
    """The support this reviewer already holds at this level (unexpired) that still matches `within`."""
    query = (select(ReviewClaim.support_id).join(Support, col(Support.id) == ReviewClaim.support_id)
             .where(ReviewClaim.reviewer_account_id == reviewer_account_id, ReviewClaim.level == level,
                    ReviewClaim.expires_at > now, within)
             .order_by(col(ReviewClaim.claimed_at)))
    return session.exec(query).first()


def holds(session: Session, *, support_id: int, reviewer_account_id: int, level: ReviewLevel | None,
          now: datetime) -> bool:
    """Whether this reviewer holds the support now (at `level`, or at any level when None)."""
    query = select(ReviewClaim.support_id).where(
        ReviewClaim.support_id == support_id, ReviewClaim.reviewer_account_id == reviewer_account_id,
        ReviewClaim.expires_at > now)
    if level is not None:
        query = query.where(ReviewClaim.level == level)
    return session.exec(query).first() is not None


def claim_next(session: Session, *, reviewer_account_id: int, level: ReviewLevel, now: datetime,
               within: ColumnElement[bool], exclude: Collection[int] = ()) -> int | None:
    """The support this reviewer holds at this level (renewed), else the oldest one matching `within` that nobody
    else holds, claimed; None when there is none. `within` is a condition on Support (the queue and its filters)."""
    mine = held_by(session, reviewer_account_id=reviewer_account_id, level=level, now=now, within=within)
    if mine is not None and mine not in exclude:
        renew(session, support_id=mine, reviewer_account_id=reviewer_account_id, now=now)
        return mine
    tried: set[int] = set(exclude)
    for _round in range(MAX_ROUNDS):
        candidates = _candidates(session, within=within, now=now, skip=tried)
        if not candidates:
            return None
        for support_id in candidates:
            tried.add(support_id)
            if _take(session, support_id=support_id, reviewer_account_id=reviewer_account_id, level=level, now=now):
                return support_id
    return None


def _candidates(session: Session, *, within: ColumnElement[bool], now: datetime, skip: set[int]) -> list[int]:
    query = select(Support.id).where(within, claimable(now))
    if skip:
        query = query.where(col(Support.id).not_in(skip))
    query = query.order_by(col(Support.received_at), col(Support.id)).limit(CANDIDATES_PER_ROUND)
    return [support_id for support_id in session.exec(query) if support_id is not None]


def _take(session: Session, *, support_id: int, reviewer_account_id: int, level: ReviewLevel, now: datetime) -> bool:
    """Claim one support: insert a claim, or take over an expired one; False when another reviewer got it."""
    current = session.exec(select(ReviewClaim.reviewer_account_id, ReviewClaim.expires_at)
                           .where(ReviewClaim.support_id == support_id)).first()
    if current is None:
        try:
            with session.begin_nested():
                session.add(ReviewClaim(support_id=support_id, reviewer_account_id=reviewer_account_id, level=level,
                                        claimed_at=now, expires_at=now + CLAIM_TTL))
        except IntegrityError:
            return False  # another reviewer inserted it first
        return True
    holder, expires_at = current
    if holder != reviewer_account_id and expires_at > now:
        return False
    # Whoever else read the same expired claim runs the same UPDATE; only one of them sees its row change.
    taken = session.execute(
        update(ReviewClaim)
        .where(col(ReviewClaim.support_id) == support_id, col(ReviewClaim.reviewer_account_id) == holder,
               col(ReviewClaim.expires_at) == expires_at)
        .values(reviewer_account_id=reviewer_account_id, level=level, claimed_at=now, expires_at=now + CLAIM_TTL)
        .execution_options(synchronize_session=False))
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def renew(session: Session, *, support_id: int, reviewer_account_id: int, now: datetime) -> bool:
    """Push the expiry of this reviewer's unexpired claim forward (the item was shown again)."""
    renewed = session.execute(
        update(ReviewClaim)
        .where(col(ReviewClaim.support_id) == support_id, col(ReviewClaim.reviewer_account_id) == reviewer_account_id,
               col(ReviewClaim.expires_at) > now)
        .values(expires_at=now + CLAIM_TTL).execution_options(synchronize_session=False))
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


def release(session: Session, *, support_id: int, reviewer_account_id: int | None = None) -> None:
    """Drop the claim on a support (only this reviewer's when one is named)."""
    statement = delete(ReviewClaim).where(col(ReviewClaim.support_id) == support_id)
    if reviewer_account_id is not None:
        statement = statement.where(col(ReviewClaim.reviewer_account_id) == reviewer_account_id)
    session.execute(statement.execution_options(synchronize_session=False))

