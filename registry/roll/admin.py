"""What the OPL admin's Lista Nominal pages read and ask: the roll in force, recent imports and jobs, one import
with its rejected rows, and the requests (queue an uploaded file, verify a process, cancel a job). Every query
takes the admin's OPL: an id of another OPL's import, job or process is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from sqlmodel import Session, col, select

from registry.jobs import JobRequest, enqueue, jobs_of_opl, request_cancel
from registry.models import Job, Process, RollImport, RollRejection
from registry.roll.imports import (
    ImportRequest,
    imports_of_opl,
    queue_roll_import,
    rejections_of,
)
from registry.roll.source import ColumnMap
from registry.states import ACTIVE_JOBS, JobKind
from registry.verification.compulsa import current_roll


class NotFound(Exception):
    """No such import, job or process in the admin's OPL (another OPL's ids included): the page answers 404."""


class VerifyProblem(StrEnum):
    NO_ROLL = "no_roll"
    ALREADY_ACTIVE = "already_active"


class VerifyRefused(Exception):
    def __init__(self, problem: VerifyProblem) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class RollOverview:
    current: RollImport | None
    imports: list[RollImport]
    jobs: list[Job]
    processes: list[Process]

    @property
    def any_active(self) -> bool:
        return any(job.state in ACTIVE_JOBS for job in self.jobs)

    @property
    def process_names(self) -> dict[int | None, str]:
        return {process.id: process.name for process in self.processes}


@dataclass(frozen=True)
class ImportDetail:
    roll: RollImport
    job: Job | None
    rejections: list[RollRejection]

    @property
    def active(self) -> bool:
        return self.job is not None and self.job.state in ACTIVE_JOBS

    @property
    def rejections_not_listed(self) -> int:
        return max(0, self.roll.rows_rejected - len(self.rejections))


@dataclass(frozen=True)
class UploadedRoll:
    opl_id: int
    path: Path
    source_name: str
    cutoff: date
    today: date  # in America/Mexico_City, where the OPLs work
    columns: ColumnMap | None


def roll_overview(*, session: Session, opl_id: int) -> RollOverview:
    processes = list(session.exec(select(Process).where(Process.opl_id == opl_id).order_by(col(Process.id))))
    return RollOverview(current=current_roll(session=session, opl_id=opl_id),
                        imports=imports_of_opl(session=session, opl_id=opl_id),
                        jobs=jobs_of_opl(session=session, opl_id=opl_id, limit=10), processes=processes)


def import_detail(*, session: Session, opl_id: int, roll_import_id: int) -> ImportDetail:
    roll = session.get(RollImport, roll_import_id)
    if roll is None or roll.opl_id != opl_id:
        raise NotFound
    job = session.exec(select(Job).where(Job.roll_import_id == roll_import_id, Job.kind == JobKind.ROLL_IMPORT)
                       .order_by(col(Job.id).desc())).first()
    finished = job is None or job.state not in ACTIVE_JOBS
    rejections = rejections_of(session=session, roll_import_id=roll_import_id) if finished else []
    return ImportDetail(roll=roll, job=job, rejections=rejections)


def queue_uploaded_roll(*, session: Session, upload: UploadedRoll, actor_account_id: int, now: datetime) -> Job:
    """Queue an uploaded file for import (refused as registry.roll.imports.queue_roll_import refuses)."""
    request = ImportRequest(opl_id=upload.opl_id, source_name=upload.source_name, cutoff=upload.cutoff,
                            input_path=upload.path, columns=upload.columns, owns_input=True)
    return queue_roll_import(session=session, request=request, actor_account_id=actor_account_id, now=now,
                             today=upload.today)


def queue_process_verification(*, session: Session, opl_id: int, process_id: int, actor_account_id: int,
                               now: datetime) -> Job:
    """The compulsa of one process against the roll in force, unless one that covers it is already waiting or
    running (one for this process, or the OPL-wide one queued after an import)."""
    process = session.get(Process, process_id)
    if process is None or process.opl_id != opl_id:
        raise NotFound
    if current_roll(session=session, opl_id=opl_id) is None:
        raise VerifyRefused(VerifyProblem.NO_ROLL)
    covering = session.exec(select(Job).where(
        Job.kind == JobKind.VERIFY, Job.opl_id == opl_id, col(Job.state).in_(ACTIVE_JOBS),
        (col(Job.process_id) == process_id) | col(Job.process_id).is_(None))).first()
    if covering is not None:
        raise VerifyRefused(VerifyProblem.ALREADY_ACTIVE)
    return enqueue(session=session, actor_account_id=actor_account_id, now=now,
                   request=JobRequest(kind=JobKind.VERIFY, opl_id=opl_id, process_id=process_id))


def cancel_job(*, session: Session, opl_id: int, job_id: int, actor_account_id: int, now: datetime) -> Job:
    """Ask this OPL's job to stop (nothing happens to one already finished); returns the job, to go back to."""
    job = session.get(Job, job_id)
    if job is None or job.opl_id != opl_id:
        raise NotFound
    request_cancel(session=session, job_id=job_id, opl_id=opl_id, actor_account_id=actor_account_id, now=now)
    return job
