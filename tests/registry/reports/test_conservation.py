"""Issue 13's first acceptance test: supports go through every category — received, the compulsa (en Lista
Nominal, duplicado del mismo aspirante, and otra situación: baja, no encontrado, fuera de ámbito, en padrón sin
lista, duplicado con otro aspirante), the mesa de control (valid, inconsistency), objections (upheld, dismissed) and
a new cut-off of the roll that moves a citizen to another municipality and removes another (baja). After every
step the municipality report's totals are conserved (every support sent is in exactly one column and one place,
and none ever disappears), the counters equal a naive GROUP BY over the supports, and «qué cambió» between the
step's two moments lists each support that moved, with the event that moved it — for every category and every
municipality, checked against a naive rebuild from all the events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from registry.models import Aspirant, Opl, Process, RollImport, Support, SupportFlag
from registry.objections.filing import file_objections
from registry.reports.categories import CATEGORIES, Category
from registry.reports.changes import ActorKind, Changes, what_changed
from registry.reports.counters import counter_differences
from registry.reports.figures import Tally, by_place, process_total, summary
from registry.reports.places import PlaceKey
from registry.review.decisions import Verdict, decide
from registry.review.objections import answer_objection
from registry.review.queue import QueueFilters, claim_first_level, claim_second_level
from registry.states import GeoKind, ReviewFlag, RollImportState, SituacionRegistral, SupportStatus
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant
from tests.factories.roll import Citizen, citizen, make_roll, place_support
from tests.registry.reports.timeline import NOWHERE, aspirant_of_supports, members, standings_at

T0 = utcnow().replace(second=0, microsecond=0) - timedelta(days=2)  # on the minute: the page's moments are
HERMOSILLO, CAJEME, NOGALES = 30, 18, 43
S = SituacionRegistral


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class World:
    session: Session
    process: Process
    opl: Opl
    a: Aspirant
    b: Aspirant
    reviewer: int
    a_account: int
    people: dict[str, Citizen]
    client: TestClient  # signed in as a reviewer of the OPL
    supports: dict[str, Support] = field(default_factory=dict)
    moment: float = 0.0  # when the last step ended

    @property
    def process_id(self) -> int:
        assert self.process.id is not None
        return self.process.id

    @property
    def opl_ids(self) -> set[int]:
        assert self.opl.id is not None
        return {self.opl.id}

    def ids(self, *names: str) -> set[int]:
        return {self.supports[name].id or 0 for name in names}


@pytest.fixture
def world(session: Session, process: Process, client: TestClient, sign_in_with_role: object) -> World:
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    a = make_aspirant(session, process=process, name="Ana Aspirante")
    b = make_aspirant(session, process=process, name="Beto Aspirante")
    people = {
        "lista": citizen(municipality=HERMOSILLO), "dos_veces": citizen(municipality=HERMOSILLO),
        "baja": citizen(municipality=CAJEME, situacion="baja_defuncion"), "fuera": citizen(state_code=25),
        "compartido": citizen(municipality=CAJEME), "revisar_ok": citizen(municipality=NOGALES),
        "revisar_mal": citizen(municipality=NOGALES), "padron": citizen(situacion="padron_sin_lista"),
        "se_muda": citizen(municipality=HERMOSILLO),
    }
    make_roll(session, opl=opl, citizens=list(people.values()))
    reviewer = make_account(session, name="Revisora", role=Role.REVIEWER, opl_id=opl.id).id
    a_account = make_account(session, name="Ana Aspirante", role=Role.ASPIRANT, aspirant_id=a.id).id
    assert reviewer is not None and a_account is not None
    session.commit()
    sign_in_with_role(client, Role.REVIEWER, opl_id=opl.id)  # type: ignore[operator]
    return World(session, process, opl, a, b, reviewer, a_account, people, client)


# ---------------------------------------------------------------- the steps


def receive(w: World) -> None:
    plan = [("lista", w.a, "lista"), ("dos_veces_1", w.a, "dos_veces"), ("dos_veces_2", w.a, "dos_veces"),
            ("baja", w.a, "baja"), ("no_encontrado", w.a, None), ("fuera", w.a, "fuera"),
            ("compartido_b", w.b, "compartido"), ("compartido_a", w.a, "compartido"),
            ("revisar_ok", w.a, "revisar_ok"), ("revisar_mal", w.a, "revisar_mal"), ("padron", w.a, "padron"),
            ("se_muda", w.a, "se_muda")]
    for n, (name, aspirant, person) in enumerate(plan):
        assert aspirant.id is not None
        cic = w.people[person].cic if person else "900000001"
        w.supports[name] = place_support(w.session, aspirant_id=aspirant.id, process_id=w.process_id, cic=cic,
                                         received_at=at(1 + n / 100))
    for name in ("revisar_ok", "revisar_mal"):  # typed by hand: the mesa de control looks before they count
        add(w.session, SupportFlag(support_id=w.supports[name].id or 0, flag=ReviewFlag.MANUAL_CAPTURE, detail="-"))


def compulsa(w: World, hours: float) -> None:
    verify_process(session=w.session, process_id=w.process_id, now=at(hours))
    w.session.commit()  # the compulsa's work table belongs to its transaction, as in the worker
    w.session.expire_all()


def review(w: World) -> None:
    for _ in range(2):
        held = claim_first_level(session=w.session, process_id=w.process_id, opl_ids=w.opl_ids,
                                 reviewer_account_id=w.reviewer, filters=QueueFilters(), now=at(3))
        assert held is not None
        ok = held == w.supports["revisar_ok"].id
        inconsistency = None if ok else _inconsistency_id(w)
        decide(session=w.session, support_id=held, opl_ids=w.opl_ids, reviewer_account_id=w.reviewer,
               verdict=Verdict(valid=ok, inconsistency_id=inconsistency, comment="" if ok else "fotocopia"),
               now=at(3))


def _inconsistency_id(w: World) -> int:
    from registry.catalogue import catalogue
    assert w.opl.id is not None
    kinds = [k for k in catalogue(session=w.session, opl_id=w.opl.id) if not k.requires_comment]
    assert kinds[0].id is not None
    return kinds[0].id


def object_to(w: World) -> None:
    assert w.a.id is not None
    file_objections(session=w.session, aspirant_ids={w.a.id}, support_ids=w.ids("no_encontrado", "padron"),
                    argument="La credencial es vigente", actor_account_id=w.a_account, now=at(4))


def answer(w: World) -> None:
    for _ in range(2):
        held = claim_second_level(session=w.session, process_id=w.process_id, opl_ids=w.opl_ids,
                                  reviewer_account_id=w.reviewer, now=at(5))
        assert held is not None
        answer_objection(session=w.session, support_id=held, opl_ids=w.opl_ids, reviewer_account_id=w.reviewer,
                         uphold=held == w.supports["no_encontrado"].id, answer="Revisado", now=at(5))


def new_cutoff(w: World) -> None:
    current = w.session.get(RollImport, _current_roll_id(w))
    assert current is not None
    current.state = RollImportState.SUPERSEDED
    w.session.add(current)
    w.session.flush()
    moved = dict(w.people, se_muda=w.people["se_muda"].moved(municipality=CAJEME, seccion=2002),
                 lista=w.people["lista"].moved(situacion="baja_perdida_vigencia"))
    make_roll(w.session, opl=w.opl, citizens=list(moved.values()), cutoff=current.cutoff_date + timedelta(days=31))
    compulsa(w, 6)


def _current_roll_id(w: World) -> int:
    from registry.verification.compulsa import current_roll
    assert w.opl.id is not None
    roll = current_roll(session=w.session, opl_id=w.opl.id)
    assert roll is not None and roll.id is not None
    return roll.id


# ---------------------------------------------------------------- the checks


def _conserved(w: World) -> None:
    """Every support sent is in one column and one municipality row; the report's totals equal the supports."""
    sent = len(w.supports)
    rows = by_place(session=w.session, process_id=w.process_id, aspirant_id=None, level=GeoKind.MUNICIPALITY)
    by_municipality, by_aspirant = Tally(), Tally()
    for row in rows:
        assert row.tally.conserved()
        by_municipality.merge(row.tally)
    for row in summary(session=w.session, process_id=w.process_id):
        assert row.tally.conserved()
        by_aspirant.merge(row.tally)
    total = process_total(session=w.session, process_id=w.process_id)
    assert by_municipality.enviados == by_aspirant.enviados == total.enviados == sent
    assert by_municipality.counts == by_aspirant.counts == total.counts
    assert by_municipality.otra == by_aspirant.otra == total.otra
    assert sum(total.counts.values()) == total.enviados
    assert counter_differences(session=w.session, process_id=w.process_id) == []


