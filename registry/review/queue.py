"""The mesa de control's queues, per process: the first level (supports in review) with its filters and the count
of every filter's values, the second level (objections to answer, decisions marked for a double check), the
counts on the desk's home, and claiming the next item of a queue (registry.review.claims).

Counts are GROUP BY queries over the process's supports (one per filter), never a query per support: a process
may hold a hundred thousand of them. A reviewer only ever sees the processes of their own OPLs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_
from sqlmodel import Session, col, select

from core.clock import MEXICO_CITY
from registry.models import (
    Aspirant,
    Auxiliary,
    Objection,
    Process,
    ReviewDecision,
    Support,
    SupportFlag,
)
from registry.review import claims
from registry.states import (
    OPEN_OBJECTIONS,
    Channel,
    ReviewFlag,
    ReviewLevel,
    SecondLook,
    SituacionRegistral,
    SupportStatus,
)

FIRST_LEVEL = SupportStatus.IN_REVIEW  # the only status a first-level decision applies to
LISTED = 50  # items listed under the filters (the oldest first); the desk works one at a time anyway


class NotInScope(Exception):
    """No such process (or support) in the reviewer's OPLs: the page answers 404."""


@dataclass(frozen=True)
class QueueFilters:
    """The first-level queue's filters; None: any. `status` None means the queue's own status (in review)."""

    status: SupportStatus | None = None
    situacion: SituacionRegistral | None = None
    aspirant_id: int | None = None
    auxiliary_id: int | None = None
    channel: Channel | None = None
    flag: ReviewFlag | None = None
    received_on: date | None = None  # local date (America/Mexico_City)

    @property
    def effective_status(self) -> SupportStatus:
        return self.status or FIRST_LEVEL


@dataclass(frozen=True)
class Facet:
    name: str  # the filter's query parameter
    counts: list[tuple[str, str, int]]  # (value, label, count), label "" where the page words the value itself


@dataclass(frozen=True)
class QueueItem:
    support_id: int
    folio: str
    status: SupportStatus
    channel: Channel
    received_at: datetime
    flags: list[ReviewFlag] = field(default_factory=list)


@dataclass(frozen=True)
class FirstLevelQueue:
    process: Process
    filters: QueueFilters
    total: int
    items: list[QueueItem]
    facets: list[Facet]


@dataclass(frozen=True)
class ProcessCounts:
    process: Process
    in_review: int
    second_level: int


# ---------------------------------------------------------------- scope


def process_in_scope(session: Session, *, process_id: int, opl_ids: Collection[int]) -> Process:
    process = session.get(Process, process_id)
    if process is None or process.opl_id not in opl_ids:
        raise NotInScope
    return process


# ---------------------------------------------------------------- conditions


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, MEXICO_CITY)
    return start, start + timedelta(days=1)


def _conditions(process_id: int, filters: QueueFilters, *, skip: str = "") -> list[ColumnElement[bool]]:
    """Support conditions of the process and filters; `skip` leaves one filter out (for that filter's counts)."""
    found: list[ColumnElement[bool]] = [col(Support.process_id) == process_id]
    if skip != "status":
        found.append(col(Support.status) == filters.effective_status)
    if filters.situacion is not None and skip != "situacion":
        found.append(col(Support.situacion_registral) == filters.situacion)
    if filters.aspirant_id is not None and skip != "aspirante":
        found.append(col(Support.aspirant_id) == filters.aspirant_id)
    if filters.auxiliary_id is not None and skip != "auxiliar":
        found.append(col(Support.auxiliary_id) == filters.auxiliary_id)
    if filters.channel is not None and skip != "canal":
        found.append(col(Support.channel) == filters.channel)
    if filters.flag is not None and skip != "marca":
        found.append(select(SupportFlag.support_id).where(SupportFlag.support_id == Support.id,
                                                          SupportFlag.flag == filters.flag).exists())
    if filters.received_on is not None and skip != "fecha":
        start, end = _local_day_bounds(filters.received_on)
        found += [col(Support.received_at) >= start, col(Support.received_at) < end]
    return found


