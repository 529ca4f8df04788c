"""What changed in one report cell between two moments: which supports moved in or out, and by which events (who
or what moved them, and why). Derived only from the append-only support events, which carry the support's status,
situación and place after each event: a support's standing at moment t is its last event with at <= t (by at,
then id). Only supports with an event after `since` can have moved, so every query starts from the events (indexed
on `at`), never from all the supports; the cell's count now comes from the report counters, and its count at each
moment is that count less the moves after the moment.

A report cell: a process, one aspirant or all, a category (or all), a situación registral (or any), a place at
any level (the non-zero numbers of a PlaceKey must match; PlaceKey(0, 0, 0, 0) is the "sin ubicar" row: supports
not located yet) or anywhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session, col, select

from auth.models import Account, RoleGrant
from auth.roles import Role
from core.columns import UtcDateTime
from registry.claims import CLAIM_REASON
from registry.disown import DISOWN_REASON
from registry.models import Aspirant, Process, SupportEvent
from registry.reports.categories import Category, category_of
from registry.reports.figures import Tally
from registry.reports.places import PlaceKey
from registry.states import SituacionRegistral, SupportStatus

MAX_LISTED = 500  # supports listed per direction; the totals are always the true counts
UNLOCATED = PlaceKey(0, 0, 0, 0)
_PLACE = ("state_code", "district", "municipality", "seccion")
# The citizen's own reports («yo no di este apoyo», a credential claimed from another account): what the aspirant
# sees of them is that the support went to the mesa de control, never that its citizen complained.
CITIZEN_REPORTS = (DISOWN_REASON, CLAIM_REASON)
COMPULSA_REASON = "Compulsa con la Lista Nominal"  # how registry.verification.compulsa words every event it writes
# Which of an account's roles names it on an event of a support (its most specific one in a collection).
_ROLE_ORDER = (Role.OPL_ADMIN, Role.REVIEWER, Role.ASPIRANT, Role.AUXILIARY, Role.SYSTEM_ADMIN, Role.CITIZEN)


class Audience(StrEnum):
    OPL = "opl"  # OPL staff: every event as written, staff names
    ASPIRANT = "aspirant"  # the aspirant: own supports, no names, no places, no citizen's report


class ActorKind(StrEnum):
    INTAKE = "intake"  # the support's receipt (no account acts)
    COMPULSA = "compulsa"  # the system: the compulsa with the Lista Nominal (no account acts)
    SYSTEM = "system"  # another automatic step (a paper file imported from the command line)
    ACCOUNT = "account"  # a person, named by role (and by name for OPL staff)
    WITHHELD = "withheld"  # the citizen's own report, not attributed for the aspirant


@dataclass(frozen=True)
class Cell:
    process_id: int
    aspirant_id: int | None = None
    category: Category | None = None
    situacion: SituacionRegistral | None = None
    place: PlaceKey | None = None


@dataclass(frozen=True)
class Standing:
    """Where a support stood at a moment."""

    status: SupportStatus
    situacion: SituacionRegistral
    place: PlaceKey | None  # None: withheld (the aspirant's view); UNLOCATED: not located yet

    @property
    def category(self) -> Category:
        return category_of(self.status, self.situacion)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    role: Role | None = None
    name: str | None = None  # OPL staff and aspirants, for the OPL's view only


@dataclass(frozen=True)
class Move:
    """One event between the two moments."""

    at: datetime
    from_status: SupportStatus | None  # None: the support was received
    to_status: SupportStatus
    situacion: SituacionRegistral
    place: PlaceKey | None
    reason: str | None  # None: withheld (the citizen's own report, for the aspirant)
    actor: Actor


@dataclass(frozen=True)
class MovedSupport:
    support_id: int
    folio: str
    aspirant_id: int
    aspirante: str
    before: Standing | None  # None: not received yet at `since`
    after: Standing
    moves: list[Move]


@dataclass
class Changes:
    cell: Cell
    since: datetime
    until: datetime
    count_since: int
    count_until: int
    moved_in_total: int
    moved_out_total: int
    moved_in: list[MovedSupport] = field(default_factory=list)
    moved_out: list[MovedSupport] = field(default_factory=list)

    @property
    def net(self) -> int:
        return self.count_until - self.count_since

    @property
    def truncated(self) -> bool:
        return len(self.moved_in) < self.moved_in_total or len(self.moved_out) < self.moved_out_total


# ---------------------------------------------------------------- the cell as SQL


def _category_sql(category: Category, status: str, situacion: str) -> str:
    """The statuses and situaciones of one category, from category_of itself (the one rule for every report)."""
    arms = []
    for state in SupportStatus:
        inside = [s.value for s in SituacionRegistral if category_of(state, s) is category]
        if len(inside) == len(SituacionRegistral):
            arms.append(f"{status} = '{state.value}'")
        elif inside:
            arms.append(f"({status} = '{state.value}' AND {situacion} IN ({', '.join(repr(v) for v in inside)}))")
    return "(" + (" OR ".join(arms) or "1 = 0") + ")"


def _in_cell_sql(cell: Cell, *, status: str, situacion: str, place: tuple[str, ...]) -> str:
    """A condition that is true when a row's status, situación and place columns are inside the cell (the values
    come from enums and integers of ours, never from the request's text)."""
    parts = ["1 = 1"]
    if cell.category is not None:
        parts.append(_category_sql(cell.category, status, situacion))
    if cell.situacion is not None:
        parts.append(f"{situacion} = '{cell.situacion.value}'")
    if cell.place == UNLOCATED:
        parts.append(f"COALESCE({place[0]}, 0) = 0")
    elif cell.place is not None:
        parts += [f"COALESCE({column}, 0) = {int(getattr(cell.place, name))}"
                  for column, name in zip(place, _PLACE, strict=True) if getattr(cell.place, name)]
    return " AND ".join(parts)


