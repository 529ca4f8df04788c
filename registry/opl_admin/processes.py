"""The OPL's processes: list them (with a filter), create and edit one — window, office, scope, threshold and
dispersion rule, the authorised paper municipalities (régimen de excepción), the review sample, the capture
pace and the objection period. Every change is audited with ids and field names only.

What protects the citizens who already gave support: once a process has supports, its scope (kind, district,
municipality) no longer changes — the compulsa would silently move them out of scope — and a paper municipality
from which paper supports were already received cannot be withdrawn (they would end `fuera_regimen_excepcion`
after the fact). Both are refused with a field message, not ignored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.audit import record_audit
from core.clock import to_local
from registry.models import Aspirant, Job, Opl, PaperExceptionMunicipality, Process, Support
from registry.opl_admin import NotFound
from registry.opl_admin.validation import (
    SCOPES,
    UNITS,
    InvalidProcess,
    Problem,
    ProcessForm,
    ProcessValues,
    validate_process,
)
from registry.states import JobKind

PAPER_CHANNELS = ("paper", "bulk_import")


@dataclass(frozen=True)
class ProcessSummary:
    process: Process
    aspirants: int
    active_aspirants: int
    paper_municipalities: tuple[int, ...]
    last_verify: Job | None


def processes_of_opl(*, session: Session, opl_id: int, process_id: int | None = None) -> list[ProcessSummary]:
    """The OPL's processes (or only the one chosen in the filter, when it is the OPL's), oldest first."""
    query = select(Process).where(Process.opl_id == opl_id)
    if process_id is not None:
        query = query.where(Process.id == process_id)
    processes = list(session.exec(query.order_by(col(Process.id))))
    ids = [p.id for p in processes]
    counts = {pid: (int(total), int(active or 0)) for pid, total, active in session.exec(
        select(Aspirant.process_id, func.count(), func.sum(sa.cast(col(Aspirant.is_active), sa.Integer)))
        .where(col(Aspirant.process_id).in_(ids)).group_by(col(Aspirant.process_id)))}
    paper: dict[int, list[int]] = {}
    paper_rows = select(PaperExceptionMunicipality.process_id, PaperExceptionMunicipality.municipality).where(
        col(PaperExceptionMunicipality.process_id).in_(ids)).order_by(col(PaperExceptionMunicipality.municipality))
    for pid, number in session.exec(paper_rows):
        paper.setdefault(pid, []).append(number)
    jobs: dict[int | None, Job] = {}
    for job in session.exec(select(Job).where(Job.opl_id == opl_id, Job.kind == JobKind.VERIFY,
                                              col(Job.process_id).in_(ids)).order_by(col(Job.id))):
        jobs[job.process_id] = job  # the latest wins
    return [ProcessSummary(process=p, aspirants=counts.get(p.id or 0, (0, 0))[0],
                           active_aspirants=counts.get(p.id or 0, (0, 0))[1],
                           paper_municipalities=tuple(paper.get(p.id or 0, [])), last_verify=jobs.get(p.id))
            for p in processes]


def process_names(*, session: Session, opl_id: int) -> list[tuple[int, str]]:
    """(id, name) of every process of the OPL: what the process filter offers."""
    rows = session.exec(select(Process.id, Process.name).where(Process.opl_id == opl_id).order_by(col(Process.id)))
    return [(pid, name) for pid, name in rows if pid is not None]


def process_of_opl(session: Session, opl_id: int, process_id: int) -> Process:
    process = session.get(Process, process_id)
    if process is None or process.opl_id != opl_id:
        raise NotFound
    return process


def paper_municipalities(session: Session, process_id: int) -> frozenset[int]:
    return frozenset(session.exec(select(PaperExceptionMunicipality.municipality)
                                  .where(PaperExceptionMunicipality.process_id == process_id)))


def form_of(*, session: Session, opl_id: int, process_id: int) -> ProcessForm:
    """The edit form filled with what is stored (local date-times, percentages as typed)."""
    process = process_of_opl(session, opl_id, process_id)
    share = process.dispersion_min_share
    return ProcessForm(
        nombre=process.name, cargo=process.office,
        ambito={kind: name for name, kind in SCOPES.items()}[process.scope_kind],
        distrito=_text(process.scope_district), municipio=_text(process.scope_municipality),
        inicio=_local(process.starts_at), fin=_local(process.ends_at),
        umbral_porcentaje=_text(process.threshold_percent.normalize()),
        unidad_dispersion={kind: name for name, kind in UNITS.items()}.get(process.dispersion_unit, "")
        if process.dispersion_unit else "",
        dispersion_minima_porcentaje=_text((share * 100).normalize() if share is not None else None),
        dispersion_porcentaje_por_unidad=_text(process.dispersion_unit_percent.normalize()
                                               if process.dispersion_unit_percent is not None else None),
        lista_nominal=_text(process.roll_size),
        municipios_papel=", ".join(str(n) for n in sorted(paper_municipalities(session, process_id))),
        muestra_revision_porcentaje=str(process.review_sample_percent),
        ritmo_captura_segundos=str(process.capture_interval_seconds),
        objeciones_inicio=_local(process.objections_open_at), objeciones_fin=_local(process.objections_close_at))


def _text(value: object) -> str:
    return "" if value is None else f"{value:f}" if hasattr(value, "is_finite") else str(value)


def _local(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def create_process(*, session: Session, opl_id: int, form: ProcessForm, actor_account_id: int) -> Process:
    """Validate and store a new process of the OPL; raises InvalidProcess (a name already used in the OPL too)."""
    values = validate_process(form)
    if name_taken(session, opl_id, values.name):
        raise InvalidProcess({"nombre": Problem.NAME_TAKEN})
    return store_new(session, opl_id, values, actor_account_id)


def name_taken(session: Session, opl_id: int, name: str, *, other_than: int | None = None) -> bool:
    query = select(Process.id).where(Process.opl_id == opl_id, func.lower(Process.name) == name.lower())
    if other_than is not None:
        query = query.where(Process.id != other_than)
    return session.exec(query).first() is not None


def store_new(session: Session, opl_id: int, values: ProcessValues, actor_account_id: int) -> Process:
    opl = session.get(Opl, opl_id)
    assert opl is not None
    process = Process(opl_id=opl_id, scope_state=opl.state_code, name=values.name, office=values.office,
                      scope_kind=values.scope_kind, starts_at=values.starts_at, ends_at=values.ends_at,
                      threshold_percent=values.threshold_percent)
    for name, value in _columns(values).items():
        setattr(process, name, value)
    session.add(process)
    session.flush()
    assert process.id is not None
    _set_paper(session, process.id, values.paper_municipalities)
    record_audit(session, action="process_created", actor_account_id=actor_account_id, object_type="process",
                 object_id=process.id, after=f"opl={opl_id}; paper_municipalities={len(values.paper_municipalities)}")
    return process


def update_process(*, session: Session, opl_id: int, process_id: int, form: ProcessForm,
                   actor_account_id: int) -> Process:
    """Validate and apply the edit; raises InvalidProcess, NotFound for another OPL's process."""
    process = process_of_opl(session, opl_id, process_id)
    values = validate_process(form)
    problems = _edit_problems(session, process, values)
    if problems:
        raise InvalidProcess(problems)
    columns = _columns(values)
    changed = sorted(name for name, value in columns.items() if getattr(process, name) != value)
    for name, value in columns.items():
        setattr(process, name, value)
    session.add(process)
    before = paper_municipalities(session, process_id)
    _set_paper(session, process_id, values.paper_municipalities)
    if before != values.paper_municipalities:
        changed.append("paper_municipalities")
    record_audit(session, action="process_updated", actor_account_id=actor_account_id, object_type="process",
                 object_id=process_id, after=f"changed={','.join(changed)}")
    return process


