"""Every report table as a file: CSV or XLSX, written while the rows are read (a server-side cursor's rows go out
in batches; memory stays flat at any size) and safe to open in a spreadsheet (no cell is ever a formula)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from tempfile import SpooledTemporaryFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Cell = str | int | float | Decimal | date | datetime | bool | None

# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula (tab and CR too, since
# some programs strip them first); an apostrophe in front makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry: openpyxl refuses them with an error; a name with one must not break a download.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

ROWS_PER_CHUNK = 1000
_SPOOL_BYTES = 8 * 1024 * 1024  # an XLSX under this stays in memory, a larger one goes to a temporary file
_READ_BYTES = 64 * 1024

XLSX_SHEET_TITLE_MAX = 31  # Excel's limit


def safe_cell(value: Cell) -> Cell:
    """A text cell that a spreadsheet would read as a formula, neutralised; numbers, dates and empty cells as
    they are (a negative number is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """UTF-8 with the BOM (so Excel opens the accents right): the header first, before any row is read, then the
    rows in batches of ROWS_PER_CHUNK, each batch read from `rows` only when the previous one has gone out."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([_csv_text(safe_cell(name)) for name in header])
    yield _drain(buffer).encode("utf-8-sig")
    iterator = iter(rows)
    while batch := list(islice(iterator, ROWS_PER_CHUNK)):
        writer.writerows([_csv_text(safe_cell(value)) for value in row] for row in batch)
        yield _drain(buffer).encode("utf-8")


def xlsx_chunks(sheet_title: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """One sheet. openpyxl's write-only workbook writes each row to a temporary file as it comes and inline
    strings (no shared-strings table in memory); the zipped workbook goes out in chunks once complete."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(sheet_title))
    sheet.append([_xlsx_cell(sheet, name) for name in header])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    with SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(_READ_BYTES):
            yield chunk


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_text(value: Cell) -> str | int | float | Decimal:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Cell) -> WriteOnlyCell:
    value = safe_cell(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.isoformat()  # Excel has no time zones: the text keeps the offset rather than dropping it
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=_ILLEGAL_XML.sub("", value))
        cell.data_type = "s"  # openpyxl takes any text starting with "=" for a formula: this one is text, always
        return cell
    return WriteOnlyCell(sheet, value=value)


def _sheet_title(title: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", title).strip("' ")[:XLSX_SHEET_TITLE_MAX]
    return cleaned or "Hoja1"
