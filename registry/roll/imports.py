"""Roll imports: the OPL queues a file with its cut-off date; a worker loads it and puts it in force in one switch,
then queues the compulsa of the OPL's processes against the new roll. The web page and the command line share
this service; only how the file arrives differs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.audit import record_audit
from core.clock import Clock
from core.db import session_scope
from registry.jobs import JobRefused, JobReporter, JobRequest, active_job, enqueue
from registry.models import Job, Opl, RollImport, RollRejection
from registry.roll.loader import Loaded, load_and_switch
from registry.roll.source import ColumnMap, RollFileError, open_roll
from registry.states import JobKind, RollImportState
from registry.verification.compulsa import current_roll

# An import whose rejected rows pass this share of the file is not put in force: a file with the wrong columns
# or encoding would otherwise replace a good roll with a fraction of it and turn real supports into "not found".
MAX_REJECTED_SHARE = 0.05
REJECTIONS_SHOWN = 200


class UploadProblem(StrEnum):
    FUTURE_CUTOFF = "future_cutoff"  # a roll cannot be cut after today
    OLDER_THAN_CURRENT = "older_than_current"  # it would replace a newer roll in force
    IMPORT_ACTIVE = "import_active"  # another import of this OPL is still queued or running


class UploadRefused(Exception):
    def __init__(self, problem: UploadProblem) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class ImportRequest:
    opl_id: int
    source_name: str
    cutoff: date
    input_path: Path
    columns: ColumnMap | None = None
    owns_input: bool = False  # an uploaded copy in the data dir, deleted when the job ends


def queue_roll_import(*, session: Session, request: ImportRequest, actor_account_id: int | None,
                      now: datetime, today: date) -> Job:
    """Queue a file for import, unless it could only do harm: a cut-off after today (in Mexico), or one before
    the roll in force, whose switch would drop every citizen registered since and turn their supports into "not
    found". One import at a time per OPL, so the later cut-off is always the one that ends in force."""
    _refuse_harmful(session, request, today)
    roll = RollImport(opl_id=request.opl_id, source_name=request.source_name[:255], cutoff_date=request.cutoff,
                      state=RollImportState.LOADING, imported_at=now)
    session.add(roll)
    session.flush()
    options = json.dumps({"columns": request.columns, "owns_input": request.owns_input})
    job = enqueue(session=session, actor_account_id=actor_account_id, now=now, request=JobRequest(
        kind=JobKind.ROLL_IMPORT, opl_id=request.opl_id, roll_import_id=roll.id,
        input_path=str(request.input_path), options=options))
    record_audit(session, action="roll_import_queued", actor_account_id=actor_account_id, object_type="rollimport",
                 object_id=roll.id, after=f"opl={request.opl_id} cutoff={request.cutoff.isoformat()}")
    return job


def _refuse_harmful(session: Session, request: ImportRequest, today: date) -> None:
    if request.cutoff > today:
        raise UploadRefused(UploadProblem.FUTURE_CUTOFF)
    current = current_roll(session=session, opl_id=request.opl_id)
    if current is not None and request.cutoff < current.cutoff_date:
        raise UploadRefused(UploadProblem.OLDER_THAN_CURRENT)
    if import_in_progress(session=session, opl_id=request.opl_id):
        raise UploadRefused(UploadProblem.IMPORT_ACTIVE)


def import_in_progress(*, session: Session, opl_id: int) -> bool:
    return active_job(session=session, kind=JobKind.ROLL_IMPORT, opl_id=opl_id) is not None


def opl_by_short_name(*, session: Session, short_name: str) -> Opl | None:
    return session.exec(select(Opl).where(Opl.short_name == short_name)).first()


def verdict(loaded: Loaded) -> str | None:
    """Whether a loaded file may replace the roll in force (None) or not (why, in Spanish)."""
    total = loaded.rows + loaded.rejected
    if loaded.rows == 0:
        return "El archivo no tiene ningún registro válido. La Lista Nominal anterior sigue en vigor."
    if loaded.rejected > total * MAX_REJECTED_SHARE:
        return (f"Se rechazaron {loaded.rejected:,} de {total:,} registros (más del 5 %): revisa las columnas y la "
                "codificación del archivo. La Lista Nominal anterior sigue en vigor.")
    return None