def first_level(process_id: int, filters: QueueFilters) -> ColumnElement[bool]:
    """What a first-level claim may take: in review, whatever status the page filters on, and the filters."""
    chosen = and_(*_conditions(process_id, filters, skip="status"))
    return and_(chosen, col(Support.status) == FIRST_LEVEL)


def second_level(process_id: int, reviewer_account_id: int) -> ColumnElement[bool]:
    return and_(col(Support.process_id) == process_id, _second_level_items(reviewer_account_id))


def _second_level_items(reviewer_account_id: int) -> ColumnElement[bool]:
    """Contested supports with an open objection, and decisions marked for a double check that another reviewer
    made (nobody double-checks their own decision). Both are found from their own (small) tables, so a process's
    whole list of supports is never walked to find the few waiting here."""
    objected = select(Objection.support_id).where(col(Objection.state).in_(OPEN_OBJECTIONS))
    to_check = select(ReviewDecision.support_id).where(ReviewDecision.second_look == SecondLook.PENDING,
                                                       ReviewDecision.reviewer_account_id != reviewer_account_id)
    contested = and_(col(Support.status) == SupportStatus.CONTESTED, col(Support.id).in_(objected))
    checkable = and_(col(Support.status) != SupportStatus.CONTESTED, col(Support.id).in_(to_check))
    return or_(contested, checkable)


# ---------------------------------------------------------------- the first-level queue


def first_level_queue(*, session: Session, process_id: int, opl_ids: Collection[int],
                      filters: QueueFilters) -> FirstLevelQueue:
    process = process_in_scope(session, process_id=process_id, opl_ids=opl_ids)
    where = _conditions(process_id, filters)
    total = session.exec(select(func.count()).select_from(Support).where(*where)).one()
    rows = session.exec(select(Support).where(*where).order_by(col(Support.received_at), col(Support.id))
                        .limit(LISTED)).all()
    flags = _flags_of(session, [row.id for row in rows if row.id is not None])
    items = [QueueItem(support_id=row.id, folio=row.folio, status=row.status, channel=row.channel,
                       received_at=row.received_at, flags=flags.get(row.id, []))
             for row in rows if row.id is not None]
    return FirstLevelQueue(process=process, filters=filters, total=int(total), items=items,
                           facets=_facets(session, process_id, filters))


def _flags_of(session: Session, support_ids: list[int]) -> dict[int, list[ReviewFlag]]:
    grouped: dict[int, list[ReviewFlag]] = {}
    if support_ids:
        for support_id, flag in session.exec(select(SupportFlag.support_id, SupportFlag.flag)
                                             .where(col(SupportFlag.support_id).in_(support_ids))):
            grouped.setdefault(support_id, []).append(ReviewFlag(flag))
    return grouped


def _grouped(session: Session, column: Any, where: list[ColumnElement[bool]]) -> list[tuple[Any, int]]:
    query = select(column, func.count()).select_from(Support).where(*where).group_by(column).order_by(column)
    return [(value, int(count)) for value, count in session.exec(query)]


def _facets(session: Session, process_id: int, filters: QueueFilters) -> list[Facet]:
    def others(name: str) -> list[ColumnElement[bool]]:
        return _conditions(process_id, filters, skip=name)

    status = [(str(v), "", n) for v, n in _grouped(session, col(Support.status), others("status"))]
    situacion = [(str(v), "", n) for v, n in _grouped(session, col(Support.situacion_registral), others("situacion"))]
    channel = [(str(v), "", n) for v, n in _grouped(session, col(Support.channel), others("canal"))]
    return [
        Facet("estado", status), Facet("situacion", situacion),
        Facet("aspirante", _named(session, Aspirant, col(Support.aspirant_id), others("aspirante"))),
        Facet("auxiliar", _named(session, Auxiliary, col(Support.auxiliary_id), others("auxiliar"))),
        Facet("canal", channel), Facet("marca", _flag_counts(session, others("marca"))),
        Facet("fecha", _day_counts(session, others("fecha"))),
    ]


