"""The file for INE's roll office (seed 001): its columns and where each value comes from, the file's name, the
category filter, one query for any number of supports, scope and audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import utcnow
from registry.models import Aspirant, Opl, PaperForm, Process, Support
from registry.reports.categories import CATEGORIES, Category, category_of
from registry.reports.ine_export import (
    EXPORTED,
    HEADER,
    NotFound,
    export_rows,
    file_stem,
    in_category,
    open_export,
)
from registry.states import Channel, SituacionRegistral, SupportStatus
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.processes import make_aspirant, make_opl
from tests.factories.roll import citizen, make_roll, place_support

T0 = utcnow() - timedelta(days=2)


@pytest.fixture
def opl(session: Session, process: Process) -> Opl:
    found = session.get(Opl, process.opl_id)
    assert found is not None
    return found


def support(session: Session, aspirant: Aspirant, *, minutes: int = 0, channel: Channel = Channel.AUXILIARY,
            **keys: str) -> Support:
    assert aspirant.id is not None
    return place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, channel=channel,
                         received_at=T0 + timedelta(minutes=minutes), **keys)  # type: ignore[arg-type]


def verify(session: Session, process: Process) -> None:
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    session.expire_all()


def rows(session: Session, aspirant: Aspirant, category: Category | None = None) -> list[tuple[Any, ...]]:
    assert aspirant.id is not None
    return list(export_rows(session=session, aspirant_id=aspirant.id, category=category))


def test_the_columns_are_seed_001s() -> None:
    assert HEADER == ("CLAVE_ESTADO", "SECCION", "NOMBRE", "APELLIDO_PATERNO", "APELLIDO_MATERNO", "CLAVE_ELECTOR",
                      "OCR", "CIC")


def test_a_verified_support_has_the_rolls_names_place_and_clave(session: Session, process: Process, opl: Opl,
                                                                  aspirant: Aspirant) -> None:
    person = citizen(state_code=26, seccion=1234)
    make_roll(session, opl=opl, citizens=[person])
    support(session, aspirant, cic=person.cic)
    verify(session, process)
    assert rows(session, aspirant) == [(26, 1234, "MARIA", "LOPEZ", "PEREZ", person.clave_elector, None,
                                        person.cic)]


def test_ocr_and_cic_are_only_what_the_credential_presented_carried(session: Session, process: Process, opl: Opl,
                                                                      aspirant: Aspirant) -> None:
    """The roll knows the citizen's CIC and OCR; a support captured with the clave alone must not be handed to INE
    as if the credential had been shown."""
    by_clave, by_ocr = citizen(), citizen()
    make_roll(session, opl=opl, citizens=[by_clave, by_ocr])
    support(session, aspirant, clave_elector=by_clave.clave_elector)
    support(session, aspirant, minutes=1, ocr=by_ocr.ocr)
    verify(session, process)
    first, second = rows(session, aspirant)
    assert first[5:] == (by_clave.clave_elector, None, None)
    assert second[5:] == (by_ocr.clave_elector, by_ocr.ocr, None)


def test_a_paper_support_not_found_in_the_roll_has_the_typed_names_and_empty_place(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    make_roll(session, opl=opl, citizens=[citizen()])
    stranger = citizen()  # not in the roll
    paper = support(session, aspirant, channel=Channel.PAPER, clave_elector=stranger.clave_elector)
    assert paper.id is not None and aspirant.id is not None
    add(session, PaperForm(support_id=paper.id, aspirant_id=aspirant.id, numero_referencia="F-1",
                           nombre="José Ángel", apellido_paterno="Núñez", apellido_materno=""))
    verify(session, process)
    assert session.get(Support, paper.id).situacion_registral is SituacionRegistral.DATOS_NO_ENCONTRADOS  # type: ignore[union-attr]
    assert rows(session, aspirant) == [(None, None, "José Ángel", "Núñez", None, stranger.clave_elector, None, None)]


def test_a_paper_support_found_in_the_roll_takes_all_its_names_from_the_roll(
        session: Session, process: Process, opl: Opl, aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    paper = support(session, aspirant, channel=Channel.PAPER, clave_elector=person.clave_elector)
    assert paper.id is not None and aspirant.id is not None
    add(session, PaperForm(support_id=paper.id, aspirant_id=aspirant.id, numero_referencia="F-2",
                           nombre="MARÍA", apellido_paterno="LÓPES", apellido_materno="PÉREZ"))
    verify(session, process)
    assert rows(session, aspirant)[0][2:5] == ("MARIA", "LOPEZ", "PEREZ")


def test_an_unverified_support_has_only_what_was_captured(session: Session, aspirant: Aspirant) -> None:
    person = citizen()
    support(session, aspirant, cic=person.cic)
    session.commit()
    assert rows(session, aspirant) == [(None, None, None, None, None, None, None, person.cic)]


def test_only_the_aspirants_supports_by_category(session: Session, process: Process, opl: Opl,
                                                 aspirant: Aspirant) -> None:
    other = make_aspirant(session, process=process, name="Otra Aspirante")
    first, second = citizen(), citizen()
    make_roll(session, opl=opl, citizens=[first, second])
    support(session, aspirant, cic=first.cic)
    support(session, aspirant, minutes=1, cic=first.cic)  # the same citizen again: duplicado mismo aspirante
    support(session, other, minutes=2, cic=second.cic)
    verify(session, process)
    assert [row[7] for row in rows(session, aspirant)] == [first.cic, first.cic]
    assert len(rows(session, aspirant, Category.EN_LISTA_NOMINAL)) == 1
    assert len(rows(session, aspirant, Category.DUPLICADOS_MISMO_ASPIRANTE)) == 1
    assert rows(session, aspirant, Category.CON_INCONSISTENCIA) == []
    assert [row[7] for row in rows(session, other)] == [second.cic]


@pytest.mark.writes_supports_directly  # every (status, situación) pair, reachable or not: only the export reads them
@pytest.mark.parametrize("status", list(SupportStatus))
@pytest.mark.parametrize("situacion", list(SituacionRegistral))
def test_each_support_is_in_exactly_its_report_category(session: Session, aspirant: Aspirant,
                                                        status: SupportStatus, situacion: SituacionRegistral) -> None:
    placed = support(session, aspirant, cic="123456789")
    placed.status, placed.situacion_registral = status, situacion
    session.commit()
    found = {category for category in CATEGORIES
             if session.exec(select(Support.id).where(in_category(category))).first() is not None}
    assert found == {category_of(status, situacion)}


def test_one_query_for_any_number_of_supports(session: Session, process: Process, opl: Opl,
                                             aspirant: Aspirant) -> None:
    people = [citizen() for _ in range(30)]
    make_roll(session, opl=opl, citizens=people)
    for minutes, person in enumerate(people):
        support(session, aspirant, minutes=minutes, cic=person.cic)
    verify(session, process)
    statements: list[str] = []
    engine = session.get_bind()

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        exported = rows(session, aspirant)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(exported) == 30 and all(row[2] == "MARIA" for row in exported)
    assert len([sql for sql in statements if "support" in sql.lower()]) == 1


def test_rows_are_read_as_they_are_asked_for(session: Session, process: Process, opl: Opl,
                                             aspirant: Aspirant) -> None:
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    for minutes in range(5):
        support(session, aspirant, minutes=minutes, cic=person.cic)
    session.commit()
    assert aspirant.id is not None
    iterator: Iterator[tuple[Any, ...]] = export_rows(session=session, aspirant_id=aspirant.id, category=None)
    assert next(iterator)[7] == person.cic  # a generator: nothing is gathered before the first row


@pytest.mark.parametrize(("name", "category", "stem"), [
    ("María López Hernández", None, "Maria_Lopez_Hernandez"),
    ("  José  Ángel   Núñez Peña ", None, "Jose_Angel_Nunez_Pena"),
    ("Ana/../María: O'Brien-Güemes", None, "AnaMaria_OBrien-Guemes"),
    ("María López", Category.EN_LISTA_NOMINAL, "Maria_Lopez_en_lista_nominal"),
    ("张伟", None, "aspirante"),
])
def test_the_file_is_named_with_the_aspirants_name_joined_by_underscores(name: str, category: Category | None,
                                                                         stem: str) -> None:
    assert file_stem(name, category) == stem


def test_opening_an_export_is_audited_without_its_contents(session: Session, process: Process,
                                                           aspirant: Aspirant) -> None:
    assert aspirant.id is not None
    now = utcnow()
    export = open_export(session=session, aspirant_id=aspirant.id, opl_ids=frozenset({process.opl_id}),
                         category=Category.EN_LISTA_NOMINAL, fmt="xlsx", actor_account_id=None, now=now)
    session.commit()
    assert export.filename_stem == "Aspirante_Prueba_en_lista_nominal"
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == EXPORTED)).one()
    assert (audit.object_type, audit.object_id) == ("aspirant", str(aspirant.id))
    assert audit.after_summary == "categoria=en_lista_nominal formato=xlsx"


def test_another_opls_aspirant_is_not_found_and_nothing_is_audited(session: Session, aspirant: Aspirant) -> None:
    elsewhere = make_opl(session, state_code=10)
    assert aspirant.id is not None and elsewhere.id is not None
    with pytest.raises(NotFound):
        open_export(session=session, aspirant_id=aspirant.id, opl_ids=frozenset({elsewhere.id}), category=None,
                    fmt="csv", actor_account_id=None, now=utcnow())
    with pytest.raises(NotFound):
        open_export(session=session, aspirant_id=987654, opl_ids=None, category=None, fmt="csv",
                    actor_account_id=None, now=utcnow())
    assert session.exec(select(AuditEvent).where(col(AuditEvent.action) == EXPORTED)).first() is None
