"""The tabular writer: formula injection neutralised in CSV and XLSX (read back as a spreadsheet would), accents
round trip, empty tables, and rows read lazily (a large table is never held in memory)."""

from __future__ import annotations

import csv
import io
import weakref
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from registry.reports.tabular import ROWS_PER_CHUNK, csv_chunks, safe_cell, xlsx_chunks

HOSTILE = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1"]
HEADER = ["nombre", "valor"]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8 only with it
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(0).to_python(skip_empty_area=False)


def xlsx_formulas(data: bytes) -> list[str]:
    """Every <f> element of the workbook's sheets: a formula cell, whatever its cached value."""
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [name for name in archive.namelist()
                if name.startswith("xl/worksheets/") and b"<f" in archive.read(name)]


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_cell_neutralises_every_formula_start(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Hernández", "1+1", "", "O'Brien", 5, -3, Decimal("-1.5"), None])
def test_safe_cell_leaves_plain_text_and_numbers(value: object) -> None:
    assert safe_cell(value) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cells_starting_a_formula_are_text(value: str) -> None:
    rows = read_csv(b"".join(csv_chunks(HEADER, [[value, 1]])))
    assert rows[1] == ["'" + value, "1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_xlsx_cells_starting_a_formula_are_text_not_formulas(value: str) -> None:
    data = b"".join(xlsx_chunks("Hoja", HEADER, [[value, -7]]))
    assert xlsx_formulas(data) == []
    # XML reads a CR as a line feed: the cell is still the same text behind its apostrophe
    assert read_xlsx(data)[1] == ["'" + value.replace("\r", "\n"), -7]


def test_xlsx_never_writes_a_formula_even_for_a_bare_equals_sign() -> None:
    # openpyxl turns any str starting with "=" into a formula unless the cell is typed as text
    data = b"".join(xlsx_chunks("Hoja", ["=HYPERLINK(\"http://x\")"], [["=", "=A1"]]))
    assert xlsx_formulas(data) == []
    assert read_xlsx(data) == [["'=HYPERLINK(\"http://x\")", ""], ["'=", "'=A1"]]


def test_accents_round_trip_in_csv_and_xlsx() -> None:
    row = ["María José Núñez Peña", "Güémez", "ÁÉÍÓÚ ñ ü"]
    assert read_csv(b"".join(csv_chunks(["año", "región", "sección"], [row]))) == [["año", "región", "sección"], row]
    assert read_xlsx(b"".join(xlsx_chunks("Sección", ["año", "región", "sección"], [row]))) == [
        ["año", "región", "sección"], row]


def test_numbers_stay_numbers_and_empty_cells_stay_empty() -> None:
    data = b"".join(xlsx_chunks("Hoja", ["a", "b", "c", "d"], [[12, None, Decimal("3.5"), date(2026, 1, 2)]]))
    row = read_xlsx(data)[1]
    assert row[0] == 12 and row[1] == "" and row[2] == 3.5
    assert read_csv(b"".join(csv_chunks(["a", "b", "c", "d"], [[12, None, Decimal("3.5"), date(2026, 1, 2)]])))[1] == [
        "12", "", "3.5", "2026-01-02"]


def test_quotes_commas_and_newlines_survive_csv() -> None:
    row = ['dice "hola", adiós', "dos\nlíneas"]
    assert read_csv(b"".join(csv_chunks(HEADER, [row])))[1] == row


def test_characters_xml_cannot_carry_do_not_break_the_xlsx() -> None:
    data = b"".join(xlsx_chunks("Hoja", HEADER, [["a\x00b\x1fc", 1]]))
    assert read_xlsx(data)[1] == ["abc", 1]


def test_empty_tables_have_their_header_only() -> None:
    assert read_csv(b"".join(csv_chunks(HEADER, []))) == [HEADER]
    assert read_xlsx(b"".join(xlsx_chunks("Hoja", HEADER, []))) == [HEADER]


def test_hostile_sheet_title_still_makes_a_workbook() -> None:
    data = b"".join(xlsx_chunks("a/b:c*d?[e]" + "x" * 40, HEADER, [["1", 2]]))
    assert read_xlsx(data)[1] == ["1", 2]


class CountingRows:
    """100,000 rows made one at a time, recording how many have been read."""

    def __init__(self, total: int = 100_000) -> None:
        self.total = total
        self.read = 0

    def __iter__(self) -> Iterator[list[object]]:
        for number in range(self.total):
            self.read = number + 1
            yield [f"fila {number}", number]


def test_csv_reads_rows_as_it_writes_them() -> None:
    rows = CountingRows()
    chunks = csv_chunks(HEADER, rows)
    next(chunks)
    assert rows.read == 0  # the header leaves before any row is read
    next(chunks)
    assert rows.read <= ROWS_PER_CHUNK + 1
    next(chunks)
    assert rows.read <= 2 * ROWS_PER_CHUNK + 1
    total = sum(1 for _ in chunks)
    assert rows.read == rows.total and total == rows.total // ROWS_PER_CHUNK - 2


class Row(list):  # type: ignore[type-arg]
    """A row that can be watched: a weak reference tells whether anybody still holds it."""


def test_xlsx_does_not_hold_the_rows_it_has_written() -> None:
    total = 100_000
    alive_when_last_made: list[int] = []
    watched: list[weakref.ref[Row]] = []

    def rows() -> Iterator[Row]:
        for number in range(total):
            row = Row([f"fila {number}", number])
            if number % 1000 == 0:
                watched.append(weakref.ref(row))
            if number == total - 1:
                alive_when_last_made.append(sum(ref() is not None for ref in watched))
            yield row

    size = sum(len(chunk) for chunk in xlsx_chunks("Hoja", HEADER, rows()))
    assert size > 1_000_000
    assert alive_when_last_made[0] <= 1  # written and let go, not gathered into a list first
