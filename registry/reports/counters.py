"""The report counters, kept in the same transaction as the support events (never by a job that runs later and
could count a support twice or not at all): `count_transition` for one support (registry.supports), and
`count_compulsa` for the compulsa's set-based write. `recount` rebuilds them from the supports and
`counter_differences` proves they agree (`registro report check`).

Lock order, so two writers never deadlock on a counter: the day counters first, then the place counters, each in
key order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from registry.models import Process, Support
from registry.states import SituacionRegistral, SupportStatus

_DAY_KEY = ("process_id", "aspirant_id", "day", "status", "situacion")
_PLACE_KEY = ("process_id", "aspirant_id", "status", "situacion", "state_code", "district", "municipality", "seccion")


def _upsert(table: str, key: tuple[str, ...], select_sql: str) -> str:
    """INSERT the grouped deltas of `select_sql` (columns: key..., delta), adding to the rows already there. The
    WHERE true keeps SQLite's parser from reading ON CONFLICT as a join constraint."""
    columns = ", ".join(key)
    return (f"INSERT INTO {table} ({columns}, n) SELECT {columns}, sum(delta) FROM ({select_sql}) AS d WHERE true "
            f"GROUP BY {columns} HAVING sum(delta) <> 0 ORDER BY {columns} "
            f"ON CONFLICT ({columns}) DO UPDATE SET n = {table}.n + excluded.n")


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def received_day_of(session: Session, support: Support) -> date:
    process = session.get(Process, support.process_id)
    assert process is not None
    return local_day(support.received_at, process.timezone)


@dataclass(frozen=True)
class Standing:
    status: SupportStatus
    situacion: SituacionRegistral


@dataclass(frozen=True)
class Move:
    support: Support
    before: Standing | None  # None: a new support
    after: Standing


# session.info: a list the caller (a field batch, registry.field) collects its new supports' moves in, to count them
# all in one statement a table before it commits (`count_transitions`).
DEFERRED_MOVES = "registro_deferred_moves"


def count_transition(*, session: Session, support: Support, before: Standing | None, after: Standing) -> None:
    """Move one support between counter cells (before None: a new support). Its place does not change here: only
    the compulsa moves a support to another place."""
    count_transitions(session=session, moves=[Move(support, before, after)])


def count_transitions(*, session: Session, moves: Sequence[Move]) -> None:
    """Several supports' moves, grouped into one statement a table (locked in key order, as the module says)."""
    if not moves:
        return
    params: dict[str, dict[str, object]] = {"reportdaycount": {}, "reportplacecount": {}}
    selects: dict[str, list[str]] = {"reportdaycount": [], "reportplacecount": []}
    for move in moves:
        support = move.support
        if support.received_day is None:
            support.received_day = received_day_of(session, support)
        place = {"state_code": support.state_code or 0, "district": support.district or 0,
                 "municipality": support.municipality or 0, "seccion": support.seccion or 0}
        common = {"process_id": support.process_id, "aspirant_id": support.aspirant_id}
        deltas = [(move.after, 1)] + ([(move.before, -1)] if move.before is not None else [])
        for standing, delta in deltas:
            for table, key, extra in (("reportdaycount", _DAY_KEY, {"day": support.received_day}),
                                      ("reportplacecount", _PLACE_KEY, place)):
                i = len(selects[table])
                values = common | extra | {"status": standing.status.value, "situacion": standing.situacion.value}
                params[table] |= {f"{name}{i}": values[name] for name in key}
                selects[table].append(f"SELECT {', '.join(f':{name}{i} AS {name}' for name in key)}, {delta} AS delta")
    for table, key in (("reportdaycount", _DAY_KEY), ("reportplacecount", _PLACE_KEY)):
        session.execute(text(_upsert(table, key, " UNION ALL ".join(selects[table]))), params[table])


_PLACE_OF_SUPPORT = ("COALESCE(s.state_code, 0)", "COALESCE(s.district, 0)", "COALESCE(s.municipality, 0)",
                     "COALESCE(s.seccion, 0)")
_PLACE_OF_RESULT = ("COALESCE(r.state_code, 0)", "COALESCE(r.district, 0)", "COALESCE(r.municipality, 0)",
                    "COALESCE(r.seccion, 0)")
_PLACE_NAMES = ("state_code", "district", "municipality", "seccion")