def _member(cell: Cell, alias: str) -> str:
    """1 when the event `alias` leaves its support in the cell."""
    inside = _in_cell_sql(cell, status=f"{alias}.to_status", situacion=f"{alias}.situacion_registral",
                          place=tuple(f"{alias}.{name}" for name in _PLACE))
    return f"CASE WHEN {inside} THEN 1 ELSE 0 END"


# Which side of the moments an event falls on: 0 at or before :since, 1 up to :until, 2 after.
_SIDE = "CASE WHEN e.at <= :since THEN 0 WHEN e.at <= :until THEN 1 ELSE 2 END"


def _last_events_sql(aspirant_id: int | None) -> str:
    """Each support with an event after :since (found through the index on `at`, made once), and its last event
    on each side of the moments (one pass over those supports' events, through the index on support and time)."""
    aspirant = " AND s.aspirant_id = :aspirant" if aspirant_id is not None else ""
    return f"""
        WITH touched AS MATERIALIZED (
            SELECT DISTINCT e.support_id, s.aspirant_id FROM supportevent AS e JOIN support AS s ON s.id = e.support_id
            WHERE e.at > :since AND s.process_id = :process{aspirant}
        ),
        sided AS (
            SELECT e.id, e.support_id, t.aspirant_id, e.to_status, e.situacion_registral, e.state_code, e.district,
                   e.municipality, e.seccion, {_SIDE} AS side,
                   ROW_NUMBER() OVER (PARTITION BY e.support_id, {_SIDE} ORDER BY e.at DESC, e.id DESC) AS nth
            FROM touched AS t JOIN supportevent AS e ON e.support_id = t.support_id
        ),
        latest AS MATERIALIZED (SELECT * FROM sided WHERE nth = 1)"""


