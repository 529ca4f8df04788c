"""The morning report (`registro report send-daily`, run by cron or a systemd timer): for each process open on the
report's day, one e-mail to the OPL's staff (its admins and reviewers) with every aspirant's figures, and one to
each aspirant with their own, through the outbox.

The report of day D is sent the morning after and states the figures as they stood at the end of D in the
process's time zone (rebuilt from the support events, so a run at 7:00 or at 11:00, or a late re-run with
`--date`, says the same). Its e-mails are queued in the same transaction as the DailyReport row of (process, D),
whose key is the guard: a second run that day, even a concurrent one, sends nothing. Nothing in them is personal
beyond the aspirants' names (candidates, public) and the figures. Each report also carries, in its e-mails and in its
DailyReport row, the anchor: the heads of the audit trail's and the process's hash chains as it was built
(registry/audit_chain.py), which readers keep so the history up to there can be checked later."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from auth.models import Account, RoleGrant
from auth.roles import Role
from registry.audit_chain import anchor_of
from registry.models import Aspirant, DailyReport, Process
from registry.outbox import queue_mail
from registry.reports.changes import tallies_at
from registry.reports.figures import Tally, summary

STAFF = (Role.OPL_ADMIN, Role.REVIEWER)


@dataclass(frozen=True)
class DailyLinks:
    """Absolute addresses of the report pages (the web layer knows its routes and the public base URL)."""

    staff: Callable[[int], str]  # the OPL's report page of a process
    aspirant: str  # the aspirant's progress page


@dataclass(frozen=True)
class Sent:
    process_id: int
    day: date
    messages: int  # 0 when the report of that day had been sent already
    already_sent: bool


@dataclass(frozen=True)
class Row:
    aspirante: str
    tally: Tally
    new: int  # received on the day
    requeridos: int | None
    porcentaje: Decimal | None


def report_day(process: Process, now: datetime) -> date:
    """Yesterday in the process's time zone: the day a morning run reports."""
    return now.astimezone(ZoneInfo(process.timezone)).date() - timedelta(days=1)