def _named(expressions: tuple[str, ...], names: tuple[str, ...]) -> str:
    return ", ".join(f"{expression} AS {name}" for expression, name in zip(expressions, names, strict=True))


def count_compulsa(run: Callable[[str], int], *, moved: str, placed: str) -> None:
    """The compulsa's moves, from its work table `compulsa_result AS r` joined to `support AS s` before the
    supports are updated: `moved` is its condition for a change of status or situación, `placed` for a change of
    place. Each support leaves its old cell (-1) and enters its new one (+1), grouped into one statement a table."""
    base = "FROM compulsa_result AS r JOIN support AS s ON s.id = r.support_id"
    day = (f"SELECT s.process_id, s.aspirant_id, s.received_day AS day, s.status, s.situacion_registral AS situacion, "
           f"-1 AS delta {base} WHERE {moved} UNION ALL "
           f"SELECT s.process_id, s.aspirant_id, s.received_day, r.status, r.situacion, 1 {base} WHERE {moved}")
    place = (f"SELECT s.process_id, s.aspirant_id, s.status, s.situacion_registral AS situacion, "
             f"{_named(_PLACE_OF_SUPPORT, _PLACE_NAMES)}, -1 AS delta {base} WHERE {moved} OR {placed} UNION ALL "
             f"SELECT s.process_id, s.aspirant_id, r.status, r.situacion, {', '.join(_PLACE_OF_RESULT)}, 1 "
             f"{base} WHERE {moved} OR {placed}")
    run(_upsert("reportdaycount", _DAY_KEY, day))
    run(_upsert("reportplacecount", _PLACE_KEY, place))


_RECOUNT_DAY = ("SELECT process_id, aspirant_id, received_day AS day, status, situacion_registral AS situacion, "
                "count(*) AS n FROM support {where} GROUP BY process_id, aspirant_id, received_day, status, "
                "situacion_registral")
_RECOUNT_PLACE = (f"SELECT process_id, aspirant_id, status, situacion_registral AS situacion, "
                  f"{_named(tuple(c.replace('s.', '') for c in _PLACE_OF_SUPPORT), _PLACE_NAMES)}, count(*) AS n "
                  f"FROM support {{where}} GROUP BY process_id, aspirant_id, status, situacion_registral, "
                  f"{', '.join(c.replace('s.', '') for c in _PLACE_OF_SUPPORT)}")


def _where(process_id: int | None) -> tuple[str, dict[str, object]]:
    if process_id is None:
        return "", {}
    return "WHERE process_id = :process", {"process": process_id}


def recount(*, session: Session, process_id: int | None = None) -> None:
    """Rebuild the counters from the supports (a migration, generated benchmark data, or a repair after
    `registro report check` found a difference). Runs in the caller's transaction."""
    where, params = _where(process_id)
    for table, key, query in (("reportdaycount", _DAY_KEY, _RECOUNT_DAY), ("reportplacecount", _PLACE_KEY,
                                                                         _RECOUNT_PLACE)):
        session.execute(text(f"DELETE FROM {table} {where}"), params)
        columns = ", ".join((*key, "n"))
        session.execute(text(f"INSERT INTO {table} ({columns}) {query.format(where=where)}"), params)


@dataclass(frozen=True)
class CounterDifference:
    table: str
    key: tuple[object, ...]
    counted: int  # what the counter says
    recounted: int  # what a GROUP BY over the supports says


def counter_differences(*, session: Session, process_id: int | None = None) -> list[CounterDifference]:
    """Every cell where a counter and a recount from the supports disagree (none, unless something is wrong)."""
    where, params = _where(process_id)
    found: list[CounterDifference] = []
    for table, key, query in (("reportdaycount", _DAY_KEY, _RECOUNT_DAY), ("reportplacecount", _PLACE_KEY,
                                                                         _RECOUNT_PLACE)):
        counted = {tuple(row[:-1]): int(row[-1]) for row in session.execute(
            text(f"SELECT {', '.join(key)}, n FROM {table} {where}"), params)}
        recounted = {tuple(row[:-1]): int(row[-1]) for row in session.execute(text(query.format(where=where)),
                                                                               params)}
        for cell in sorted(set(counted) | set(recounted), key=repr):
            if counted.get(cell, 0) != recounted.get(cell, 0):
                found.append(CounterDifference(table, cell, counted.get(cell, 0), recounted.get(cell, 0)))
    return found
