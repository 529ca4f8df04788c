"""Bulk files of paper supports: every bad row reported by line (dry run and real run alike) and nothing stored,
the corrected file imported whole, the same file again adding nothing; repeated citizens stored for the compulsa;
CSV in its encodings and delimiters, XLSX, the templates; and the whole-file refusals that must never be a 500."""

from __future__ import annotations

import codecs
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import utcnow
from registry.models import Aspirant, Job, Opl, PaperForm, PaperImport, Process, Support
from registry.paper.files import (
    MAX_FILE_BYTES,
    FileProblem,
    FileReport,
    PaperFileError,
    PaperUpload,
    csv_template,
    import_paper_file,
    read_paper_file,
    xlsx_template,
)
from registry.paper.forms import FIELDS, NotFound, PaperEntry, Problem
from registry.states import Channel, JobKind, ReadingSource, SituacionRegistral, SupportStatus
from registry.worker import run_one
from tests.factories.paper import csv_file, entry_for, paper_citizen, xlsx_file
from tests.factories.processes import make_aspirant, make_opl
from tests.factories.roll import Citizen, make_roll


def run(session: Session, aspirant: Aspirant, data: bytes, *, dry_run: bool = False, name: str = "apoyos.csv",
        opl_ids: frozenset[int] | None = None) -> FileReport:
    assert aspirant.id is not None
    report = import_paper_file(session=session, upload=PaperUpload(aspirant_id=aspirant.id, file_name=name,
                                                                   data=data, dry_run=dry_run),
                               opl_ids=opl_ids, actor_account_id=None, now=utcnow())
    session.commit()
    return report


def good_rows(people: list[Citizen]) -> list[PaperEntry]:
    return [entry_for(person, f"F-{n}") for n, person in enumerate(people, start=1)]


def test_a_file_with_bad_rows_lists_each_by_line_stores_nothing_and_the_corrected_file_imports_once(
        session: Session, aspirant: Aspirant) -> None:
    people = [paper_citizen() for _ in range(4)]
    rows = good_rows(people)
    bad = [rows[0], entry_for(people[1], "F-2", clave_elector="LOPEMA9001"), rows[2],
           entry_for(people[3], "F-4", ocr="12AB", apellido_paterno="", apellido_materno="")]
    file = csv_file(bad)

    for dry_run in (True, False):
        report = run(session, aspirant, file, dry_run=dry_run)
        assert not report.stored
        assert {(p.line, p.field, p.problem) for p in report.problems} == {
            (3, "clave_elector", Problem.CLAVE_LENGTH), (5, "ocr", Problem.OCR_DIGITS),
            (5, "apellido_paterno", Problem.NO_SURNAME)}
    assert session.exec(select(Support)).all() == []
    assert session.exec(select(PaperImport)).all() == []

    preview = run(session, aspirant, csv_file(rows), dry_run=True)
    assert (preview.stored, preview.added, preview.problems) == (False, 4, ())
    assert session.exec(select(Support)).all() == []

    report = run(session, aspirant, csv_file(rows))
    assert (report.stored, report.added, report.already_present) == (True, 4, 0)
    supports = session.exec(select(Support)).all()
    assert {s.channel for s in supports} == {Channel.BULK_IMPORT}
    forms = session.exec(select(PaperForm)).all()
    assert {f.paper_import_id for f in forms} == {report.paper_import_id}

    again = run(session, aspirant, csv_file(rows))
    assert (again.stored, again.added, again.already_present) == (True, 0, 4)
    assert len(session.exec(select(Support)).all()) == 4
    imports = session.exec(select(PaperImport).order_by(PaperImport.id)).all()  # type: ignore[arg-type]
    assert [(i.rows_added, i.rows_already_present) for i in imports] == [(4, 0), (0, 4)]


def test_a_stored_reference_with_other_data_and_a_reference_twice_in_the_file_are_row_errors(
        session: Session, aspirant: Aspirant) -> None:
    first, second = paper_citizen(), paper_citizen()
    run(session, aspirant, csv_file([entry_for(first, "F-1")]))
    report = run(session, aspirant, csv_file([entry_for(first, "F-1", nombre="OTRO"), entry_for(second, "F-2"),
                                              entry_for(first, "F-2")]))
    assert {(p.line, p.problem) for p in report.problems} == {(2, Problem.REFERENCE_TAKEN),
                                                              (4, Problem.REFERENCE_REPEATED)}
    assert len(session.exec(select(Support)).all()) == 1