def _standings_sql(cell: Cell) -> str:
    """Each support with an event after :since: its events at :since and at :until, and whether it was in the cell
    then, at :until and now (every such support has an event after :since, so it has a last event after it)."""

    def side(n: int, column: str) -> str:
        return f"max(CASE WHEN side = {n} THEN {column} END)"

    return f"""{_last_events_sql(cell.aspirant_id)},
        member AS (
            SELECT support_id, {side(0, 'id')} AS at_since, COALESCE({side(1, 'id')}, {side(0, 'id')}) AS at_until,
                   COALESCE({side(0, 'inside')}, 0) AS in_since,
                   COALESCE({side(1, 'inside')}, {side(0, 'inside')}, 0) AS in_until,
                   COALESCE({side(2, 'inside')}, {side(1, 'inside')}, {side(0, 'inside')}, 0) AS in_now
            FROM (SELECT l.*, {_member(cell, 'l')} AS inside FROM latest AS l) AS judged GROUP BY support_id
        )"""


def _query(sql: str) -> TextClause:
    """The moments bound as the column's type: SQLite compares the stored text, which must be written alike."""
    moments = [bindparam(name, type_=UtcDateTime()) for name in ("since", "until") if f":{name}" in sql]
    return text(sql).bindparams(*moments)


def _counted_now_sql(cell: Cell) -> str:
    aspirant = " AND aspirant_id = :aspirant" if cell.aspirant_id is not None else ""
    inside = _in_cell_sql(cell, status="status", situacion="situacion", place=_PLACE)
    return (f"(SELECT COALESCE(sum(n), 0) FROM reportplacecount WHERE process_id = :process{aspirant} "
            f"AND {inside})")


# ---------------------------------------------------------------- the service


def what_changed(*, session: Session, process_id: int, aspirant_id: int | None, category: Category | None,
                 situacion: SituacionRegistral | None, place: PlaceKey | None, since: datetime, until: datetime,
                 audience: Audience = Audience.OPL, limit: int = MAX_LISTED) -> Changes:
    """The cell's count at `since` and at `until`, and the supports that moved in or out between them (at most
    `limit` of each, with the true totals). For the aspirant, pass their own aspirant_id: the caller forces it."""
    _one_snapshot(session)
    cell = Cell(process_id, aspirant_id, category, situacion, place)
    params: dict[str, object] = {"process": process_id, "since": since, "until": until}
    if aspirant_id is not None:
        params["aspirant"] = aspirant_id
    now_count, in_since, in_until, in_now, moved_in, moved_out = session.execute(_query(
        f"""{_standings_sql(cell)}
        SELECT {_counted_now_sql(cell)}, COALESCE(sum(in_since), 0), COALESCE(sum(in_until), 0),
               COALESCE(sum(in_now), 0), COALESCE(sum(CASE WHEN in_until > in_since THEN 1 ELSE 0 END), 0),
               COALESCE(sum(CASE WHEN in_since > in_until THEN 1 ELSE 0 END), 0)
        FROM member"""), params).one()
    base = int(now_count) - int(in_now)  # the cell without the supports that moved after `since`
    changes = Changes(cell, since, until, base + int(in_since), base + int(in_until), int(moved_in), int(moved_out))
    changes.moved_in, changes.moved_out = _listed(session, cell, params, limit=limit, audience=audience)
    return changes


