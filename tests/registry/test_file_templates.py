"""The bulk files' templates: a header and an example row, CSV that Excel opens with its accents (BOM, CRLF) and
XLSX whose code columns stay text (an OCR keeps its leading zeros)."""

from __future__ import annotations

import codecs
import io

from openpyxl import load_workbook

from registry.file_templates import csv_template, xlsx_template

HEADER = ("numero", "nombre", "ocr")
EXAMPLE = ("F-1", "MARÍA", "0123456789012")


def test_the_csv_template_is_the_header_and_the_example_for_excel() -> None:
    data = csv_template(HEADER, EXAMPLE)
    assert data.startswith(codecs.BOM_UTF8)
    assert data.decode("utf-8-sig") == "numero,nombre,ocr\r\nF-1,MARÍA,0123456789012\r\n"


def test_the_xlsx_template_keeps_the_named_columns_as_text() -> None:
    sheet = load_workbook(io.BytesIO(xlsx_template("apoyos", HEADER, EXAMPLE, text_columns=("C",)))).active
    assert sheet is not None
    assert sheet.title == "apoyos"
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [list(HEADER), list(EXAMPLE)]
    assert [cell.number_format for cell in sheet["C"]] == ["@", "@"]
    assert sheet["B2"].number_format == "General"