def _municipalities(w: World) -> list[PlaceKey]:
    """Every municipality any support has stood in, and the sin ubicar row."""
    keys = {PlaceKey(s.place.state_code, 0, s.place.municipality, 0)
            for moment in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 7)
            for s in standings_at(w.session, w.process_id, at(moment)).values() if s.place.located}
    return [*sorted(keys, key=PlaceKey.sort_key), NOWHERE]


def _explained(w: World, since: float, until: float) -> dict[object, Changes]:
    """«Qué cambió» for every category and every municipality between the two moments, each equal to a naive
    rebuild from all the events: the counts at both moments and exactly the supports that moved in and out, each
    with at least one event of the window."""
    before, after = standings_at(w.session, w.process_id, at(since)), standings_at(w.session, w.process_id, at(until))
    owners = aspirant_of_supports(w.session, w.process_id)
    cells: list[dict[str, object]] = [{"category": c} for c in (None, *CATEGORIES)]
    cells += [{"place": p} for p in _municipalities(w)]
    found = {}
    for cell in cells:
        changes = what_changed(session=w.session, process_id=w.process_id, aspirant_id=None,
                               category=cell.get("category"), situacion=None, place=cell.get("place"),  # type: ignore[arg-type]
                               since=at(since), until=at(until))
        was, now = members(before, owners, **cell), members(after, owners, **cell)
        assert (changes.count_since, changes.count_until) == (len(was), len(now)), cell
        assert {m.support_id for m in changes.moved_in} == now - was, cell
        assert {m.support_id for m in changes.moved_out} == was - now, cell
        assert not changes.truncated
        for moved in changes.moved_in + changes.moved_out:
            assert moved.moves and all(at(since) < m.at <= at(until) for m in moved.moves)
        found[cell.get("category") or cell.get("place")] = changes
        _on_the_page(w, cell, since, until, changes)
    everything = found[None]
    assert everything.moved_out == []  # a support never leaves the report: it only moves between columns
    return found


