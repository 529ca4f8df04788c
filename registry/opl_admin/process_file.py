"""Many processes from one file (Durango renewed 39 ayuntamientos in one election): CSV or XLSX with a header
row naming the columns of `validation.ProcessForm` (the same names as the page's form), in any order:

    nombre, cargo, ambito, distrito, municipio, inicio, fin, umbral_porcentaje, unidad_dispersion,
    dispersion_minima_porcentaje, dispersion_porcentaje_por_unidad, lista_nominal, municipios_papel,
    muestra_revision_porcentaje, ritmo_captura_segundos, objeciones_inicio, objeciones_fin

The first six are required. `ambito` is estado, distrito or municipio; dates are local (America/Mexico_City),
`AAAA-MM-DD HH:MM` or `AAAA-MM-DD`; `municipios_papel` lists numbers ("4, 12, 30").

A dry run reports every bad row by its line; the import is all-or-nothing (one bad row: nothing stored) and
idempotent: a row whose name is already a process of the OPL is counted as already present, not created again."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace

from python_calamine import CalamineError, CalamineWorkbook
from sqlmodel import Session

from registry import file_templates
from registry.opl_admin.processes import name_taken, store_new
from registry.opl_admin.validation import (
    FIELDS,
    REQUIRED_COLUMNS,
    InvalidProcess,
    ProcessForm,
    ProcessValues,
    validate_process,
)

MAX_FILE_BYTES = 2_000_000
MAX_ROWS = 1000  # an election renews a few hundred offices at most per OPL
FILE = "archivo"


@dataclass(frozen=True)
class RowProblem:
    line: int | None  # line of the file (1 = the header); None for the whole file
    field: str  # a column name, or "archivo"
    problem: str  # validation.Problem or one of FileProblem's codes


class FileProblem:
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TOO_MANY_ROWS = "too_many_rows"
    COLUMNS_MISSING = "columns_missing"
    UNKNOWN_COLUMN = "unknown_column"
    REPEATED_IN_FILE = "repeated_in_file"


@dataclass
class ProcessFileResult:
    rows: int = 0
    created: int = 0
    already_present: int = 0
    dry_run: bool = False
    problems: list[RowProblem] = field(default_factory=list)


def import_process_file(*, session: Session, opl_id: int, data: bytes, dry_run: bool,
                        actor_account_id: int) -> ProcessFileResult:
    """Check every row, then (not a dry run, no problem anywhere) create the processes not already there."""
    result = ProcessFileResult(dry_run=dry_run)
    parsed = read_rows(data, result)
    seen: set[str] = set()
    new: list[ProcessValues] = []
    for line, form in parsed:
        try:
            values = validate_process(form)
        except InvalidProcess as invalid:
            result.problems += [RowProblem(line, name, str(problem)) for name, problem in invalid.problems.items()]
            continue
        key = values.name.lower()
        if key in seen:
            result.problems.append(RowProblem(line, "nombre", FileProblem.REPEATED_IN_FILE))
        seen.add(key)
        if name_taken(session, opl_id, values.name):
            result.already_present += 1
        else:
            new.append(values)
    if dry_run or result.problems:
        return replace(result, created=0) if result.problems else replace(result, created=len(new))
    for values in new:
        store_new(session, opl_id, values, actor_account_id)
    result.created = len(new)
    return result


def read_rows(data: bytes, result: ProcessFileResult) -> list[tuple[int, ProcessForm]]:
    """(line, typed form) per data row; file-wide problems go to `result.problems` and leave no rows."""
    if len(data) > MAX_FILE_BYTES:
        result.problems.append(RowProblem(None, FILE, FileProblem.TOO_LARGE))
        return []
    table = _xlsx(data) if data.startswith(b"PK") else _csv(data)
    if table is None:
        result.problems.append(RowProblem(None, FILE, FileProblem.UNREADABLE))
        return []
    rows = [(line, cells) for line, cells in table[1:] if any(cell.strip() for cell in cells)]
    if not table or not rows:
        result.problems.append(RowProblem(None, FILE, FileProblem.EMPTY))
        return []
    columns = _columns(table[0][1], result)
    if columns is None:
        return []
    if len(rows) > MAX_ROWS:
        result.problems.append(RowProblem(None, FILE, FileProblem.TOO_MANY_ROWS))
        return []
    result.rows = len(rows)
    return [(line, ProcessForm(**{name: cells[index] if index < len(cells) else ""
                                  for name, index in columns.items()})) for line, cells in rows]


def _columns(header: list[str], result: ProcessFileResult) -> dict[str, int] | None:
    found: dict[str, int] = {}
    unknown = []
    for index, name in enumerate(header):
        key = _header_key(name)
        if key in FIELDS and key not in found:
            found[key] = index
        elif key:
            unknown.append(key[:40])
    # An unknown column is refused rather than ignored: "municipio_papel" for "municipios_papel" would drop the
    # paper municipalities without a word.
    result.problems += [RowProblem(1, name, FileProblem.UNKNOWN_COLUMN) for name in unknown]
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    result.problems += [RowProblem(1, name, FileProblem.COLUMNS_MISSING) for name in missing]
    return None if unknown or missing else found


def _csv(data: bytes) -> list[tuple[int, list[str]]] | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        return None  # a binary file, not a CSV
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        return [(reader.line_num, row) for row in reader]
    except csv.Error:
        return None


def _xlsx(data: bytes) -> list[tuple[int, list[str]]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > 20 * MAX_FILE_BYTES:
                return None
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        start = (sheet.start or (0, 0))[0]
        return [(start + offset, [_cell(value) for value in values])
                for offset, values in enumerate(sheet.to_python(skip_empty_area=False), start=1)]
    except (zipfile.BadZipFile, CalamineError, OSError, ValueError, IndexError):
        return None


def _cell(value: object) -> str:
    """Excel keeps numbers as floats and dates as datetimes: back to the text the CSV would carry."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _header_key(name: str) -> str:
    """Header names compare trimmed, case-insensitively, without accents, spaces as underscores."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "_")


# ---------------------------------------------------------------- the template

EXAMPLE = ProcessForm(
    nombre="Presidencia municipal de Lerdo 2027", cargo="Presidencia municipal", ambito="municipio", municipio="12",
    inicio="2027-01-10 08:00", fin="2027-02-08 23:59", umbral_porcentaje="3", unidad_dispersion="seccion",
    dispersion_minima_porcentaje="50", dispersion_porcentaje_por_unidad="1", lista_nominal="110000",
    municipios_papel="12", muestra_revision_porcentaje="5", ritmo_captura_segundos="30")


def template_csv() -> bytes:
    return file_templates.csv_template(FIELDS, [getattr(EXAMPLE, name) for name in FIELDS])


def template_xlsx() -> bytes:
    return file_templates.xlsx_template("procesos", FIELDS, [getattr(EXAMPLE, name) for name in FIELDS])