def _day_bounds(process: Process, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(process.timezone)
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def due_processes(*, session: Session, now: datetime, day: date | None = None) -> list[tuple[int, date]]:
    """Each process open at some moment of its report's day (so one that closed yesterday gets its last report
    this morning, and one closed before that none), with that day; a day not over yet is nobody's report."""
    due = []
    for process in session.exec(select(Process).order_by(col(Process.id))):
        assert process.id is not None
        chosen = day or report_day(process, now)
        starts, ends = _day_bounds(process, chosen)
        if process.starts_at < ends and process.ends_at >= starts and ends <= now:
            due.append((process.id, chosen))
    return due


def send_daily(*, session: Session, process_id: int, day: date, links: DailyLinks, now: datetime) -> Sent:
    """Queue the report of (process, day) unless it was queued already. Runs in the caller's transaction."""
    process = session.get(Process, process_id)
    assert process is not None
    if session.get(DailyReport, (process_id, day)) is not None:
        return Sent(process_id, day, 0, already_sent=True)
    guard = DailyReport(process_id=process_id, day=day, queued_at=now)
    try:
        with session.begin_nested():  # a concurrent run holding the same key waits here, then loses
            session.add(guard)
    except IntegrityError:
        return Sent(process_id, day, 0, already_sent=True)
    rows = _rows(session, process, day)
    anchor = anchor_of(session=session, process_id=process_id)  # the chains' heads as this report is built
    guard.anchor = json.dumps(anchor, sort_keys=True)
    guard.messages = _queue(session, process, day, rows, links, _anchor_text(anchor))
    session.add(guard)
    return Sent(process_id, day, guard.messages, already_sent=False)


def _rows(session: Session, process: Process, day: date) -> dict[int, Row]:
    """Every active aspirant's figures at the end of the day, with the supports received that day."""
    assert process.id is not None
    _starts, ends = _day_bounds(process, day)
    then = tallies_at(session=session, process_id=process.id, moment=ends)
    new = dict(session.execute(text(
        "SELECT aspirant_id, sum(n) FROM reportdaycount WHERE process_id = :process AND day = :day "
        "GROUP BY aspirant_id"), {"process": process.id, "day": day}).all())
    rows = {}
    for current in summary(session=session, process_id=process.id):
        tally = then.get(current.aspirant_id, Tally())
        required = current.threshold.requeridos
        rows[current.aspirant_id] = Row(current.aspirante, tally, int(new.get(current.aspirant_id) or 0), required,
                                        _share(tally.en_lista_nominal, required))
    return rows


def _share(counted: int, required: int | None) -> Decimal | None:
    """As the report pages state it (registry.reports.figures): of the required supports, two decimals."""
    if not required:
        return None
    return (Decimal(counted) * 100 / required).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _anchor_text(anchor: dict[str, dict[str, int | str]]) -> str:
    """The heads, for readers to keep: later, `registro audit verify` (or anyone recomputing the hashes) shows
    whether the history up to each of them is still the one they were sent."""
    lines = "".join(f"  {stream}: registro {head['seq']}, huella {head['hash']}\n" for stream, head in anchor.items())
    return ("\nHuella de la bitácora al preparar este reporte (consérvala: permite comprobar después que el historial "
            "no se alteró):\n" + lines)


def _queue(session: Session, process: Process, day: date, rows: dict[int, Row], links: DailyLinks,
           anchor: str) -> int:
    subject = f"Reporte diario de apoyo ciudadano: {process.name}, {day:%d/%m/%Y}"
    heading = (f"Reporte de {process.name} ({process.office}) al cierre del {day:%d/%m/%Y} "
               f"(hora de {process.timezone}).\n\n")
    staff_body = (heading + "\n".join(_block(row, day) for row in rows.values())
                  + f"\nConsulta el reporte completo: {links.staff(process.id or 0)}\n" + anchor)
    addresses = _staff_addresses(session, process.opl_id)
    for address in addresses:
        queue_mail(session=session, to_address=address, subject=subject, body=staff_body)
    aspirants = _aspirant_addresses(session, process, set(rows))
    for aspirant_id, address in aspirants:
        body = heading + _block(rows[aspirant_id], day) + f"\nConsulta tu avance: {links.aspirant}\n" + anchor
        queue_mail(session=session, to_address=address, subject=subject, body=body)
    return len(addresses) + len(aspirants)


def _block(row: Row, day: date) -> str:
    tally = row.tally
    share = f"{row.porcentaje} %" if row.porcentaje is not None else "sin Lista Nominal en vigor"
    required = f"{row.requeridos:,}" if row.requeridos is not None else "—"
    return (f"{row.aspirante}\n"
            f"  Apoyos enviados: {tally.enviados:,} ({row.new:,} recibidos el {day:%d/%m/%Y})\n"
            f"  En Lista Nominal: {tally.en_lista_nominal:,}\n"
            f"  Duplicados (mismo aspirante): {tally.duplicados_mismo_aspirante:,}\n"
            f"  En otra situación registral: {tally.otra_situacion_registral:,}\n"
            f"  Con inconsistencia: {tally.con_inconsistencia:,}\n"
            f"  En procesamiento: {tally.en_procesamiento:,}\n"
            f"  En mesa de control: {tally.en_mesa_de_control:,}\n"
            f"  Requeridos: {required} · alcanzado: {share}\n")


def _staff_addresses(session: Session, opl_id: int) -> list[str]:
    """The OPL's admins and reviewers with an active account and an address, each address once."""
    found = session.exec(select(Account.email).join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
                         .where(col(RoleGrant.role).in_(STAFF), RoleGrant.opl_id == opl_id,
                                col(Account.is_active).is_(True), col(Account.email).is_not(None))).all()
    return sorted({address.strip().lower() for address in found if address and address.strip()})


def _aspirant_addresses(session: Session, process: Process, aspirant_ids: set[int]) -> list[tuple[int, str]]:
    """Active aspirants who accepted their invitation (the address was proved then); an invitation still waiting
    may carry a mistyped address, which must not receive anyone's figures."""
    found = session.exec(select(Aspirant).where(Aspirant.process_id == process.id, col(Aspirant.is_active).is_(True),
                                                col(Aspirant.account_id).is_not(None))
                         .order_by(col(Aspirant.id))).all()
    return [(a.id, a.email) for a in found if a.id in aspirant_ids and a.id is not None and a.email]