def run_roll_import(engine: Engine, job: Job, reporter: JobReporter, clock: Clock) -> str:
    """Load the job's file and put it in force; returns the summary for the admin. Raises RollFileError,
    JobCancelled or JobRefused: the roll in force is then untouched."""
    assert job.roll_import_id is not None and job.input_path is not None
    roll = _restart(engine, job.roll_import_id)
    if roll.state is RollImportState.CURRENT:
        return _summary(roll)  # a worker died after the switch committed: the work is done
    columns = json.loads(job.options).get("columns")
    try:
        with open_roll(Path(job.input_path), columns=columns) as source:
            _set_format(engine, roll.id, source.format_label)
            reporter.follow_bytes(source)
            switch = load_and_switch(engine, import_id=_id(roll), opl_id=roll.opl_id, rows=source, sink=reporter,
                                     verdict=verdict, now=clock())
    except BaseException:
        mark_failed(engine, _id(roll))
        raise
    if switch.refusal is not None:
        mark_failed(engine, _id(roll), loaded=switch.loaded)
        raise JobRefused(switch.refusal)
    _after_switch(engine, job, clock)
    return _summary_of(roll.cutoff_date, switch.loaded)


def _id(roll: RollImport) -> int:
    assert roll.id is not None
    return roll.id


def _restart(engine: Engine, roll_import_id: int) -> RollImport:
    """A job run again after its worker died starts its import over: what the last run listed is cleared."""
    with session_scope(engine) as session:
        roll = session.get(RollImport, roll_import_id)
        assert roll is not None
        if roll.state is not RollImportState.CURRENT:
            for rejection in session.exec(select(RollRejection).where(RollRejection.roll_import_id == roll.id)):
                session.delete(rejection)
            roll.state = RollImportState.LOADING
            session.add(roll)
        return roll


def _set_format(engine: Engine, roll_import_id: int | None, label: str) -> None:
    with session_scope(engine) as session:
        roll = session.get(RollImport, roll_import_id)
        assert roll is not None
        roll.format_label = label[:80]
        session.add(roll)


def mark_failed(engine: Engine, roll_import_id: int, *, loaded: Loaded | None = None) -> None:
    """The import never went into force; its rows are already gone (the loader rolls back or discards them)."""
    with session_scope(engine) as session:
        roll = session.get(RollImport, roll_import_id)
        if roll is None or roll.state is RollImportState.CURRENT:
            return
        roll.state = RollImportState.FAILED
        if loaded is not None:
            roll.row_count, roll.rows_rejected = loaded.rows, loaded.rejected
        session.add(roll)


def _after_switch(engine: Engine, job: Job, clock: Clock) -> None:
    """The new roll is in force: verify the OPL's supports against it (the compulsa of every process)."""
    with session_scope(engine) as session:
        enqueue(session=session, actor_account_id=job.requested_by_account_id, now=clock(),
                request=JobRequest(kind=JobKind.VERIFY, opl_id=job.opl_id, roll_import_id=job.roll_import_id))
        record_audit(session, action="roll_in_force", actor_account_id=job.requested_by_account_id,
                     object_type="rollimport", object_id=job.roll_import_id)


def _summary(roll: RollImport) -> str:
    return _summary_of(roll.cutoff_date, Loaded(roll.row_count, roll.rows_rejected))


def _summary_of(cutoff: date, loaded: Loaded) -> str:
    return (f"Lista Nominal con corte al {cutoff.isoformat()} en vigor: {loaded.rows:,} registros cargados, "
            f"{loaded.rejected:,} rechazados.")


def file_error_message(error: RollFileError) -> str:
    return f"{error.message} La Lista Nominal anterior sigue en vigor."


def rejections_of(*, session: Session, roll_import_id: int, limit: int = REJECTIONS_SHOWN) -> list[RollRejection]:
    return list(session.exec(select(RollRejection).where(RollRejection.roll_import_id == roll_import_id)
                             .order_by(col(RollRejection.line)).limit(limit)))


def imports_of_opl(*, session: Session, opl_id: int, limit: int = 10) -> list[RollImport]:
    return list(session.exec(select(RollImport).where(RollImport.opl_id == opl_id)
                             .order_by(col(RollImport.id).desc()).limit(limit)))
