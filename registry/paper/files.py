"""A bulk file of paper supports (CSV or XLSX, seed 002's columns): read, checked row by row, and imported all
or nothing in the caller's transaction. Idempotent per (aspirant, número de referencia): a row stored before
with the same data adds nothing; with other data it is a row error. A citizen repeated (in the file, or already
supporting this or another aspirant for the office) is not an error: the intake stores it and the compulsa
counts it as a duplicate, as INE's own report does.

Problems name the line and the column, never a value: the report may reach logs and screens."""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from python_calamine import CalamineError, CalamineWorkbook
from sqlmodel import Session, col, select

from core.audit import record_audit
from registry import file_templates
from registry.catalogue import catalogue
from registry.jobs import JobRequest, enqueue
from registry.models import Job, PaperImport
from registry.paper.forms import (
    FIELDS,
    CleanEntry,
    FieldProblem,
    PaperEntry,
    Problem,
    Stored,
    StoreRequest,
    aspirant_in_scope,
    store_entry,
    stored_forms,
    types_by_key,
    validate_entry,
)
from registry.states import ACTIVE_JOBS, Channel, JobKind
from registry.verification.compulsa import current_roll

MAX_FILE_BYTES = 16_000_000  # 100,000 rows of ~120 bytes, with room to spare
MAX_ROWS = 100_000
MAX_XLSX_UNCOMPRESSED = 100_000_000  # 100,000 rows of 8 cells take about 60 MB of sheet XML
TEMPLATE_EXAMPLE = ("F-0001", "MARÍA", "LÓPEZ", "PÉREZ", "LOPEMA90010226H100", "1234567890123", "", "")


class FileProblem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NO_HEADER = "no_header"
    MISSING_COLUMNS = "missing_columns"
    REPEATED_COLUMN = "repeated_column"
    NUL_BYTE = "nul_byte"
    BAD_QUOTES = "bad_quotes"
    BAD_XLSX = "bad_xlsx"
    TOO_MANY_ROWS = "too_many_rows"
    NO_ROWS = "no_rows"


class PaperFileError(Exception):
    """The whole file is unusable. `columns`: the missing or repeated ones; `line`: where it went wrong."""

    def __init__(self, problem: FileProblem, *, columns: tuple[str, ...] = (), line: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem, self.columns, self.line = problem, columns, line


@dataclass(frozen=True)
class PaperUpload:
    aspirant_id: int
    file_name: str
    data: bytes
    dry_run: bool


@dataclass(frozen=True)
class FileReport:
    rows: int  # data rows read (blank lines are not rows)
    added: int  # stored now, or that a real run would store (dry run)
    already_present: int
    problems: tuple[FieldProblem, ...]
    stored: bool  # False: a dry run, or a file with problems (nothing stored)
    paper_import_id: int | None = None
    verify_job_id: int | None = None  # the compulsa queued for the new supports


# ---------------------------------------------------------------- reading


def _header_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", "_".join(name.strip().casefold().split()))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("-", "_")


def _columns(header: list[str]) -> dict[str, int]:
    keys = [_header_key(cell) for cell in header]
    if not any(keys):
        raise PaperFileError(FileProblem.NO_HEADER)
    repeated = tuple(name for name in FIELDS if keys.count(name) > 1)
    if repeated:
        raise PaperFileError(FileProblem.REPEATED_COLUMN, columns=repeated)
    missing = tuple(name for name in FIELDS if name not in keys)
    if len(missing) == len(FIELDS):
        raise PaperFileError(FileProblem.NO_HEADER)
    if missing:
        raise PaperFileError(FileProblem.MISSING_COLUMNS, columns=missing)
    return {name: keys.index(name) for name in FIELDS}


def _decode(data: bytes) -> str:
    """UTF-8 with or without BOM, else Windows-1252 (Excel's "CSV" in Mexico), else Latin-1 (never fails)."""
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


Row = tuple[int, list[str]]  # (line, cells)


def _csv_rows(data: bytes) -> tuple[list[str], list[Row]]:
    text = _decode(data)
    if "\x00" in text:
        raise PaperFileError(FileProblem.NUL_BYTE, line=text[:text.index("\x00")].count("\n") + 1)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, [])
        rows: list[Row] = []
        start = reader.line_num + 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
            if len(rows) > MAX_ROWS:
                raise PaperFileError(FileProblem.TOO_MANY_ROWS)
    except csv.Error as error:
        raise PaperFileError(FileProblem.BAD_QUOTES, line=reader.line_num) from error
    return header, rows


