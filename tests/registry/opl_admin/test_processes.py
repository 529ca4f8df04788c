"""Processes created and edited by the OPL admin: stored as typed (local times to UTC), audited, honoured by the
compulsa (paper municipalities), and the two edits that would hurt citizens who already gave support refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from core.audit import AuditEvent
from core.clock import utcnow
from registry.models import Opl, Process, Support
from registry.opl_admin import NotFound
from registry.opl_admin.processes import create_process, form_of, processes_of_opl, update_process
from registry.opl_admin.validation import InvalidProcess, Problem, ProcessForm, validate_process
from registry.states import Channel, GeoKind, ScopeKind, SituacionRegistral, SupportStatus
from registry.verification.compulsa import verify_process
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl
from tests.factories.roll import citizen, make_roll, place_support

FORM = ProcessForm(nombre="Presidencia municipal de Lerdo", cargo="Presidencia municipal", ambito="municipio",
                   municipio="30", inicio="2026-01-10 08:00", fin="2099-02-08 23:59", umbral_porcentaje="2.5",
                   unidad_dispersion="seccion", dispersion_minima_porcentaje="50",
                   dispersion_porcentaje_por_unidad="1", lista_nominal="1,234,567", municipios_papel="4; 12 30")


@pytest.fixture
def opl(session: Session) -> Opl:
    return make_opl(session, short_name="IEPC Durango", state_code=26)


@pytest.fixture
def actor(session: Session, opl: Opl) -> int:
    account = make_account(session, role=None)
    assert account.id is not None
    return account.id


def _create(session: Session, opl: Opl, actor: int, form: ProcessForm = FORM) -> Process:
    assert opl.id is not None
    return create_process(session=session, opl_id=opl.id, form=form, actor_account_id=actor)


def test_a_process_is_stored_as_typed(session: Session, opl: Opl, actor: int) -> None:
    process = _create(session, opl, actor)
    assert (process.scope_kind, process.scope_state, process.scope_municipality) == (ScopeKind.MUNICIPALITY, 26, 30)
    assert process.starts_at.hour == 14 and process.starts_at.utcoffset() is not None  # 08:00 Mexico City
    assert process.threshold_percent == Decimal("2.5") and process.roll_size == 1_234_567
    assert (process.dispersion_unit, process.dispersion_min_share, process.dispersion_unit_percent) == (
        GeoKind.SECCION, Decimal("0.5"), Decimal("1"))
    summary = processes_of_opl(session=session, opl_id=opl.id or 0)[0]
    assert summary.paper_municipalities == (4, 12, 30)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "process_created")).one()
    again = form_of(session=session, opl_id=opl.id or 0, process_id=process.id or 0)
    assert (again.inicio, again.municipios_papel, again.dispersion_minima_porcentaje) == (
        "2026-01-10T08:00", "4, 12, 30", "50")


def test_the_same_name_twice_in_one_opl_is_refused(session: Session, opl: Opl, actor: int) -> None:
    _create(session, opl, actor)
    with pytest.raises(InvalidProcess) as refused:
        _create(session, opl, actor, replace(FORM, nombre="presidencia MUNICIPAL de lerdo"))
    assert refused.value.problems == {"nombre": Problem.NAME_TAKEN}


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"fin": "2026-01-01 00:00"}, "fin", Problem.END_BEFORE_START),
    ({"objeciones_inicio": "2027-03-01", "objeciones_fin": "2027-02-01"}, "objeciones_fin", Problem.END_BEFORE_START),
    ({"ambito": "estado"}, "municipio", Problem.NOT_FOR_SCOPE),
    ({"municipio": ""}, "municipio", Problem.MISSING),
    ({"ambito": "pais"}, "ambito", Problem.CHOICE),
    ({"umbral_porcentaje": "0"}, "umbral_porcentaje", Problem.PERCENT),
    ({"umbral_porcentaje": "1e400"}, "umbral_porcentaje", Problem.PERCENT),
    ({"umbral_porcentaje": "NaN"}, "umbral_porcentaje", Problem.PERCENT),
    ({"umbral_porcentaje": "2.12345"}, "umbral_porcentaje", Problem.PERCENT),
    ({"lista_nominal": "9" * 400}, "lista_nominal", Problem.NUMBER),
    ({"inicio": "2026-02-30 08:00"}, "inicio", Problem.DATE),
    ({"inicio": "10000-01-01"}, "inicio", Problem.DATE),
    ({"inicio": "0001-01-01"}, "inicio", Problem.DATE),
    ({"nombre": "Lerdo\x00"}, "nombre", Problem.CHARACTERS),
    ({"nombre": "Lerdo\u202e"}, "nombre", Problem.CHARACTERS),
    ({"nombre": "x" * 201}, "nombre", Problem.TOO_LONG),
    ({"unidad_dispersion": ""}, "unidad_dispersion", Problem.DISPERSION_INCOMPLETE),
    ({"dispersion_porcentaje_por_unidad": ""}, "unidad_dispersion", Problem.DISPERSION_INCOMPLETE),
    ({"municipios_papel": "4, 0"}, "municipios_papel", Problem.MUNICIPALITY_LIST),
    ({"municipios_papel": ", ".join(["1"] * 601)}, "municipios_papel", Problem.MUNICIPALITY_LIST),
    ({"muestra_revision_porcentaje": "100.5"}, "muestra_revision_porcentaje", Problem.NUMBER),
    ({"ritmo_captura_segundos": "0"}, "ritmo_captura_segundos", Problem.NUMBER),
])
def test_each_bad_field_is_named(changes: dict[str, str], field: str, problem: Problem) -> None:
    with pytest.raises(InvalidProcess) as refused:
        validate_process(replace(FORM, **changes))
    assert refused.value.problems[field] is problem


def test_another_opls_process_is_not_found(session: Session, opl: Opl, actor: int) -> None:
    process = _create(session, opl, actor)
    other = make_opl(session)
    with pytest.raises(NotFound):
        update_process(session=session, opl_id=other.id or 0, process_id=process.id or 0, form=FORM,
                       actor_account_id=actor)
    assert processes_of_opl(session=session, opl_id=other.id or 0, process_id=process.id) == []


def _paper_support(session: Session, process: Process, municipality: int) -> Support:
    aspirant = make_aspirant(session, process=process, name=f"Aspirante {municipality}")
    person = citizen(municipality=municipality)
    assert process.id is not None and aspirant.id is not None
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    make_roll(session, opl=opl, citizens=[person])
    return place_support(session, aspirant_id=aspirant.id, process_id=process.id, cic=person.cic,
                         channel=Channel.PAPER)


def verify(session: Session, process: Process) -> None:
    """As the compulsa's own tests run it: committed, then read afresh."""
    verify_process(session=session, process_id=process.id or 0, now=utcnow())
    session.commit()
    session.expire_all()


