"""The Resumen por candidatura's figures: the columns, the threshold and the dispersion rule, read from the counters
and the roll's tally."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from core.clock import utcnow
from registry.models import Aspirant, Opl, Process
from registry.reports.figures import by_day, by_place, summary, summary_json
from registry.reports.places import PlaceKey
from registry.states import GeoKind
from registry.verification.compulsa import verify_process
from tests.factories.processes import make_aspirant
from tests.factories.roll import Citizen, citizen, make_roll, place_support

CONTRACT_KEYS = {"aspirante", "enviados", "en_lista_nominal", "duplicados_mismo_aspirante",
                 "otra_situacion_registral", "con_inconsistencia", "en_procesamiento", "en_mesa_de_control",
                 "requeridos", "porcentaje", "otra_situacion_por_categoria"}


@pytest.fixture
def opl(session: Session, process: Process) -> Opl:
    found = session.get(Opl, process.opl_id)
    assert found is not None
    return found


def _roll(session: Session, opl: Opl) -> list[Citizen]:
    """Municipality 30: 100 citizens in two secciones; municipality 31: 50; municipality 32: 50 (one baja)."""
    people = ([citizen(municipality=30, seccion=1001 + n % 2) for n in range(100)]
              + [citizen(municipality=31, seccion=1100) for _ in range(50)]
              + [citizen(municipality=32, seccion=1200) for _ in range(49)]
              + [citizen(municipality=32, seccion=1200, situacion="baja_defuncion")])
    make_roll(session, opl=opl, citizens=people)
    return people


def _supports(session: Session, aspirant: Aspirant, people: list[Citizen]) -> None:
    assert aspirant.id is not None
    for n, person in enumerate(people):
        place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=person.cic,
                      received_at=utcnow() - timedelta(days=3) + timedelta(hours=n))
    session.commit()


def _verify(session: Session, process: Process) -> None:
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()


def test_threshold_and_dispersion_by_municipality(session: Session, opl: Opl, process: Process,
                                                  aspirant: Aspirant) -> None:
    process.threshold_percent = Decimal("3.0")  # of 199 vigentes: 5.97 -> 6 supports
    process.dispersion_unit, process.dispersion_min_share = GeoKind.MUNICIPALITY, Decimal("0.5")
    process.dispersion_unit_percent = Decimal("2.0")  # 100 -> 2, 50 -> 1, 49 -> 1
    session.add(process)
    people = _roll(session, opl)
    _supports(session, aspirant, [*people[:3], people[100], people[199]])  # 3 in 30, 1 in 31, a baja in 32
    _verify(session, process)
    assert process.id is not None
    [row] = summary(session=session, process_id=process.id)
    threshold = row.threshold
    assert (threshold.requeridos, threshold.contados, threshold.porcentaje) == (6, 4, Decimal("66.67"))
    dispersion = threshold.dispersion
    assert dispersion is not None
    assert (dispersion.units_total, dispersion.units_needed, dispersion.units_met) == (3, 2, 2)
    assert dispersion.met and not threshold.met
    missing = [(unit.key.municipality, unit.required, unit.counted, unit.missing) for unit in dispersion.units]
    assert missing[0] == (32, 1, 0, 1)  # the units still missing come first
    assert sorted(missing[1:]) == [(30, 2, 3, 0), (31, 1, 1, 0)]
    assert row.tally.enviados == 5 and row.tally.otra_situacion_registral == 1


def test_the_roll_size_set_on_the_process_is_the_threshold_base(session: Session, opl: Opl, process: Process,
                                                                aspirant: Aspirant) -> None:
    process.roll_size = 1_000_000
    session.add(process)
    _roll(session, opl)
    session.commit()
    assert process.id is not None
    [row] = summary(session=session, process_id=process.id)
    assert row.threshold.requeridos == 30_000 and row.threshold.porcentaje == Decimal("0.00")
    assert row.threshold.dispersion is None


def test_without_a_roll_the_threshold_is_unknown_not_zero(session: Session, process: Process,
                                                          aspirant: Aspirant) -> None:
    _supports(session, aspirant, [citizen()])
    assert process.id is not None
    [row] = summary(session=session, process_id=process.id)
    assert row.threshold.requeridos is None and row.threshold.porcentaje is None
    assert row.tally.en_procesamiento == 1


def test_every_aspirant_has_a_row_even_without_supports(session: Session, process: Process,
                                                        aspirant: Aspirant) -> None:
    make_aspirant(session, process=process, name="Beto Sin Apoyos")
    session.commit()
    assert process.id is not None
    rows = summary(session=session, process_id=process.id)
    assert [(row.aspirante, row.tally.enviados) for row in rows] == [("Aspirante Prueba", 0), ("Beto Sin Apoyos", 0)]
    json_rows = summary_json(rows)
    assert all(set(item) == CONTRACT_KEYS for item in json_rows)
    assert set(json_rows[0]["otra_situacion_por_categoria"]) == {  # type: ignore[arg-type]
        "duplicado_otro_aspirante", "en_padron_no_en_lista", "baja", "datos_no_encontrados", "fuera_de_ambito",
        "fuera_regimen_excepcion"}


def test_places_add_up_to_every_support_with_the_unlocated_row(session: Session, opl: Opl, process: Process,
                                                               aspirant: Aspirant) -> None:
    people = _roll(session, opl)
    _supports(session, aspirant, [*people[:2], people[150], citizen()])  # the last one is not in the roll
    _verify(session, process)
    assert process.id is not None
    rows = by_place(session=session, process_id=process.id, aspirant_id=aspirant.id, level=GeoKind.MUNICIPALITY)
    assert [(row.key.municipality, row.tally.enviados) for row in rows] == [(30, 2), (32, 1), (0, 1)]
    assert sum(row.tally.enviados for row in rows) == 4
    secciones = by_place(session=session, process_id=process.id, aspirant_id=None, level=GeoKind.SECCION,
                         within=PlaceKey(26, 0, 30, 0))
    assert [(row.key.seccion, row.tally.enviados) for row in secciones] == [(1001, 1), (1002, 1)]


def test_days_are_new_and_cumulative(session: Session, opl: Opl, process: Process, aspirant: Aspirant) -> None:
    people = _roll(session, opl)
    _supports(session, aspirant, people[:30])  # one an hour, over two or three local days
    _verify(session, process)
    assert process.id is not None
    days = by_day(session=session, process_id=process.id, aspirant_id=None)
    assert sum(day.tally.enviados for day in days) == 30
    assert days[-1].cumulative_enviados == 30 and days[-1].cumulative_en_lista_nominal == 30
    assert [day.day for day in days] == sorted(day.day for day in days)