def _xlsx_rows(data: bytes) -> tuple[list[str], list[Row]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNCOMPRESSED:
                raise PaperFileError(FileProblem.TOO_LARGE)
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        values = sheet.to_python(skip_empty_area=False)
    except (zipfile.BadZipFile, CalamineError, OSError, ValueError, IndexError) as error:
        raise PaperFileError(FileProblem.BAD_XLSX) from error
    if len(values) > MAX_ROWS + 1:
        raise PaperFileError(FileProblem.TOO_MANY_ROWS)
    header = [_cell_text(value) for value in values[0]] if values else []
    widths = {index: 13 for index, name in enumerate(_header_key(cell) for cell in header) if name == "ocr"}
    rows = [(line, [_cell_text(value, widths.get(index, 0)) for index, value in enumerate(cells)])
            for line, cells in enumerate(values[1:], start=2)]
    return header, rows


def _cell_text(value: object, width: int = 0) -> str:
    """A cell as the CSV would carry it: Excel keeps an OCR typed as a number without its leading zeros, and
    whole numbers come back as floats (26.0 -> "26")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(width) if value >= 0 else str(value)
    return value if isinstance(value, str) else str(value)


def read_paper_file(data: bytes, file_name: str) -> list[tuple[int, PaperEntry | FieldProblem]]:
    """Each data row as an entry, or a problem when its cells do not fit the header. Raises PaperFileError."""
    if not data.strip():
        raise PaperFileError(FileProblem.EMPTY)
    if len(data) > MAX_FILE_BYTES:
        raise PaperFileError(FileProblem.TOO_LARGE)
    is_zip = data[:4] == b"PK\x03\x04"
    if is_zip or file_name.lower().endswith((".xlsx", ".xlsm")):
        header, rows = _xlsx_rows(data)
    else:
        header, rows = _csv_rows(data)
    found = _columns(header)
    width = len(header)
    read: list[tuple[int, PaperEntry | FieldProblem]] = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not data
        if any(cell.strip() for cell in cells[width:]):
            read.append((line, FieldProblem("", Problem.EXTRA_CELLS, line)))
            continue
        cells = cells + [""] * (width - len(cells))
        read.append((line, PaperEntry(**{name: cells[index] for name, index in found.items()})))
    if not read:
        raise PaperFileError(FileProblem.NO_ROWS)
    return read


# ---------------------------------------------------------------- checking and importing


@dataclass
class _Plan:
    new: list[CleanEntry]
    already_present: int
    problems: list[FieldProblem]


def _plan(session: Session, aspirant_id: int, opl_id: int, read: list[tuple[int, PaperEntry | FieldProblem]],
          now: datetime) -> _Plan:
    types = types_by_key(catalogue(session=session, opl_id=opl_id))
    stored = stored_forms(session, aspirant_id)
    plan = _Plan(new=[], already_present=0, problems=[])
    in_file: dict[str, tuple[object, ...]] = {}
    for line, row in read:
        if isinstance(row, FieldProblem):
            plan.problems.append(row)
            continue
        entry, problems = validate_entry(row, types=types, today=now.date(), line=line)
        if entry is None:
            plan.problems.extend(problems)
            continue
        _place(plan, entry, line, in_file, stored.get(entry.numero_referencia))
    return plan


def _place(plan: _Plan, entry: CleanEntry, line: int, in_file: dict[str, tuple[object, ...]],
           earlier: Stored | None) -> None:
    """A valid row: new, already stored (the same data), or a reference clash (in the file, or with the store)."""
    reference, fingerprint = entry.numero_referencia, entry.fingerprint
    if reference in in_file:
        if in_file[reference] != fingerprint:
            plan.problems.append(FieldProblem("numero_referencia", Problem.REFERENCE_REPEATED, line))
        return
    in_file[reference] = fingerprint
    if earlier is None:
        plan.new.append(entry)
    elif earlier.fingerprint == fingerprint:
        plan.already_present += 1
    else:
        plan.problems.append(FieldProblem("numero_referencia", Problem.REFERENCE_TAKEN, line))


def import_paper_file(*, session: Session, upload: PaperUpload, opl_ids: frozenset[int] | None,
                      actor_account_id: int | None, now: datetime) -> FileReport:
    """Check every row; unless it is a dry run or any row has a problem, store them all (the caller's
    transaction: all or nothing) and queue the compulsa. Raises NotFound, PaperFileError."""
    aspirant, process = aspirant_in_scope(session, upload.aspirant_id, opl_ids)
    assert aspirant.id is not None and process.id is not None
    read = read_paper_file(upload.data, upload.file_name)
    plan = _plan(session, aspirant.id, process.opl_id, read, now)
    report = FileReport(rows=len(read), added=len(plan.new), already_present=plan.already_present,
                        problems=tuple(plan.problems), stored=False)
    if plan.problems or upload.dry_run:
        return report
    paper_import = PaperImport(aspirant_id=aspirant.id, file_name=upload.file_name[:200],
                               sha256=hashlib.sha256(upload.data).hexdigest(), rows_added=len(plan.new),
                               rows_already_present=plan.already_present, imported_by_account_id=actor_account_id,
                               imported_at=now)
    session.add(paper_import)
    session.flush()
    for position, entry in enumerate(plan.new):
        # Received in file order: one microsecond apart, so the compulsa's "first support counts" follows the
        # file's lines rather than the random folios that break a tie on time.
        store_entry(session=session, now=now + timedelta(microseconds=position), request=StoreRequest(
            aspirant_id=aspirant.id, process=process, entry=entry, channel=Channel.BULK_IMPORT,
            actor_account_id=actor_account_id, paper_import_id=paper_import.id))
    record_audit(session, action="paper_file_imported", actor_account_id=actor_account_id,
                 object_type="paper_import", object_id=paper_import.id,
                 after=f"aspirant={aspirant.id} added={len(plan.new)} already={plan.already_present}")
    job = _queue_compulsa(session, process.opl_id, process.id, actor_account_id, now) if plan.new else None
    return FileReport(rows=report.rows, added=report.added, already_present=report.already_present, problems=(),
                      stored=True, paper_import_id=paper_import.id, verify_job_id=job.id if job else None)


def _queue_compulsa(session: Session, opl_id: int, process_id: int, actor_account_id: int | None,
                    now: datetime) -> Job | None:
    """One set-based compulsa of the process for the new rows (the worker's per-support pass would take many
    ticks for a big file), unless one that covers them is already waiting; none without a roll in force (the
    roll's own import queues one)."""
    if current_roll(session=session, opl_id=opl_id) is None:
        return None
    waiting = session.exec(select(Job).where(
        Job.kind == JobKind.VERIFY, Job.opl_id == opl_id, col(Job.state).in_(ACTIVE_JOBS),
        (col(Job.process_id) == process_id) | col(Job.process_id).is_(None), col(Job.started_at).is_(None))).first()
    if waiting is not None:
        return waiting
    return enqueue(session=session, actor_account_id=actor_account_id, now=now,
                   request=JobRequest(kind=JobKind.VERIFY, opl_id=opl_id, process_id=process_id))


# ---------------------------------------------------------------- templates


def csv_template() -> bytes:
    return file_templates.csv_template(FIELDS, TEMPLATE_EXAMPLE)


def xlsx_template() -> bytes:
    # Text: the número de referencia, the clave and the OCR (Excel would drop an OCR's leading zeros).
    return file_templates.xlsx_template("apoyos", FIELDS, TEMPLATE_EXAMPLE, text_columns=("A", "E", "F"))