def _on_the_page(w: World, cell: dict[str, object], since: float, until: float, changes: Changes) -> None:
    """The OPL's «¿Qué cambió?» page for the same cell and moments lists the same supports and counts."""
    zone = ZoneInfo(w.process.timezone)
    query: dict[str, object] = {"proceso": w.process_id, "desde": at(since).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                                "hasta": at(until).astimezone(zone).strftime("%Y-%m-%dT%H:%M")}
    category, place = cell.get("category"), cell.get("place")
    if isinstance(category, Category):
        query["categoria"] = category.value
    if isinstance(place, PlaceKey):
        query |= {"estado": place.state_code} | ({"municipio": place.municipality} if place.municipality else {})
    answer = w.client.get(f"/reportes/cambios?{urlencode(query)}")
    assert answer.status_code == 200
    page = BeautifulSoup(answer.text, "html.parser")
    assert not page.select(".message-warning")
    figures = {dd["data-cifra"]: dd.get_text(strip=True) for dd in page.select("#cambios-resumen dd")}
    assert (figures["antes"], figures["despues"]) == (f"{changes.count_since:,}", f"{changes.count_until:,}")
    for key, moved in (("entraron", changes.moved_in), ("salieron", changes.moved_out)):
        assert {item["data-folio"] for item in page.select(f"#lista-{key} > li")} == {m.folio for m in moved}


def _ids(changes: Changes, direction: str) -> set[int]:
    return {m.support_id for m in getattr(changes, direction)}


def _last_actor(changes: Changes, direction: str) -> set[tuple[ActorKind, Role | None]]:
    return {(m.moves[-1].actor.kind, m.moves[-1].actor.role) for m in getattr(changes, direction)}


Step = Callable[[World], None]


def _step(w: World, action: Step, ends: float) -> dict[object, Changes]:
    action(w)
    w.session.commit()  # the page reads through the app's own connection
    _conserved(w)
    found = _explained(w, w.moment, ends)
    w.moment = ends
    return found