def _named(session: Session, table: Any, column: Any, where: list[ColumnElement[bool]]) -> list[tuple[str, str, int]]:
    counts = [(value, n) for value, n in _grouped(session, column, where) if value is not None]
    names = {row_id: name for row_id, name in session.exec(select(table.id, table.full_name).where(
        col(table.id).in_([value for value, _ in counts])))} if counts else {}
    return [(str(value), names.get(value, ""), n) for value, n in counts]


def _flag_counts(session: Session, where: list[ColumnElement[bool]]) -> list[tuple[str, str, int]]:
    query = (select(SupportFlag.flag, func.count()).select_from(Support)
             .join(SupportFlag, col(SupportFlag.support_id) == Support.id).where(*where)
             .group_by(col(SupportFlag.flag)).order_by(col(SupportFlag.flag)))
    return [(str(flag), "", int(n)) for flag, n in session.exec(query)]


def _local_day(session: Session) -> Any:
    """The local calendar day of a support's receipt, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(MEXICO_CITY.key, col(Support.received_at)))
    # SQLite has no time zones; central Mexico has kept UTC-6 all year since it dropped daylight time in 2022.
    return func.date(col(Support.received_at), literal("-6 hours"))


def _day_counts(session: Session, where: list[ColumnElement[bool]]) -> list[tuple[str, str, int]]:
    day = _local_day(session)
    query = select(day, func.count()).select_from(Support).where(*where).group_by(day).order_by(day.desc())
    return [(str(value), "", int(n)) for value, n in session.exec(query) if value is not None]


# ---------------------------------------------------------------- the second level and the home


def second_level_queue(*, session: Session, process_id: int, opl_ids: Collection[int],
                       reviewer_account_id: int) -> tuple[Process, list[QueueItem]]:
    process = process_in_scope(session, process_id=process_id, opl_ids=opl_ids)
    rows = session.exec(select(Support).where(second_level(process_id, reviewer_account_id))
                        .order_by(col(Support.received_at), col(Support.id)).limit(LISTED)).all()
    return process, [QueueItem(support_id=row.id, folio=row.folio, status=row.status, channel=row.channel,
                               received_at=row.received_at) for row in rows if row.id is not None]


def desk_home(*, session: Session, opl_ids: Collection[int], reviewer_account_id: int) -> list[ProcessCounts]:
    """Every process of the reviewer's OPLs with its items in review and its second-level items waiting."""
    processes = list(session.exec(select(Process).where(col(Process.opl_id).in_(list(opl_ids)))
                                  .order_by(col(Process.name), col(Process.id))))
    ids = [process.id for process in processes if process.id is not None]
    if not ids:
        return []
    in_review = _per_process(session, ids, col(Support.status) == FIRST_LEVEL)
    waiting = _per_process(session, ids, _second_level_items(reviewer_account_id))
    return [ProcessCounts(process=process, in_review=int(in_review.get(process.id or 0, 0)),
                          second_level=int(waiting.get(process.id or 0, 0))) for process in processes]


def _per_process(session: Session, ids: list[int], condition: ColumnElement[bool]) -> dict[int, int]:
    query = (select(Support.process_id, func.count()).where(col(Support.process_id).in_(ids), condition)
             .group_by(col(Support.process_id)))
    return {process_id: int(count) for process_id, count in session.exec(query)}


# ---------------------------------------------------------------- claiming


def claim_first_level(*, session: Session, process_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                      filters: QueueFilters, now: datetime, exclude: Collection[int] = ()) -> int | None:
    process_in_scope(session, process_id=process_id, opl_ids=opl_ids)
    return claims.claim_next(session, reviewer_account_id=reviewer_account_id, level=ReviewLevel.FIRST, now=now,
                             within=first_level(process_id, filters), exclude=exclude)


def claim_second_level(*, session: Session, process_id: int, opl_ids: Collection[int], reviewer_account_id: int,
                       now: datetime, exclude: Collection[int] = ()) -> int | None:
    process_in_scope(session, process_id=process_id, opl_ids=opl_ids)
    return claims.claim_next(session, reviewer_account_id=reviewer_account_id, level=ReviewLevel.SECOND, now=now,
                             within=second_level(process_id, reviewer_account_id), exclude=exclude)
