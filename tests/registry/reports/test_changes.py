"""«¿Qué cambió?»: for a report cell and two moments, the supports that moved in or out and the events that moved
them, derived from the support events alone; the cell's count at each moment agrees with a naive rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from auth.roles import Role
from core.clock import utcnow
from registry.disown import disown_support
from registry.models import Aspirant, Opl, Process, RollImport, Support
from registry.reports.categories import CATEGORIES, Category
from registry.reports.changes import MAX_LISTED, ActorKind, Audience, Changes, tallies_at, what_changed
from registry.reports.places import PlaceKey
from registry.review.decisions import Verdict, decide
from registry.review.queue import QueueFilters, claim_first_level
from registry.states import ReviewFlag, RollImportState, SituacionRegistral, SupportStatus
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant
from tests.factories.roll import Citizen, citizen, make_roll, place_support
from tests.registry.reports.timeline import NOWHERE, aspirant_of_supports, members, standings_at

T0 = utcnow().replace(microsecond=0) - timedelta(days=3)
HERMOSILLO, CAJEME = 30, 18


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def opl(session: Session, process: Process) -> Opl:
    found = session.get(Opl, process.opl_id)
    assert found is not None
    return found


@pytest.fixture
def other(session: Session, process: Process) -> Aspirant:
    return make_aspirant(session, process=process, name="Beto Aspirante")


def received(session: Session, aspirant: Aspirant, person: Citizen, hours: float, **keys: str) -> Support:
    assert aspirant.id is not None
    return place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id,
                         cic=keys.get("cic", person.cic), received_at=at(hours))


def verify(session: Session, process: Process, hours: float) -> None:
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=at(hours))
    session.commit()  # the compulsa's work table belongs to the transaction that made it (as the worker commits)
    session.expire_all()


def changed(session: Session, process: Process, since: float, until: float, **cell: object) -> Changes:
    assert process.id is not None
    found = what_changed(session=session, process_id=process.id, aspirant_id=cell.pop("aspirant_id", None),  # type: ignore[arg-type]
                         category=cell.pop("category", None), situacion=cell.pop("situacion", None),  # type: ignore[arg-type]
                         place=cell.pop("place", None), since=at(since), until=at(until), **cell)  # type: ignore[arg-type]
    return found


def folios(moved: list[object]) -> set[str]:
    return {m.folio for m in moved}  # type: ignore[attr-defined]


def test_a_support_received_and_verified_moves_into_en_lista_nominal_with_both_events(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    person = citizen(municipality=HERMOSILLO)
    make_roll(session, opl=opl, citizens=[person])
    support = received(session, aspirant, person, 1)
    verify(session, process, 2)

    found = changed(session, process, 0, 3, category=Category.EN_LISTA_NOMINAL)
    assert (found.count_since, found.count_until, found.net) == (0, 1, 1)
    assert (found.moved_in_total, found.moved_out_total) == (1, 0)
    [moved] = found.moved_in
    assert moved.folio == support.folio and moved.aspirante == aspirant.full_name
    assert moved.before is None  # not received yet at the first moment
    assert (moved.after.category, moved.after.place) == (Category.EN_LISTA_NOMINAL, PlaceKey(26, 5, HERMOSILLO, 1001))
    assert [(m.from_status, m.to_status, m.actor.kind) for m in moved.moves] == [
        (None, SupportStatus.RECEIVED, ActorKind.INTAKE), (SupportStatus.RECEIVED, SupportStatus.VALID,
                                                           ActorKind.COMPULSA)]
    assert "Compulsa con la Lista Nominal" in (moved.moves[1].reason or "")

    # Between the receipt and the compulsa it sat in processing: out of it afterwards, with the compulsa's event.
    processing = changed(session, process, 1.5, 3, category=Category.EN_PROCESAMIENTO)
    assert (processing.count_since, processing.count_until) == (1, 0)
    assert folios(processing.moved_out) == {support.folio} and processing.moved_in == []
    assert [m.actor.kind for m in processing.moved_out[0].moves] == [ActorKind.COMPULSA]


def test_nothing_moved_outside_the_window_and_later_moves_do_not_leak_into_it(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    received(session, aspirant, person, 1)
    verify(session, process, 5)  # after the window below

    found = changed(session, process, 2, 4, category=Category.EN_PROCESAMIENTO)
    assert (found.count_since, found.count_until, found.moved_in, found.moved_out) == (1, 1, [], [])
    assert changed(session, process, 2, 4, category=Category.EN_LISTA_NOMINAL).count_until == 0


def test_a_reviewers_decision_moves_a_support_out_named_for_the_opl_and_unnamed_for_the_aspirant(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    from registry.models import SupportFlag
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    reviewer = make_account(session, name="Revisora Uno", role=Role.REVIEWER, opl_id=opl.id)
    support = received(session, aspirant, person, 1)
    add(session, SupportFlag(support_id=support.id or 0, flag=ReviewFlag.MANUAL_CAPTURE, detail="prueba"))
    verify(session, process, 2)
    assert process.id is not None and reviewer.id is not None and opl.id is not None
    assert claim_first_level(session=session, process_id=process.id, opl_ids={opl.id}, reviewer_account_id=reviewer.id,
                             filters=QueueFilters(), now=at(3)) == support.id
    decide(session=session, support_id=support.id or 0, opl_ids={opl.id}, reviewer_account_id=reviewer.id,
           verdict=Verdict(valid=True), now=at(3))

    desk = changed(session, process, 2.5, 4, category=Category.EN_MESA_DE_CONTROL)
    assert (desk.count_since, desk.count_until) == (1, 0)
    [decision] = desk.moved_out[0].moves
    assert (decision.actor.kind, decision.actor.role, decision.actor.name) == (
        ActorKind.ACCOUNT, Role.REVIEWER, "Revisora Uno")
    assert decision.reason is not None and decision.reason.startswith("mesa de control")

    mine = changed(session, process, 2.5, 4, category=Category.EN_MESA_DE_CONTROL, aspirant_id=aspirant.id,
                   audience=Audience.ASPIRANT)
    [decision] = mine.moved_out[0].moves
    assert (decision.actor.role, decision.actor.name, decision.place) == (Role.REVIEWER, None, None)
    assert mine.moved_out[0].after.place is None  # where the citizen is registered is not the aspirant's to see


def test_the_citizens_own_report_is_withheld_from_the_aspirant_but_not_from_the_opl(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    owner = make_account(session, name="Ciudadana Real", role=Role.CITIZEN)
    support = received(session, aspirant, person, 1)
    support.citizen_account_id = owner.id
    session.add(support)
    verify(session, process, 2)
    assert owner.id is not None
    disown_support(session=session, account_id=owner.id, folio=support.folio, now=at(3))
    session.flush()

    for_opl = changed(session, process, 2.5, 4, category=Category.EN_LISTA_NOMINAL)
    [report] = for_opl.moved_out[0].moves
    assert (report.actor.role, report.actor.name) == (Role.CITIZEN, None)  # a citizen is never named
    assert report.reason is not None and "no dio este apoyo" in report.reason

    for_aspirant = changed(session, process, 2.5, 4, category=Category.EN_LISTA_NOMINAL, aspirant_id=aspirant.id,
                           audience=Audience.ASPIRANT)
    [report] = for_aspirant.moved_out[0].moves
    assert (report.actor.kind, report.actor.role, report.reason) == (ActorKind.WITHHELD, None, None)
    assert report.to_status is SupportStatus.IN_REVIEW  # what happened is still said: it went to the desk


def test_a_report_through_the_public_page_is_the_citizens_not_the_compulsas(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    from registry.disown import flag_disowned
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    support = received(session, aspirant, person, 1)
    verify(session, process, 2)
    flag_disowned(session=session, support=support, actor_account_id=None, now=at(3), via="verifica")  # no account
    session.flush()
    [report] = changed(session, process, 2.5, 4, category=Category.EN_LISTA_NOMINAL).moved_out[0].moves
    assert (report.actor.kind, report.actor.role) == (ActorKind.ACCOUNT, Role.CITIZEN)
    [report] = changed(session, process, 2.5, 4, category=Category.EN_LISTA_NOMINAL, aspirant_id=aspirant.id,
                       audience=Audience.ASPIRANT).moved_out[0].moves
    assert (report.actor.kind, report.reason) == (ActorKind.WITHHELD, None)


def test_a_new_roll_moves_a_citizen_between_municipalities_and_out_of_the_lista(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    mover, dies = citizen(municipality=HERMOSILLO), citizen(municipality=HERMOSILLO)
    stays = citizen(municipality=CAJEME)
    first = make_roll(session, opl=opl, citizens=[mover, dies, stays])
    s_mover, s_dies, _ = (received(session, aspirant, p, 1 + n / 10) for n, p in enumerate((mover, dies, stays)))
    verify(session, process, 2)
    _supersede(session, first)
    make_roll(session, opl=opl, citizens=[mover.moved(municipality=CAJEME, seccion=2002),
                                          dies.moved(situacion="baja_defuncion"), stays],
              cutoff=first.cutoff_date + timedelta(days=30))
    verify(session, process, 3)

    hermosillo = changed(session, process, 2.5, 4, place=PlaceKey(26, 0, HERMOSILLO, 0))
    assert (hermosillo.count_since, hermosillo.count_until) == (2, 1)  # the baja stays where it is registered
    assert folios(hermosillo.moved_out) == {s_mover.folio} and hermosillo.moved_in == []
    [move] = hermosillo.moved_out[0].moves
    assert move.place == PlaceKey(26, 5, CAJEME, 2002) and "cambia de sección" in (move.reason or "")
    cajeme = changed(session, process, 2.5, 4, place=PlaceKey(26, 0, CAJEME, 0))
    assert (cajeme.count_since, cajeme.count_until, folios(cajeme.moved_in)) == (1, 2, {s_mover.folio})

    counting_here = changed(session, process, 2.5, 4, category=Category.EN_LISTA_NOMINAL,
                            place=PlaceKey(26, 0, HERMOSILLO, 0))
    assert folios(counting_here.moved_out) == {s_mover.folio, s_dies.folio}
    baja = changed(session, process, 2.5, 4, category=Category.OTRA_SITUACION_REGISTRAL,
                   situacion=SituacionRegistral.BAJA)
    assert (baja.count_since, baja.count_until, folios(baja.moved_in)) == (0, 1, {s_dies.folio})


def _supersede(session: Session, roll: RollImport) -> None:
    roll.state = RollImportState.SUPERSEDED
    session.add(roll)
    session.flush()


def test_the_sin_ubicar_cell_holds_supports_not_located_yet(session: Session, process: Process, opl: Opl,
                                                             aspirant: Aspirant) -> None:
    person, unknown = citizen(), citizen()
    make_roll(session, opl=opl, citizens=[person])
    found_one = received(session, aspirant, person, 1)
    missing = received(session, aspirant, unknown, 1.1)  # not in the roll: never located
    verify(session, process, 2)
    nowhere = changed(session, process, 0, 3, place=NOWHERE)
    assert (nowhere.count_since, nowhere.count_until, folios(nowhere.moved_in)) == (0, 1, {missing.folio})
    left = changed(session, process, 1.5, 3, place=NOWHERE)
    assert (left.count_since, left.count_until, folios(left.moved_out)) == (2, 1, {found_one.folio})


def test_one_aspirants_cell_lists_only_their_supports(session: Session, process: Process, opl: Opl,
                                                      aspirant: Aspirant, other: Aspirant) -> None:
    mine, theirs = citizen(), citizen()
    make_roll(session, opl=opl, citizens=[mine, theirs])
    own = received(session, aspirant, mine, 1)
    received(session, other, theirs, 1)
    verify(session, process, 2)
    found = changed(session, process, 0, 3, category=Category.EN_LISTA_NOMINAL, aspirant_id=aspirant.id)
    assert (found.count_until, folios(found.moved_in)) == (1, {own.folio})
    assert changed(session, process, 0, 3, category=Category.EN_LISTA_NOMINAL).count_until == 2


def test_the_lists_are_bounded_and_the_totals_are_true(session: Session, process: Process, opl: Opl,
                                                       aspirant: Aspirant) -> None:
    people = [citizen() for _ in range(5)]
    make_roll(session, opl=opl, citizens=people)
    for n, person in enumerate(people):
        received(session, aspirant, person, 1 + n / 100)
    verify(session, process, 2)
    found = changed(session, process, 0, 3, category=Category.EN_LISTA_NOMINAL, limit=2)
    assert (found.moved_in_total, len(found.moved_in), found.truncated, found.net) == (5, 2, True, 5)
    assert MAX_LISTED >= 500


def test_counts_at_any_two_moments_agree_with_a_naive_rebuild_from_the_events(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant, other: Aspirant) -> None:
    people = [citizen(municipality=HERMOSILLO if n % 2 else CAJEME) for n in range(6)]
    make_roll(session, opl=opl, citizens=people[:4])
    for n, person in enumerate(people):
        received(session, aspirant if n % 3 else other, person, 1 + n / 10)
    received(session, other, people[1], 1.9)  # the same citizen for another aspirant: a duplicate
    verify(session, process, 2)
    received(session, aspirant, people[2], 2.5)  # received after the compulsa: waits in processing
    assert process.id is not None
    owners = aspirant_of_supports(session, process.id)
    for since, until in ((0, 1.3), (0, 3), (1.3, 2), (1.5, 2.7), (2, 3), (2.6, 3)):
        before, after = standings_at(session, process.id, at(since)), standings_at(session, process.id, at(until))
        for category in (None, *CATEGORIES):
            for place in (None, NOWHERE, PlaceKey(26, 0, HERMOSILLO, 0), PlaceKey(26, 0, CAJEME, 0)):
                for who in (None, aspirant.id):
                    cell = {"category": category, "place": place}
                    found = changed(session, process, since, until, aspirant_id=who, **cell)
                    was, now = members(before, owners, who, **cell), members(after, owners, who, **cell)
                    assert (found.count_since, found.count_until) == (len(was), len(now)), (since, until, cell)
                    assert {m.support_id for m in found.moved_in} == now - was
                    assert {m.support_id for m in found.moved_out} == was - now


def test_every_aspirants_row_at_a_past_moment_agrees_with_a_naive_rebuild(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant, other: Aspirant) -> None:
    people = [citizen() for _ in range(4)]
    make_roll(session, opl=opl, citizens=people[:3])
    for n, person in enumerate(people):
        received(session, aspirant if n % 2 else other, person, 1 + n / 10)
    verify(session, process, 2)
    received(session, aspirant, people[0], 2.5)  # a duplicate, received later, still in processing
    assert process.id is not None
    owners = aspirant_of_supports(session, process.id)
    for moment in (0.5, 1.15, 1.5, 2, 2.2, 3):
        rows = tallies_at(session=session, process_id=process.id, moment=at(moment))
        naive = standings_at(session, process.id, at(moment))
        for who in (aspirant.id, other.id):
            expected = {c: sum(1 for k, s in naive.items() if owners[k] == who and s.category is c) for c in CATEGORIES}
            got = rows[who].counts if who in rows else dict.fromkeys(CATEGORIES, 0)  # type: ignore[index]
            assert got == expected, (moment, who)
