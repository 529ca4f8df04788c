"""The downloadable templates of the bulk files the OPL uploads (processes, paper supports): the header and one
example row, as CSV and as XLSX, written the one way both readers accept."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook


def csv_template(header: Sequence[str], example: Sequence[str]) -> bytes:
    """UTF-8 with the BOM, so Excel opens the accents right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([header, example])
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_template(sheet_title: str, header: Sequence[str], example: Sequence[str], *,
                  text_columns: Sequence[str] = ()) -> bytes:
    """`text_columns` (letters) are formatted as text: Excel must not turn a code of digits into a number and
    drop its leading zeros."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title
    sheet.append(list(header))
    sheet.append(list(example))
    for column in text_columns:
        for cell in sheet[column]:
            cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
