"""The file INE's roll office asks for to verify an aspirant's supports (seed 001, oficio INE/DERFE/STN/30531/2017):
one column each for clave del estado, sección, nombre(s), apellido paterno, apellido materno, clave de elector, OCR
and CIC, the file named with the aspirant's name joined by underscores.

Where each value comes from:
- names: the Lista Nominal entry the compulsa matched (Support.citizen_key in the OPL's roll in force), otherwise
  what the OPL typed from a paper form; sección and estado: the support's place, otherwise that roll entry;
- clave de elector: the roll's (the citizen the compulsa found), otherwise the one captured with the support;
- OCR and CIC: only what was captured from the credential presented with this support, never the roll's. Filling
  them from the roll would hand INE a credential the person never showed, making a support built from a clave
  alone look like one given with the citizen's own credential.
An unknown value is an empty cell. All rows come from one query read through a server-side cursor."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlmodel import Session, col

from core.audit import record_audit
from registry.models import Aspirant, CredentialReading, PaperForm, Process, RollEntry, RollImport, Support
from registry.opl_admin import NotFound as OplNotFound
from registry.opl_admin.people import aspirants_of_process
from registry.reports.categories import Category, category_of
from registry.reports.tabular import Cell
from registry.states import RollImportState, SituacionRegistral, SupportStatus

HEADER: tuple[str, ...] = ("CLAVE_ESTADO", "SECCION", "NOMBRE", "APELLIDO_PATERNO", "APELLIDO_MATERNO",
                           "CLAVE_ELECTOR", "OCR", "CIC")
EXPORTED = "ine_export"  # the audit row's action
ROWS_PER_FETCH = 2000


class NotFound(Exception):
    """No aspirant (or process) with this id in the OPLs given."""


@dataclass(frozen=True)
class IneExport:
    aspirant_id: int
    filename_stem: str
    category: Category | None


def exportable_aspirants(*, session: Session, opl_ids: frozenset[int], process_id: int) -> tuple[Process,
                                                                                                 list[Aspirant]]:
    """The process (if it is one of `opl_ids`'s) and its aspirants, in name order, for the page of exports.
    Raises NotFound."""
    for opl_id in sorted(opl_ids):
        try:
            return aspirants_of_process(session=session, opl_id=opl_id, process_id=process_id)
        except OplNotFound:
            continue
    raise NotFound(process_id)


def open_export(*, session: Session, aspirant_id: int, opl_ids: frozenset[int] | None, category: Category | None,
                fmt: str, actor_account_id: int | None, now: datetime) -> IneExport:
    """Check the aspirant is in one of `opl_ids` (None: any, for the command line) and audit the export (who,
    which aspirant, category and format; never a row of it). Raises NotFound."""
    query = select(col(Aspirant.full_name)).join(Process, col(Process.id) == col(Aspirant.process_id)).where(
        col(Aspirant.id) == aspirant_id)
    if opl_ids is not None:
        query = query.where(col(Process.opl_id).in_(opl_ids))
    full_name = session.execute(query).scalar_one_or_none()
    if full_name is None:
        raise NotFound(aspirant_id)
    audit = record_audit(session, action=EXPORTED, actor_account_id=actor_account_id, object_type="aspirant",
                         object_id=aspirant_id, after=f"categoria={category or 'todas'} formato={fmt}")
    audit.at = now
    return IneExport(aspirant_id=aspirant_id, filename_stem=file_stem(full_name, category), category=category)


def file_stem(full_name: str, category: Category | None = None) -> str:
    """"María  López Hernández" -> "Maria_Lopez_Hernandez" (with "_en_lista_nominal" for one category): letters
    transliterated to ASCII, since INE's office and the zip tools in between read plain names alike; anything but
    letters, digits and hyphens dropped."""
    decomposed = unicodedata.normalize("NFKD", full_name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    words = [re.sub(r"[^A-Za-z0-9-]", "", word) for word in plain.split()]
    stem = "_".join(word for word in words if word) or "aspirante"
    return f"{stem}_{category.value}" if category is not None else stem


def export_rows(*, session: Session, aspirant_id: int, category: Category | None) -> Iterator[tuple[Cell, ...]]:
    """The aspirant's supports in `category` (all when None), in the order received, as HEADER's cells."""
    result = session.execute(_query(aspirant_id, category), execution_options={"yield_per": ROWS_PER_FETCH})
    for row in result:
        yield tuple(None if value == "" else value for value in _cells(row))


def _cells(row: Any) -> tuple[Cell, ...]:
    """Sealed columns open one by one (each under its own column's AAD), so the choices that SQL made with
    COALESCE and CASE are made here: names all three from the matched roll entry or all three from the form."""
    (state, seccion, roll_names, form_names, roll_clave, support_clave, reading_clave, ocr, support_cic,
     reading_cic) = row[0], row[1], row[2:5], row[5:8], row[8], row[9], row[10], row[11], row[12], row[13]
    names = roll_names if roll_clave is not None else form_names
    clave = next((value for value in (roll_clave, support_clave, reading_clave) if value is not None), None)
    return (state, seccion, *names, clave, ocr, support_cic if support_cic is not None else reading_cic)


def _query(aspirant_id: int, category: Category | None) -> Select[*tuple[Any, ...]]:
    roll = select(col(RollImport.id)).join(Process, col(Process.opl_id) == col(RollImport.opl_id)).where(
        col(Process.id) == col(Support.process_id), col(RollImport.state) == RollImportState.CURRENT
    ).scalar_subquery()
    query: Select[*tuple[Any, ...]] = (
        select(  # see _cells: names all three from one source (a roll entry's missing apellido stays missing)
            func.coalesce(col(Support.state_code), col(RollEntry.state_code)),
            func.coalesce(col(Support.seccion), col(RollEntry.seccion)),
            col(RollEntry.nombre), col(RollEntry.apellido_paterno), col(RollEntry.apellido_materno),
            col(PaperForm.nombre), col(PaperForm.apellido_paterno), col(PaperForm.apellido_materno),
            col(RollEntry.clave_elector), col(Support.clave_elector), col(CredentialReading.clave_elector),
            col(CredentialReading.ocr), col(Support.cic), col(CredentialReading.cic),
        )
        .select_from(Support)
        .join(CredentialReading, col(CredentialReading.id) == col(Support.reading_id))
        .outerjoin(PaperForm, col(PaperForm.support_id) == col(Support.id))
        .outerjoin(RollEntry, and_(col(RollEntry.roll_import_id) == roll,
                                   col(RollEntry.clave_elector_bidx) == col(Support.citizen_key)))
        .where(col(Support.aspirant_id) == aspirant_id)
        .order_by(col(Support.id))
    )
    if category is not None:
        query = query.where(in_category(category))
    return query


def in_category(category: Category) -> ColumnElement[bool]:
    """The supports whose (status, situación) category_of puts in `category`, as a condition on both columns:
    one status alone where its category does not depend on the situación."""
    situaciones = tuple(SituacionRegistral)
    conditions: list[ColumnElement[bool]] = []
    for status in SupportStatus:
        matching = [s for s in situaciones if category_of(status, s) is category]
        if len(matching) == len(situaciones):
            conditions.append(col(Support.status) == status)
        elif matching:
            conditions.append(and_(col(Support.status) == status, col(Support.situacion_registral).in_(matching)))
    return or_(*conditions) if conditions else false()
