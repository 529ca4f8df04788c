"""Registering a team from a CSV file (the FURA form's fields, one auxiliary per row), all or nothing: every row
is validated first, and the aspirant sees every problem with its line before anybody is registered."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from registry.team import (
    AuxiliaryForm,
    FieldProblem,
    InvalidAuxiliary,
    Invitation,
    Problem,
    add_and_invite,
    require_invitations_left,
    team_keys,
    validate_auxiliary,
)

MAX_CSV_BYTES = 1_000_000
MAX_CSV_ROWS = 2000  # one aspirant had 1,297 auxiliaries in 2017-18


@dataclass(frozen=True)
class CsvImport:
    registered: int
    already_on_team: int  # rows whose e-mail was already registered with the same clave: skipped
    problems: tuple[FieldProblem, ...] = ()


_HEADERS = {
    "full_name": {"nombre", "nombre completo", "nombre_completo", "nombres", "full name", "name"},
    "clave_elector": {"clave", "clave de elector", "clave_elector", "clave elector", "clave de elector (18)"},
    "email": {"correo", "correo electronico", "correo electrónico", "email", "e-mail", "correo_electronico"},
    "phone": {"telefono", "teléfono", "celular", "phone", "tel", "teléfono celular", "telefono celular"},
}
_COLUMNS = ("full_name", "clave_elector", "email", "phone")


def import_auxiliaries_csv(*, session: Session, aspirant_id: int, data: bytes, invitation: Invitation,
                           actor_account_id: int, now: datetime) -> CsvImport:
    """All or nothing: every row is validated first, and if any row has a problem nobody is registered and
    every problem is reported with its line. Rows already on the team (same e-mail and clave) are skipped.
    Raises TooManyInvitations, registering nobody, when the file would pass the aspirant's daily cap."""
    rows, problems = parse_auxiliary_csv(data, today=now.date())
    if problems:
        return CsvImport(registered=0, already_on_team=0, problems=tuple(problems))
    emails, claves = team_keys(session, aspirant_id)
    fresh = [(line, form) for line, form in rows if form.email not in emails]
    repeated = len(rows) - len(fresh)
    conflicts = [FieldProblem("email", Problem.EMAIL_TAKEN, line) for line, form in rows
                 if form.email in emails and form.clave_elector not in claves]
    conflicts += [FieldProblem("clave_elector", Problem.CLAVE_TAKEN, line) for line, form in fresh
                  if form.clave_elector in claves]
    if conflicts:
        return CsvImport(registered=0, already_on_team=0, problems=tuple(sorted(conflicts, key=_by_line)))
    require_invitations_left(session, aspirant_id, invitation, now, wanted=len(fresh))  # all or nothing
    for _line, form in fresh:
        add_and_invite(session, aspirant_id, form, invitation, actor_account_id, now)
    return CsvImport(registered=len(fresh), already_on_team=repeated)


def _by_line(problem: FieldProblem) -> int:
    return problem.line or 0


def parse_auxiliary_csv(data: bytes, *, today: date) -> tuple[list[tuple[int, AuxiliaryForm]], list[FieldProblem]]:
    """Rows (with their line numbers) and every problem found. UTF-8 (with or without Excel's BOM) or
    Windows-1252; comma, semicolon or tab separated; a header row names the columns, otherwise the order is
    nombre, clave de elector, correo, teléfono."""
    if len(data) > MAX_CSV_BYTES:
        return [], [FieldProblem("file", Problem.FILE_TOO_LARGE)]
    text = _decode(data)
    if not text.strip():
        return [], [FieldProblem("file", Problem.FILE_EMPTY)]
    lines = _csv_rows(text)
    if lines is None:
        return [], [FieldProblem("file", Problem.FILE_UNREADABLE)]
    columns, body = _columns(lines)
    if columns is None:
        return [], [FieldProblem("file", Problem.COLUMNS_MISSING)]
    if not body:
        return [], [FieldProblem("file", Problem.FILE_EMPTY)]
    if len(body) > MAX_CSV_ROWS:
        return [], [FieldProblem("file", Problem.FILE_TOO_LARGE)]
    return _validate_rows(body, columns, today)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _csv_rows(text: str) -> list[tuple[int, list[str]]] | None:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        reader = csv.reader(io.StringIO(text), dialect)
        numbered = [(reader.line_num, row) for row in reader]
    except csv.Error:
        return None
    return [(line, row) for line, row in numbered if any(cell.strip() for cell in row)]


def _columns(lines: list[tuple[int, list[str]]]) -> tuple[dict[str, int] | None, list[tuple[int, list[str]]]]:
    if not lines:
        return None, []
    header = [cell.strip().lower() for cell in lines[0][1]]
    named = {field: index for index, cell in enumerate(header) for field in _COLUMNS if cell in _HEADERS[field]}
    if len(named) == len(_COLUMNS):
        return named, lines[1:]
    if named or len(header) < len(_COLUMNS):
        return None, []  # a header that names some columns but not all: guessing would misplace data
    return {field: index for index, field in enumerate(_COLUMNS)}, lines


def _validate_rows(body: list[tuple[int, list[str]]], columns: dict[str, int],
                   today: date) -> tuple[list[tuple[int, AuxiliaryForm]], list[FieldProblem]]:
    rows: list[tuple[int, AuxiliaryForm]] = []
    problems: list[FieldProblem] = []
    seen_emails: set[str] = set()
    seen_claves: set[str] = set()
    for line, cells in body:
        values = {field: cells[index] if index < len(cells) else "" for field, index in columns.items()}
        try:
            form = validate_auxiliary(AuxiliaryForm(**values), today=today)
        except InvalidAuxiliary as invalid:
            problems += [FieldProblem(p.field, p.problem, line) for p in invalid.problems]
            continue
        if form.email in seen_emails or form.clave_elector in seen_claves:
            problems.append(FieldProblem("email" if form.email in seen_emails else "clave_elector",
                                         Problem.REPEATED_IN_FILE, line))
            continue
        seen_emails.add(form.email)
        seen_claves.add(form.clave_elector)
        rows.append((line, form))
    return rows, problems
