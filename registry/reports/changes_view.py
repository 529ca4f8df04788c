"""The «¿Qué cambió?» page's service: whose cell may be asked about (an OPL's processes for its staff; the
aspirant's own supports, forced), the two moments read in the process's time zone (the last 24 hours unless asked),
and the changes themselves (registry.reports.changes)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from registry.models import Aspirant, Process
from registry.opl_admin import NotFound
from registry.opl_admin.processes import process_names
from registry.reports.categories import Category
from registry.reports.changes import Audience, Changes, what_changed
from registry.reports.places import PlaceKey
from registry.states import SituacionRegistral

DEFAULT_WINDOW = timedelta(hours=24)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100  # a moment outside these is a typing error, not a question


class Problem(StrEnum):
    """A part of the question that could not be used (the page says so and answers without it)."""

    SINCE_INVALID = "since_invalid"
    UNTIL_INVALID = "until_invalid"
    SINCE_NOT_BEFORE_UNTIL = "since_not_before_until"
    ASPIRANT_NOT_IN_PROCESS = "aspirant_not_in_process"


@dataclass(frozen=True)
class Moment:
    """A moment as typed: local wall-clock time in the process's time zone (None: not given); `invalid` when text
    was typed that is not a date and time. `date_only`: a bare date, its first minute; as the end of the window it
    means the whole day included."""

    local: datetime | None = None
    invalid: bool = False
    date_only: bool = False


@dataclass(frozen=True)
class ChangesQuery:
    category: Category | None = None
    situacion: SituacionRegistral | None = None
    place: PlaceKey | None = None
    since: Moment = field(default_factory=Moment)
    until: Moment = field(default_factory=Moment)
    aspirant_id: int | None = None  # the OPL's choice; for the aspirant, which of their own records


@dataclass
class ChangesView:
    audience: Audience
    process: Process
    processes: list[tuple[int, str]]  # what the process selector offers (the OPL's)
    aspirants: list[tuple[int, str]]  # what the aspirant selector offers
    aspirant_id: int | None
    since_local: datetime  # naive, in the process's time zone: what the form shows
    until_local: datetime
    changes: Changes
    problems: list[Problem]


def opl_changes(*, session: Session, opl_ids: Collection[int], process_id: int | None, query: ChangesQuery,
                now: datetime) -> ChangesView:
    """A cell of a process of one of these OPLs (the first process when none is named); another OPL's process,
    or one that does not exist: NotFound."""
    offered = [pair for opl_id in sorted(opl_ids) for pair in process_names(session=session, opl_id=opl_id)]
    chosen = process_id if process_id is not None else (offered[0][0] if offered else None)
    process = session.get(Process, chosen) if chosen is not None else None
    if process is None or process.opl_id not in opl_ids:
        raise NotFound
    assert process.id is not None
    aspirants = [(a.id, a.full_name) for a in session.exec(select(Aspirant).where(
        Aspirant.process_id == process.id).order_by(col(Aspirant.full_name), col(Aspirant.id))) if a.id is not None]
    problems: list[Problem] = []
    aspirant_id = query.aspirant_id
    if aspirant_id is not None and aspirant_id not in {number for number, _name in aspirants}:
        problems.append(Problem.ASPIRANT_NOT_IN_PROCESS)
        aspirant_id = None
    return _view(session, Audience.OPL, process, offered, aspirants, aspirant_id, query, now, problems)


def aspirant_changes(*, session: Session, aspirant_ids: Collection[int], query: ChangesQuery,
                     now: datetime) -> ChangesView | None:
    """A cell of the aspirant's own supports (whatever aspirant the query names, only the person's own records
    are read); None when the account is linked to no candidacy."""
    own = list(session.exec(select(Aspirant).where(col(Aspirant.id).in_(list(aspirant_ids)))
                            .order_by(col(Aspirant.id))))
    if not own:
        return None
    aspirant = next((a for a in own if a.id == query.aspirant_id), own[0])
    process = session.get(Process, aspirant.process_id)
    assert process is not None and aspirant.id is not None
    mine = [(a.id, a.full_name) for a in own if a.id is not None]
    return _view(session, Audience.ASPIRANT, process, [], mine, aspirant.id, query, now, [])


def _view(session: Session, audience: Audience, process: Process, processes: list[tuple[int, str]],
          aspirants: list[tuple[int, str]], aspirant_id: int | None, query: ChangesQuery, now: datetime,
          problems: list[Problem]) -> ChangesView:
    assert process.id is not None
    zone = ZoneInfo(process.timezone)
    since, until = _window(query, zone, now, problems)
    place = query.place
    if place is not None and place.state_code == 0 and (place.district or place.municipality or place.seccion):
        place = PlaceKey(process.scope_state, place.district, place.municipality, place.seccion)  # within the scope
    changes = what_changed(session=session, process_id=process.id, aspirant_id=aspirant_id, category=query.category,
                           situacion=query.situacion, place=place, since=since, until=until, audience=audience)
    return ChangesView(audience, process, processes, aspirants, aspirant_id, _local(since, zone), _local(until, zone),
                       changes, problems)


def _window(query: ChangesQuery, zone: ZoneInfo, now: datetime,
            problems: list[Problem]) -> tuple[datetime, datetime]:
    # Moments are typed to the minute: "now" is the end of this minute, so the page's form, sent again, asks the
    # same question (and includes what happened in the last seconds).
    now = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    until = _moment(query.until, zone, problems, Problem.UNTIL_INVALID, end=True) or now
    since = _moment(query.since, zone, problems, Problem.SINCE_INVALID, end=False) or until - DEFAULT_WINDOW
    if since >= until:
        problems.append(Problem.SINCE_NOT_BEFORE_UNTIL)
        until = now
        since = until - DEFAULT_WINDOW
    return since, until


def _moment(moment: Moment, zone: ZoneInfo, problems: list[Problem], invalid: Problem, *,
            end: bool) -> datetime | None:
    local = moment.local
    if moment.invalid or (local is not None and not EARLIEST_YEAR <= local.year <= LATEST_YEAR):
        problems.append(invalid)
        return None
    if local is None:
        return None
    if moment.date_only and end:
        local += timedelta(days=1)
    return local.replace(tzinfo=zone)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