def test_the_compulsa_honours_the_paper_municipalities_typed_by_the_admin(session: Session, opl: Opl,
                                                                          actor: int) -> None:
    process = _create(session, opl, actor, replace(FORM, ambito="estado", municipio="", municipios_papel="12"))
    outside = _paper_support(session, process, municipality=30)
    verify(session, process)
    session.refresh(outside)
    assert (outside.situacion_registral, outside.status) == (SituacionRegistral.FUERA_REGIMEN_EXCEPCION,
                                                             SupportStatus.INVALID)


def test_a_paper_municipality_with_supports_cannot_be_withdrawn(session: Session, opl: Opl, actor: int) -> None:
    process = _create(session, opl, actor, replace(FORM, ambito="estado", municipio="", municipios_papel="12, 30"))
    inside = _paper_support(session, process, municipality=30)
    verify(session, process)
    session.refresh(inside)
    assert inside.municipality == 30
    with pytest.raises(InvalidProcess) as refused:
        update_process(session=session, opl_id=opl.id or 0, process_id=process.id or 0, actor_account_id=actor,
                       form=replace(FORM, ambito="estado", municipio="", municipios_papel="12"))
    assert refused.value.problems == {"municipios_papel": Problem.PAPER_IN_USE}
    update_process(session=session, opl_id=opl.id or 0, process_id=process.id or 0, actor_account_id=actor,
                   form=replace(FORM, ambito="estado", municipio="", municipios_papel="30"))  # 12 had none


def test_the_scope_of_a_process_with_supports_cannot_change(session: Session, opl: Opl, actor: int) -> None:
    process = _create(session, opl, actor)
    with_changed_name = replace(FORM, nombre="Otro nombre", municipio="31")
    update_process(session=session, opl_id=opl.id or 0, process_id=process.id or 0, form=with_changed_name,
                   actor_account_id=actor)  # no supports yet: allowed
    _paper_support(session, process, municipality=31)
    with pytest.raises(InvalidProcess) as refused:
        update_process(session=session, opl_id=opl.id or 0, process_id=process.id or 0, actor_account_id=actor,
                       form=replace(with_changed_name, municipio="32"))
    assert refused.value.problems == {"ambito": Problem.SCOPE_LOCKED}
