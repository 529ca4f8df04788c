"""The mesa de control's queues, per process: the first level (supports in review) with its filters and the count
of every filter's values, the second level (objections to answer, decisions marked for a double check), the
counts on the desk's home, and claiming the next item of a queue (registry.review.claims).

Counts come from three grouped reads of the process's supports (the combinations of the column filters' values,
the statuses, the flags), never one read per filter nor a query per support: a process may hold a hundred
thousand of them (bench/desk.py). A reviewer only ever sees the processes of their own OPLs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_
from sqlalchemy import select as sa_select
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


def _conditions(process_id: int, filters: QueueFilters, *,
                skip: Collection[str] = ()) -> list[ColumnElement[bool]]:
    """Support conditions of the process and filters; `skip` leaves filters out (for those filters' counts)."""
    found: list[ColumnElement[bool]] = [col(Support.process_id) == process_id]
    if "status" not in skip:
        found.append(col(Support.status) == filters.effective_status)
    if filters.situacion is not None and "situacion" not in skip:
        found.append(col(Support.situacion_registral) == filters.situacion)
    if filters.aspirant_id is not None and "aspirante" not in skip:
        found.append(col(Support.aspirant_id) == filters.aspirant_id)
    if filters.auxiliary_id is not None and "auxiliar" not in skip:
        found.append(col(Support.auxiliary_id) == filters.auxiliary_id)
    if filters.channel is not None and "canal" not in skip:
        found.append(col(Support.channel) == filters.channel)
    if filters.flag is not None and "marca" not in skip:
        found.append(select(SupportFlag.support_id).where(SupportFlag.support_id == Support.id,
                                                          SupportFlag.flag == filters.flag).exists())
    if filters.received_on is not None and "fecha" not in skip:
        start, end = _local_day_bounds(filters.received_on)
        found += [col(Support.received_at) >= start, col(Support.received_at) < end]
    return found


def first_level(process_id: int, filters: QueueFilters) -> ColumnElement[bool]:
    """What a first-level claim may take: in review, whatever status the page filters on, and the filters."""
    chosen = and_(*_conditions(process_id, filters, skip=("status",)))
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
    rows = session.exec(select(Support).where(*_conditions(process_id, filters))
                        .order_by(col(Support.received_at), col(Support.id)).limit(LISTED)).all()
    flags = _flags_of(session, [row.id for row in rows if row.id is not None])
    items = [QueueItem(support_id=row.id, folio=row.folio, status=row.status, channel=row.channel,
                       received_at=row.received_at, flags=flags.get(row.id, []))
             for row in rows if row.id is not None]
    cube = _Cube.of(session, process_id, filters)
    return FirstLevelQueue(process=process, filters=filters, total=cube.total, items=items,
                           facets=_facets(session, process_id, filters, cube))


def _flags_of(session: Session, support_ids: list[int]) -> dict[int, list[ReviewFlag]]:
    grouped: dict[int, list[ReviewFlag]] = {}
    if support_ids:
        for support_id, flag in session.exec(select(SupportFlag.support_id, SupportFlag.flag)
                                             .where(col(SupportFlag.support_id).in_(support_ids))):
            grouped.setdefault(support_id, []).append(ReviewFlag(flag))
    return grouped


# The filters counted from _Cube, in the order of its values; the status has its own query, the flag too (a
# support may have several).
_CUBE_FILTERS = ("situacion", "aspirante", "auxiliar", "canal", "fecha")


@dataclass(frozen=True)
class _Cube:
    """The queue's supports (the process, the status and flag filters) counted per combination of the other
    filters' values: situación, aspirant, auxiliary, channel, local day (a few thousand rows for 100,000
    supports). Those five filters' counts and the total are sums over it: one scan of the process's supports
    instead of one per filter, which took a second for 100,000 supports (bench/desk.py)."""

    total: int
    tallies: dict[str, list[tuple[Any, int]]]  # per filter: (value, supports) ordered by value

    @classmethod
    def of(cls, session: Session, process_id: int, filters: QueueFilters) -> _Cube:
        day = _local_day(session)
        columns = [col(Support.situacion_registral), col(Support.aspirant_id), col(Support.auxiliary_id),
                   col(Support.channel), day]
        query = (sa_select(*columns, func.count()).where(*_conditions(process_id, filters, skip=_CUBE_FILTERS))
                 .group_by(*columns))
        wanted = (filters.situacion, filters.aspirant_id, filters.auxiliary_id, filters.channel,
                  filters.received_on.isoformat() if filters.received_on is not None else None)
        rows = [((*row[:4], str(row[4]) if row[4] is not None else None), int(row[5]))
                for row in session.execute(query)]
        return cls._summed(rows, wanted)

    @classmethod
    def _summed(cls, rows: list[tuple[tuple[Any, ...], int]], wanted: tuple[Any, ...]) -> _Cube:
        """A combination matching every filter counts for the total and every filter's values; one that misses
        exactly one filter counts for that filter's values only (its counts leave its own filter out)."""
        total, tallies = 0, [dict[Any, int]() for _ in wanted]
        for values, n in rows:
            misses = [i for i, want in enumerate(wanted) if want is not None and values[i] != want]
            if len(misses) > 1:
                continue
            total += 0 if misses else n
            for i in misses or range(len(wanted)):
                tallies[i][values[i]] = tallies[i].get(values[i], 0) + n
        ordered = {name: sorted(tally.items(), key=lambda item: (item[0] is None, item[0] or 0))
                   for name, tally in zip(_CUBE_FILTERS, tallies, strict=True)}
        return cls(total=total, tallies=ordered)


def _status_counts(session: Session, where: list[ColumnElement[bool]]) -> list[tuple[str, str, int]]:
    """Supports per status (one aggregate per status: a scan with no sort of the process's supports)."""
    statuses = sorted(SupportStatus)
    row = session.execute(sa_select(*[func.count().filter(col(Support.status) == status) for status in statuses])
                          .where(*where)).one()
    return [(str(status), "", int(n)) for status, n in zip(statuses, row, strict=True) if n]


def _facets(session: Session, process_id: int, filters: QueueFilters, cube: _Cube) -> list[Facet]:
    def others(name: str) -> list[ColumnElement[bool]]:
        return _conditions(process_id, filters, skip=(name,))

    def plain(name: str) -> list[tuple[str, str, int]]:
        return [(str(v), "", n) for v, n in cube.tallies[name] if v is not None]

    return [
        Facet("estado", _status_counts(session, others("status"))), Facet("situacion", plain("situacion")),
        Facet("aspirante", _named(session, Aspirant, cube.tallies["aspirante"])),
        Facet("auxiliar", _named(session, Auxiliary, cube.tallies["auxiliar"])),
        Facet("canal", plain("canal")), Facet("marca", _flag_counts(session, others("marca"))),
        Facet("fecha", list(reversed(plain("fecha")))),  # the latest day first
    ]


def _named(session: Session, table: Any, grouped: list[tuple[Any, int]]) -> list[tuple[str, str, int]]:
    counts = [(value, n) for value, n in grouped if value is not None]
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