def _edit_problems(session: Session, process: Process, values: ProcessValues) -> dict[str, Problem]:
    problems: dict[str, Problem] = {}
    if name_taken(session, process.opl_id, values.name, other_than=process.id):
        problems["nombre"] = Problem.NAME_TAKEN
    scope = (values.scope_kind, values.scope_district, values.scope_municipality)
    if scope != (process.scope_kind, process.scope_district, process.scope_municipality) and _has_supports(
            session, process.id):
        problems["ambito"] = Problem.SCOPE_LOCKED
    withdrawn = paper_municipalities(session, process.id or 0) - values.paper_municipalities
    if withdrawn and session.exec(select(Support.id).where(
            Support.process_id == process.id, col(Support.channel).in_(PAPER_CHANNELS),
            col(Support.municipality).in_(withdrawn))).first() is not None:
        problems["municipios_papel"] = Problem.PAPER_IN_USE
    return problems


def _has_supports(session: Session, process_id: int | None) -> bool:
    return session.exec(select(Support.id).where(Support.process_id == process_id)).first() is not None


def _columns(values: ProcessValues) -> dict[str, object]:
    return {"name": values.name, "office": values.office, "scope_kind": values.scope_kind,
            "scope_district": values.scope_district, "scope_municipality": values.scope_municipality,
            "starts_at": values.starts_at, "ends_at": values.ends_at, "threshold_percent": values.threshold_percent,
            "dispersion_unit": values.dispersion_unit, "dispersion_min_share": values.dispersion_min_share,
            "dispersion_unit_percent": values.dispersion_unit_percent, "roll_size": values.roll_size,
            "review_sample_percent": values.review_sample_percent,
            "capture_interval_seconds": values.capture_interval_seconds,
            "objections_open_at": values.objections_open_at, "objections_close_at": values.objections_close_at}


def _set_paper(session: Session, process_id: int, wanted: frozenset[int]) -> None:
    have = {row.municipality: row for row in session.exec(
        select(PaperExceptionMunicipality).where(PaperExceptionMunicipality.process_id == process_id))}
    for number, row in have.items():
        if number not in wanted:
            session.delete(row)
    for number in sorted(wanted - set(have)):
        session.add(PaperExceptionMunicipality(process_id=process_id, municipality=number))
    session.flush()