def test_a_repeated_citizen_is_stored_and_the_compulsa_counts_it_as_a_duplicate(
        session: Session, process: Process, aspirant: Aspirant, app_engine: Engine) -> None:
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    person, other = paper_citizen(), paper_citizen()
    make_roll(session, opl=opl, citizens=[person, other])
    rival = make_aspirant(session, process=process, name="Rival Aspirante")
    session.commit()
    run(session, rival, csv_file([entry_for(other, "R-1")]))
    report = run(session, aspirant, csv_file([entry_for(person, "F-1"), entry_for(person, "F-2"),
                                              entry_for(other, "F-3")]))
    assert (report.stored, report.added, report.problems) == (True, 3, ())
    assert report.verify_job_id is not None

    job = run_one(app_engine, lambda: utcnow() + timedelta(seconds=1), job_id=report.verify_job_id)
    assert job is not None and job.kind is JobKind.VERIFY
    session.expire_all()
    mine = {f.numero_referencia: session.get(Support, f.support_id)
            for f in session.exec(select(PaperForm).where(PaperForm.aspirant_id == aspirant.id))}
    situaciones = {ref: s.situacion_registral for ref, s in mine.items() if s is not None}
    # No municipality is authorised for paper in this process: every paper support is outside the régimen.
    assert set(situaciones.values()) == {SituacionRegistral.FUERA_REGIMEN_EXCEPCION}


def test_the_compulsa_after_an_import_counts_authorised_paper_and_its_duplicates(
        session: Session, process: Process, aspirant: Aspirant, app_engine: Engine) -> None:
    from registry.models import PaperExceptionMunicipality

    opl = session.get(Opl, process.opl_id)
    assert opl is not None and process.id is not None
    person, outside = paper_citizen(municipality=4), paper_citizen(municipality=30)
    make_roll(session, opl=opl, citizens=[person, outside])
    session.add(PaperExceptionMunicipality(process_id=process.id, municipality=4))
    session.commit()
    report = run(session, aspirant, csv_file([entry_for(person, "F-1"), entry_for(person, "F-2"),
                                              entry_for(outside, "F-3")]))
    assert report.verify_job_id is not None
    run_one(app_engine, lambda: utcnow() + timedelta(seconds=1), job_id=report.verify_job_id)
    session.expire_all()
    forms = session.exec(select(PaperForm)).all()
    result = {f.numero_referencia: session.get(Support, f.support_id) for f in forms}
    assert {ref: (s.situacion_registral, s.status) for ref, s in result.items() if s is not None} == {
        "F-1": (SituacionRegistral.EN_LISTA_NOMINAL, SupportStatus.VALID),
        "F-2": (SituacionRegistral.DUPLICADO_MISMO_ASPIRANTE, SupportStatus.INVALID),
        "F-3": (SituacionRegistral.FUERA_REGIMEN_EXCEPCION, SupportStatus.INVALID)}
    assert session.exec(select(Job).where(Job.kind == JobKind.VERIFY)).one().process_id == process.id


def test_staff_of_another_opl_cannot_import_for_this_aspirant(session: Session, aspirant: Aspirant) -> None:
    other = make_opl(session)
    with pytest.raises(NotFound):
        run(session, aspirant, csv_file(good_rows([paper_citizen()])), opl_ids=frozenset({other.id or 0}))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1"])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_encodings_and_delimiters_and_headers_in_any_case_or_accent(encoding: str, delimiter: str) -> None:
    header = ["Número de Referencia".replace("de ", "") if n == "numero_referencia" else n.upper() for n in FIELDS]
    header[0] = "NÚMERO_REFERENCIA"
    entry = entry_for(paper_citizen(), "F-1")
    read = read_paper_file(csv_file([entry], delimiter=delimiter, encoding=encoding, header=header), "a.csv")
    assert read == [(2, entry)]