def test_every_move_conserves_the_municipality_report_and_is_explained_by_its_events(world: World) -> None:
    w = world
    found = _step(w, receive, 1.5)
    sent = len(w.supports)
    assert (found[None].count_since, found[None].count_until, len(found[None].moved_in)) == (0, sent, sent)
    assert found[Category.EN_PROCESAMIENTO].count_until == sent
    assert found[NOWHERE].count_until == sent  # nothing located before the compulsa

    found = _step(w, lambda w: compulsa(w, 2), 2.5)
    assert _ids(found[Category.EN_PROCESAMIENTO], "moved_out") == set(owner for owner in w.ids(*w.supports))
    assert _ids(found[Category.EN_LISTA_NOMINAL], "moved_in") == w.ids("lista", "dos_veces_1", "compartido_b",
                                                                         "se_muda")
    assert _ids(found[Category.DUPLICADOS_MISMO_ASPIRANTE], "moved_in") == w.ids("dos_veces_2")
    assert _ids(found[Category.OTRA_SITUACION_REGISTRAL], "moved_in") == w.ids(
        "baja", "no_encontrado", "fuera", "compartido_a", "padron")
    assert _ids(found[Category.EN_MESA_DE_CONTROL], "moved_in") == w.ids("revisar_ok", "revisar_mal")
    assert _last_actor(found[Category.EN_PROCESAMIENTO], "moved_out") == {(ActorKind.COMPULSA, None)}
    assert found[PlaceKey(26, 0, HERMOSILLO, 0)].count_until == 5  # lista, dos veces (2), padrón, se muda
    assert found[PlaceKey(25, 0, HERMOSILLO, 0)].count_until == 1  # fuera de ámbito: located, outside the state
    assert found[NOWHERE].count_until == 1  # not found in the roll: never located
    otra = _situaciones(w)
    assert otra == {S.BAJA: 1, S.DATOS_NO_ENCONTRADOS: 1, S.FUERA_DE_AMBITO: 1, S.DUPLICADO_OTRO_ASPIRANTE: 1,
                    S.EN_PADRON_NO_EN_LISTA: 1, S.FUERA_REGIMEN_EXCEPCION: 0}

    found = _step(w, review, 3.5)
    assert _ids(found[Category.EN_MESA_DE_CONTROL], "moved_out") == w.ids("revisar_ok", "revisar_mal")
    assert _ids(found[Category.EN_LISTA_NOMINAL], "moved_in") == w.ids("revisar_ok")
    assert _ids(found[Category.CON_INCONSISTENCIA], "moved_in") == w.ids("revisar_mal")
    assert _last_actor(found[Category.EN_MESA_DE_CONTROL], "moved_out") == {(ActorKind.ACCOUNT, Role.REVIEWER)}
    assert found[PlaceKey(26, 0, NOGALES, 0)].moved_in == []  # a decision moves no one between places

    found = _step(w, object_to, 4.5)
    assert _ids(found[Category.OTRA_SITUACION_REGISTRAL], "moved_out") == w.ids("no_encontrado", "padron")
    assert _ids(found[Category.EN_MESA_DE_CONTROL], "moved_in") == w.ids("no_encontrado", "padron")
    assert _last_actor(found[Category.EN_MESA_DE_CONTROL], "moved_in") == {(ActorKind.ACCOUNT, Role.ASPIRANT)}

    found = _step(w, answer, 5.5)
    assert _ids(found[Category.EN_MESA_DE_CONTROL], "moved_out") == w.ids("no_encontrado", "padron")
    assert _ids(found[Category.EN_LISTA_NOMINAL], "moved_in") == w.ids("no_encontrado")  # upheld: it counts
    assert _ids(found[Category.OTRA_SITUACION_REGISTRAL], "moved_in") == w.ids("padron")  # dismissed: back
    upheld = next(m for m in found[Category.EN_LISTA_NOMINAL].moved_in)
    assert (upheld.moves[-1].reason or "").startswith("objeción procedente")

    found = _step(w, new_cutoff, 7)
    hermosillo, cajeme = found[PlaceKey(26, 0, HERMOSILLO, 0)], found[PlaceKey(26, 0, CAJEME, 0)]
    assert _ids(hermosillo, "moved_out") == w.ids("se_muda") and hermosillo.moved_in == []
    assert _ids(cajeme, "moved_in") == w.ids("se_muda") and cajeme.moved_out == []
    assert (hermosillo.net, cajeme.net) == (-1, 1)
    [move] = next(m for m in cajeme.moved_in).moves
    assert move.place == PlaceKey(26, 5, CAJEME, 2002) and move.actor.kind is ActorKind.COMPULSA
    assert _ids(found[Category.EN_LISTA_NOMINAL], "moved_out") == w.ids("lista")  # now a baja
    assert _ids(found[Category.OTRA_SITUACION_REGISTRAL], "moved_in") == w.ids("lista")
    assert found[Category.EN_LISTA_NOMINAL].moved_in == []  # se muda still counts, in its new municipality
    assert w.session.get(Support, w.supports["se_muda"].id).status is SupportStatus.VALID  # type: ignore[union-attr]

    # Over the whole collection: nothing was lost, and every support's whole path is explained.
    whole = _explained(w, 0, 7)[None]
    assert (whole.count_since, whole.count_until, len(whole.moved_in)) == (0, sent, sent)


def _situaciones(w: World) -> dict[SituacionRegistral, int]:
    total = process_total(session=w.session, process_id=w.process_id)
    return dict(total.otra)
