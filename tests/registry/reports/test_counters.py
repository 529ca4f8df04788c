"""The report counters move with every support event, in the same transaction, and always equal a recount."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from core.clock import utcnow
from registry.models import Aspirant, Opl, Process, Support, SupportEvent
from registry.reports.categories import Category, category_of
from registry.reports.counters import counter_differences, recount
from registry.reports.figures import by_place, process_total
from registry.states import GeoKind, RollImportState, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from tests.factories.processes import make_aspirant
from tests.factories.roll import Citizen, citizen, make_roll, place_support

S = SituacionRegistral


@pytest.fixture
def aspirant(session: Session, process: Process) -> Aspirant:
    return make_aspirant(session, process=process, name="Ana Aspirante")


@pytest.fixture
def opl(session: Session, process: Process) -> Opl:
    found = session.get(Opl, process.opl_id)
    assert found is not None
    return found


def _support(session: Session, aspirant: Aspirant, person: Citizen, minutes: int = 0) -> Support:
    assert aspirant.id is not None
    return place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=person.cic,
                         received_at=utcnow() - timedelta(hours=5) + timedelta(minutes=minutes))


def _verify(session: Session, process: Process) -> None:
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    session.expire_all()


def _cells(session: Session, table: str) -> dict[tuple[object, ...], int]:
    return {tuple(row[:-1]): row[-1] for row in session.execute(text(
        f"SELECT status, situacion, n FROM {table} WHERE n <> 0"))}


def test_a_received_support_is_counted_unlocated_on_its_local_day(session: Session, process: Process,
                                                                  aspirant: Aspirant) -> None:
    support = _support(session, aspirant, citizen())
    session.commit()
    assert _cells(session, "reportdaycount") == {("received", "sin_verificar"): 1}
    located = session.execute(text("SELECT state_code, municipality, n FROM reportplacecount")).all()
    assert [tuple(row) for row in located] == [(0, 0, 1)]
    assert support.received_day is not None
    assert counter_differences(session=session) == []


def test_the_compulsa_moves_each_support_between_cells_once(session: Session, opl: Opl, process: Process,
                                                             aspirant: Aspirant) -> None:
    people = [citizen(), citizen(), citizen(situacion="baja_defuncion"), citizen(state_code=2)]
    make_roll(session, opl=opl, citizens=people[:4])
    for minutes, person in enumerate([*people, people[0], citizen()]):  # a repeat, and one not in the roll
        _support(session, aspirant, person, minutes)
    session.commit()
    _verify(session, process)
    assert _cells(session, "reportdaycount") == {
        ("valid", "en_lista_nominal"): 2, ("invalid", "baja"): 1, ("invalid", "fuera_de_ambito"): 1,
        ("invalid", "duplicado_mismo_aspirante"): 1, ("invalid", "datos_no_encontrados"): 1}
    assert counter_differences(session=session) == []
    _verify(session, process)  # nothing changes the second time: nothing is counted twice
    assert counter_differences(session=session) == []
    assert process_total(session=session, process_id=process.id or 0).enviados == 6


def test_a_new_cut_off_moves_a_citizen_to_another_municipality_with_an_event(
        session: Session, opl: Opl, process: Process, aspirant: Aspirant) -> None:
    person = citizen()
    first = make_roll(session, opl=opl, citizens=[person])
    support = _support(session, aspirant, person)
    session.commit()
    _verify(session, process)
    assert process.id is not None
    before = by_place(session=session, process_id=process.id, aspirant_id=None, level=GeoKind.MUNICIPALITY)
    assert [(row.key.municipality, row.tally.en_lista_nominal) for row in before] == [(30, 1)]
    first.state = RollImportState.SUPERSEDED
    session.add(first)
    session.flush()
    make_roll(session, opl=opl, citizens=[person.moved(municipality=31, seccion=1500)], cutoff=date(2026, 11, 15))
    session.commit()
    _verify(session, process)
    after = by_place(session=session, process_id=process.id, aspirant_id=None, level=GeoKind.MUNICIPALITY)
    assert [(row.key.municipality, row.tally.en_lista_nominal) for row in after] == [(31, 1)]
    last = session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                        .order_by(col(SupportEvent.id).desc())).first()
    assert last is not None and (last.municipality, last.seccion) == (31, 1500)
    assert "sección" in last.reason
    assert counter_differences(session=session) == []


def test_a_person_decision_moves_the_counters_in_its_transaction(session: Session, opl: Opl, process: Process,
                                                                  aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    support = _support(session, aspirant, person)
    session.commit()
    _verify(session, process)
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                      situacion=S.CON_INCONSISTENCIA, reason="fotocopia", actor_account_id=None, now=utcnow())
    session.rollback()  # a decision that fails leaves the counters as they were
    assert counter_differences(session=session) == []
    support = session.get(Support, support.id)
    assert support is not None
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                      situacion=S.CON_INCONSISTENCIA, reason="fotocopia", actor_account_id=None, now=utcnow())
    session.commit()
    assert process.id is not None
    total = process_total(session=session, process_id=process.id)
    assert (total.enviados, total.con_inconsistencia, total.en_lista_nominal) == (1, 1, 0)
    assert counter_differences(session=session) == []


def test_a_drifted_counter_is_found_and_rebuilt(session: Session, process: Process, aspirant: Aspirant) -> None:
    _support(session, aspirant, citizen())
    session.commit()
    session.execute(text("UPDATE reportdaycount SET n = n + 1"))
    differences = counter_differences(session=session)
    assert [(d.table, d.counted, d.recounted) for d in differences] == [("reportdaycount", 2, 1)]
    recount(session=session)
    assert counter_differences(session=session) == []


@pytest.mark.parametrize("status", list(SupportStatus))
@pytest.mark.parametrize("situacion", list(SituacionRegistral))
def test_every_status_and_situacion_falls_in_exactly_one_category(status: SupportStatus,
                                                                  situacion: SituacionRegistral) -> None:
    assert category_of(status, situacion) in set(Category)


def test_waiting_supports_are_in_their_own_columns_whatever_their_situacion() -> None:
    assert category_of(SupportStatus.RECEIVED, S.DUPLICADO_OTRO_ASPIRANTE) is Category.EN_PROCESAMIENTO
    assert category_of(SupportStatus.CONTESTED, S.BAJA) is Category.EN_MESA_DE_CONTROL
    assert category_of(SupportStatus.INVALID, S.BAJA) is Category.OTRA_SITUACION_REGISTRAL
    assert category_of(SupportStatus.INVALID, S.DUPLICADO_MISMO_ASPIRANTE) is Category.DUPLICADOS_MISMO_ASPIRANTE



def test_a_support_remembered_from_before_the_compulsa_still_moves_from_where_it_stands(
        session: Session, opl: Opl, process: Process, aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    support = _support(session, aspirant, person)
    session.commit()
    assert process.id is not None and support.status is SupportStatus.RECEIVED
    verify_process(session=session, process_id=process.id, now=utcnow())  # set-based: `support` is not updated
    event = record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                              situacion=S.CON_INCONSISTENCIA, reason="fotocopia", actor_account_id=None, now=utcnow())
    session.commit()
    assert event.from_status is SupportStatus.VALID and event.municipality == person.municipality
    assert counter_differences(session=session) == []
