"""Factories for paper supports: one form's entry from a roll citizen, and bulk files (CSV or XLSX) of them."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence

from openpyxl import Workbook

from registry.paper.forms import FIELDS, PaperEntry
from tests.factories.roll import Citizen, citizen

_numbers = itertools.count(1)


def paper_citizen(**changes: object) -> Citizen:
    """A roll citizen whose clave de elector holds a real birth date (the paper form checks it), unique per call."""
    n = next(_numbers)
    day, month, year = 1 + n % 28, 1 + (n // 28) % 12, 50 + (n // 336) % 50
    clave = f"PAPELO{year:02d}{month:02d}{day:02d}26{'HM'[n % 2]}{n % 1000:03d}"
    return citizen(**changes).moved(clave_elector=clave)


def entry_for(person: Citizen, reference: str, **changes: str) -> PaperEntry:
    """The form of `person` (a roll citizen) with this número de referencia."""
    values = {"numero_referencia": reference, "nombre": "MARÍA", "apellido_paterno": "LÓPEZ",
              "apellido_materno": "PÉREZ", "clave_elector": person.clave_elector, "ocr": person.ocr,
              "tipo_inconsistencia": "", "comentario": ""}
    return PaperEntry(**{**values, **changes})


def row_of(entry: PaperEntry) -> list[str]:
    return [getattr(entry, name) for name in FIELDS]


def csv_file(entries: Sequence[PaperEntry | Sequence[str]], *, delimiter: str = ",", encoding: str = "utf-8",
             header: Sequence[str] = FIELDS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(row_of(e) if isinstance(e, PaperEntry) else list(e) for e in entries)
    return buffer.getvalue().encode(encoding)


def xlsx_file(entries: Sequence[PaperEntry], *, header: Sequence[str] = FIELDS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for entry in entries:
        sheet.append(row_of(entry))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