def _one_snapshot(session: Session) -> None:
    """The count and the lists come from several statements: on PostgreSQL they read one snapshot (SQLite's read
    transaction already does), so a support moved meanwhile is not counted in one and missing from the other. And
    the supports' events are read through the index on (support, time), from memory: with the default cost of a
    random page (a spinning disk's) the planner would rather read every event of the table."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    session.execute(text("SET LOCAL random_page_cost = 1.1"))
    session.execute(text("SET LOCAL jit = off"))  # compiling these statements costs more than running them


def _listed(session: Session, cell: Cell, params: dict[str, object], *, limit: int,
            audience: Audience) -> tuple[list[MovedSupport], list[MovedSupport]]:
    """The first `limit` supports that moved in, and the first that moved out, by support id."""
    rows = session.execute(_query(
        f"""{_standings_sql(cell)},
        moved AS (
            SELECT m.*, CASE WHEN m.in_until > m.in_since THEN 1 ELSE 0 END AS entering,
                   ROW_NUMBER() OVER (PARTITION BY CASE WHEN m.in_until > m.in_since THEN 1 ELSE 0 END
                                      ORDER BY m.support_id) AS nth
            FROM member AS m WHERE m.in_until <> m.in_since
        ),
        listed AS MATERIALIZED (SELECT * FROM moved WHERE nth <= :limit)
        SELECT m.support_id, s.folio, s.aspirant_id, s.citizen_account_id, a.full_name,
               b.to_status, b.situacion_registral, b.state_code, b.district, b.municipality, b.seccion,
               u.to_status, u.situacion_registral, u.state_code, u.district, u.municipality, u.seccion, m.entering
        FROM listed AS m JOIN support AS s ON s.id = m.support_id JOIN aspirant AS a ON a.id = s.aspirant_id
             LEFT JOIN supportevent AS b ON b.id = m.at_since JOIN supportevent AS u ON u.id = m.at_until
        ORDER BY m.support_id"""), params | {"limit": limit}).all()
    if not rows:
        return [], []
    citizens = {row[0]: row[3] for row in rows}
    moves = _moves(session, cell, params, citizens, audience)
    entering: list[MovedSupport] = []
    leaving: list[MovedSupport] = []
    for row in rows:
        after = _standing(tuple(row[11:17]), audience)
        assert after is not None  # a support in the cell at `until`, or in it at `since`, existed at `until`
        (entering if row[17] else leaving).append(MovedSupport(
            support_id=row[0], folio=row[1], aspirant_id=row[2], aspirante=row[4],
            before=_standing(tuple(row[5:11]), audience), after=after, moves=moves.get(row[0], [])))
    return entering, leaving


def _standing(values: tuple[object, ...], audience: Audience) -> Standing | None:
    status, situacion, *place = values
    if status is None:
        return None
    return Standing(SupportStatus(str(status)), SituacionRegistral(str(situacion)), _place(place, audience))


def _place(values: list[object], audience: Audience) -> PlaceKey | None:
    # Where a citizen is registered is the roll's, not what the aspirant's side captured: kept from the aspirant.
    if audience is Audience.ASPIRANT:
        return None
    return PlaceKey.of(dict(zip(_PLACE, values, strict=True)))


def _moves(session: Session, cell: Cell, params: dict[str, object], citizens: dict[int, int | None],
           audience: Audience) -> dict[int, list[Move]]:
    """The events of these supports (keys of `citizens`: support id -> its citizen's account) between the two
    moments, oldest first."""
    events = session.exec(select(SupportEvent).where(
        col(SupportEvent.support_id).in_(list(citizens)), col(SupportEvent.at) > params["since"],
        col(SupportEvent.at) <= params["until"]).order_by(col(SupportEvent.support_id), col(SupportEvent.at),
                                                          col(SupportEvent.id))).all()
    actors = _actors(session, {e.actor_account_id for e in events if e.actor_account_id is not None},
                     process_id=cell.process_id)
    found: dict[int, list[Move]] = defaultdict(list)
    for event in events:
        found[event.support_id].append(_move(event, actors, citizens.get(event.support_id), audience))
    return found


def _move(event: SupportEvent, actors: dict[int, Actor], citizen: int | None, audience: Audience) -> Move:
    reported = event.reason.startswith(CITIZEN_REPORTS) or (
        event.actor_account_id is not None and event.actor_account_id == citizen)
    actor = _actor(event, actors, reported)
    reason: str | None = event.reason
    if audience is Audience.ASPIRANT:
        actor = Actor(ActorKind.WITHHELD) if reported else replace(actor, name=None)
        reason = None if reported else reason
    place = _place([getattr(event, name) for name in _PLACE], audience)
    return Move(at=event.at, from_status=event.from_status, to_status=event.to_status,
                situacion=event.situacion_registral, place=place, reason=reason, actor=actor)


def _actor(event: SupportEvent, actors: dict[int, Actor], reported: bool) -> Actor:
    if reported:  # by the citizen, signed in or through the public page with the credential: never named
        return Actor(ActorKind.ACCOUNT, Role.CITIZEN)
    if event.actor_account_id is not None:
        return actors.get(event.actor_account_id, Actor(ActorKind.ACCOUNT))
    if event.from_status is None:
        return Actor(ActorKind.INTAKE)
    return Actor(ActorKind.COMPULSA if event.reason.startswith(COMPULSA_REASON) else ActorKind.SYSTEM)


def _actors(session: Session, account_ids: Collection[int], *, process_id: int) -> dict[int, Actor]:
    """Each account by its role in this collection; named only when it acts for the OPL or is an aspirant (public
    people), never when it is a citizen or an auxiliary."""
    if not account_ids:
        return {}
    process = session.get(Process, process_id)
    opl_id = process.opl_id if process is not None else None
    aspirants = set(session.exec(select(Aspirant.id).where(Aspirant.process_id == process_id)))
    grants: dict[int, list[RoleGrant]] = defaultdict(list)
    for grant in session.exec(select(RoleGrant).where(col(RoleGrant.account_id).in_(account_ids))):
        grants[grant.account_id].append(grant)
    names = dict(session.exec(select(Account.id, Account.display_name).where(col(Account.id).in_(account_ids)))
                 .all())
    found = {}
    for account_id in account_ids:
        role = _role(grants[account_id], opl_id, aspirants)
        named = role in (Role.OPL_ADMIN, Role.REVIEWER, Role.ASPIRANT)
        found[account_id] = Actor(ActorKind.ACCOUNT, role, names.get(account_id) if named else None)
    return found


def _role(grants: list[RoleGrant], opl_id: int | None, aspirants: set[int | None]) -> Role | None:
    """The role the account holds in this process (its OPL's staff, one of its aspirants or their teams), else
    its first role elsewhere."""
    here = [g.role for g in grants if (g.opl_id is not None and g.opl_id == opl_id)
            or (g.aspirant_id is not None and g.aspirant_id in aspirants)]
    for held in (here, [g.role for g in grants]):
        for role in _ROLE_ORDER:
            if role in held:
                return role
    return None


# ---------------------------------------------------------------- whole tallies at a past moment


def tallies_at(*, session: Session, process_id: int, moment: datetime) -> dict[int, Tally]:
    """Every aspirant's report row as it stood at `moment`: the counters now, with each support moved since put
    back where its last event at or before the moment left it (one that did not exist yet counts nowhere)."""
    _one_snapshot(session)
    tallies: dict[int, Tally] = defaultdict(Tally)
    for aspirant, status, situacion, n in session.execute(text(
            "SELECT aspirant_id, status, situacion, sum(n) FROM reportdaycount WHERE process_id = :process "
            "GROUP BY aspirant_id, status, situacion"), {"process": process_id}):
        tallies[aspirant].add(status, situacion, int(n))
    # Each support moved since: back where it stood (its last event at or before the moment: side 0, none when it
    # was not received yet), out of where it stands now (its last event after the moment: side 2, always one).
    moved = session.execute(_query(f"""{_last_events_sql(None)}
        SELECT aspirant_id, CASE WHEN side = 0 THEN 1 ELSE -1 END, to_status, situacion_registral, count(*)
        FROM latest GROUP BY aspirant_id, side, to_status, situacion_registral"""),
        {"process": process_id, "since": moment, "until": moment})
    for aspirant, sign, status, situacion, n in moved:
        tallies[aspirant].add(status, situacion, int(sign) * int(n))
    return dict(tallies)
