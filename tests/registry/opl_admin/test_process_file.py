"""Many processes from one file: the dry run lists each bad row by line, the real run stores nothing while any
row is bad, the corrected file creates all, the same file again creates none; CSV and XLSX alike."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from registry.models import PaperExceptionMunicipality, Process
from registry.opl_admin.process_file import FileProblem, import_process_file, template_csv, template_xlsx
from registry.opl_admin.validation import FIELDS, Problem
from tests.factories.accounts import make_account
from tests.factories.processes import make_opl

HEADER = ["nombre", "cargo", "ambito", "municipio", "inicio", "fin", "umbral_porcentaje", "municipios_papel"]
GOOD_ROWS = [[f"Ayuntamiento de Durango municipio {n}", "Presidencia municipal", "municipio", str(n),
              "2027-01-10 08:00", "2027-02-08 23:59", "3", str(n)] for n in range(1, 40)]


def as_csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode()


def as_xlsx(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def ids(session: Session) -> tuple[int, int]:
    opl, account = make_opl(session, state_code=10), make_account(session, role=None)
    assert opl.id is not None and account.id is not None
    return opl.id, account.id


def run(session: Session, ids: tuple[int, int], data: bytes, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return import_process_file(session=session, opl_id=ids[0], data=data, dry_run=dry_run, actor_account_id=ids[1])


def count(session: Session) -> int:
    return len(session.exec(select(Process.id)).all())


@pytest.mark.parametrize("encode", [as_csv, as_xlsx])
def test_bad_rows_are_listed_by_line_and_nothing_is_stored_until_the_file_is_right(
        session: Session, ids: tuple[int, int], encode) -> None:  # type: ignore[no-untyped-def]
    bad = [list(row) for row in GOOD_ROWS]
    bad[2][6] = "abc"  # line 4: the threshold
    bad[9][3] = ""  # line 11: a municipal office without its municipality
    bad[20][5] = "2026-01-01 00:00"  # line 22: ends before it starts
    bad[30][0] = bad[29][0]  # line 32: the same name twice in the file
    dry = run(session, ids, encode(bad), dry_run=True)
    found = {(p.line, p.field, p.problem) for p in dry.problems}
    assert found == {(4, "umbral_porcentaje", Problem.PERCENT), (11, "municipio", Problem.MISSING),
                     (22, "fin", Problem.END_BEFORE_START), (32, "nombre", FileProblem.REPEATED_IN_FILE)}
    real = run(session, ids, encode(bad))
    assert len(real.problems) == 4 and real.created == 0 and count(session) == 0

    checked = run(session, ids, encode(GOOD_ROWS), dry_run=True)
    assert (checked.problems, checked.created, count(session)) == ([], 39, 0)
    first = run(session, ids, encode(GOOD_ROWS))
    assert (first.problems, first.created, first.already_present) == ([], 39, 0)
    assert count(session) == 39
    assert len(session.exec(select(PaperExceptionMunicipality)).all()) == 39
    again = run(session, ids, encode(GOOD_ROWS))
    assert (again.created, again.already_present, count(session)) == (0, 39, 39)


def test_a_header_with_a_missing_or_misspelt_column_is_refused_whole(session: Session, ids: tuple[int, int]) -> None:
    header = [name if name != "municipios_papel" else "municipio_papel" for name in HEADER]
    result = run(session, ids, as_csv(GOOD_ROWS, header=header))
    assert {(p.line, p.field, p.problem) for p in result.problems} == {(1, "municipio_papel",
                                                                        FileProblem.UNKNOWN_COLUMN)}
    result = run(session, ids, as_csv([row[:6] for row in GOOD_ROWS], header=HEADER[:6]))
    assert {(p.field, p.problem) for p in result.problems} == {("umbral_porcentaje", FileProblem.COLUMNS_MISSING)}
    assert count(session) == 0


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02", b"PK\x03\x04broken", b"nombre\n",
                                  b"\xff\xfe" + "x".encode("utf-16-le")])
def test_an_unreadable_or_empty_file_is_a_message_not_an_error(session: Session, ids: tuple[int, int],
                                                                data: bytes) -> None:
    result = run(session, ids, data)
    assert result.problems and result.problems[0].line in (None, 1) and count(session) == 0


def test_the_templates_carry_every_column_and_a_valid_example(session: Session, ids: tuple[int, int]) -> None:
    header = next(csv.reader(io.StringIO(template_csv().decode("utf-8-sig"))))
    assert tuple(header) == FIELDS
    sheet = load_workbook(io.BytesIO(template_xlsx())).active
    assert sheet is not None and tuple(cell.value for cell in sheet[1]) == FIELDS
    assert run(session, ids, template_csv(), dry_run=True).problems == []
    assert run(session, ids, template_xlsx(), dry_run=True).problems == []