def test_xlsx_rows_keep_the_ocrs_leading_zeros() -> None:
    import io

    from openpyxl import Workbook

    person = paper_citizen(ocr="0001234567890")
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(FIELDS))
    sheet.append(["F-1", "MARÍA", "LÓPEZ", "", person.clave_elector, 1234567890, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    read = read_paper_file(buffer.getvalue(), "apoyos.xlsx")
    assert read == [(2, entry_for(person, "F-1", apellido_materno=""))]
    assert read_paper_file(xlsx_file([entry_for(person, "F-9")]), "x.xlsx")[0][1] == entry_for(person, "F-9")


def test_the_templates_are_read_back_as_one_example_row() -> None:
    for data, name in ((csv_template(), "plantilla.csv"), (xlsx_template(), "plantilla.xlsx")):
        read = read_paper_file(data, name)
        assert len(read) == 1 and isinstance(read[0][1], PaperEntry)
    assert csv_template().startswith(codecs.BOM_UTF8)


@pytest.mark.parametrize(("data", "name", "problem"), [
    (b"", "a.csv", FileProblem.EMPTY),
    (b"  \n\n", "a.csv", FileProblem.EMPTY),
    (b"F-1,MARIA,LOPEZ\n", "a.csv", FileProblem.NO_HEADER),
    (b"numero_referencia,nombre\nF-1,MARIA\n", "a.csv", FileProblem.MISSING_COLUMNS),
    (",".join(FIELDS).encode() + b"\n", "a.csv", FileProblem.NO_ROWS),
    (",".join(FIELDS).encode() + b"\nF-1,MA\x00RIA,,,,,,\n", "a.csv", FileProblem.NUL_BYTE),
    (",".join(FIELDS).encode() + b'\nF-1,"MARIA,,,,,,\n', "a.csv", FileProblem.BAD_QUOTES),
    (b"this is not a zip", "a.xlsx", FileProblem.BAD_XLSX),
    (b"PK\x03\x04 truncated", "a.csv", FileProblem.BAD_XLSX),
    (b"x" * (MAX_FILE_BYTES + 1), "a.csv", FileProblem.TOO_LARGE),
])
def test_an_unusable_file_is_one_clear_problem(data: bytes, name: str, problem: FileProblem) -> None:
    with pytest.raises(PaperFileError) as refused:
        read_paper_file(data, name)
    assert refused.value.problem is problem


def test_a_huge_cell_and_extra_cells_are_row_problems(session: Session, aspirant: Aspirant) -> None:
    person = paper_citizen()
    row = [*entry_for(person, "F-1").__dict__.values()]
    report = run(session, aspirant, csv_file([[*row[:5], "9" * 5000, "", ""], [*row[:7], "", "EXTRA"]]))
    assert {(p.line, p.problem) for p in report.problems} == {(2, Problem.TOO_LONG), (3, Problem.EXTRA_CELLS)}


def test_bulk_readings_are_marked_as_bulk(session: Session, aspirant: Aspirant) -> None:
    from registry.models import CredentialReading

    run(session, aspirant, csv_file(good_rows([paper_citizen()])))
    support = session.exec(select(Support)).one()
    reading = session.get(CredentialReading, support.reading_id)
    assert reading is not None and reading.source is ReadingSource.BULK


def test_an_inconsistency_noted_on_a_form_from_the_command_line_is_a_decision_the_aspirant_sees(
        session: Session, aspirant: Aspirant) -> None:
    from registry.models import ReviewDecision
    from registry.objections.rejected import RejectedQuery, rejected_page

    run(session, aspirant, csv_file([entry_for(paper_citizen(), "F-1", tipo_inconsistencia="firma")]))
    support = session.exec(select(Support)).one()
    decision = session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support.id)).one()
    assert decision.reviewer_account_id is None and decision.inconsistency_id is not None
    assert (support.status, support.situacion_registral) == (SupportStatus.INVALID,
                                                             SituacionRegistral.CON_INCONSISTENCIA)
    listed = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id or 0))
    assert [row.decision.inconsistency.es for row in listed.rows
            if row.decision and row.decision.inconsistency] == ["Firma ausente o no válida"]
