"""Background jobs: queued in the `job` table, claimed by one worker at a time, reporting progress as they go.

Why not procrastinate (or another queue)? The embedded default runs on SQLite, which those libraries do not
serve, and the two kinds of work here (roll import, compulsa) need their progress, live row count, rejected rows
and cancel flag in our own tables anyway for the admin page. One small runner, the same on both databases and
tested on both, is less to operate than a queue for PostgreSQL plus another path for SQLite.

A running job refreshes its heartbeat from a side thread; a RUNNING job whose heartbeat went stale belongs to a
worker that died (SIGKILL, power cut) and is claimed again. Both kinds of work are safe to run again from the
start: an import's rows were never put in force (see registry/roll/loader.py), a compulsa is idempotent."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any, Protocol

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Executable
from sqlmodel import Session, col, select

from core.audit import record_audit
from core.clock import Clock
from core.db import SQLITE_BUSY_TIMEOUT_MS, session_scope
from registry.models import Job, RollRejection
from registry.roll.source import RowRejection
from registry.states import ACTIVE_JOBS, JobKind, JobState

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = timedelta(seconds=5)
STALE_AFTER = timedelta(seconds=60)  # far longer than a missed heartbeat or two
# SQLite has one writer: while a compulsa holds the write lock, heartbeats wait (and are skipped), so a job there
# is only taken over after a silence no single transaction of a small process comes near.
STALE_AFTER_SQLITE = timedelta(minutes=15)
SIDE_WRITE_WAIT_MS = 250  # a heartbeat or progress write gives up this soon rather than stall the job
PROGRESS_EVERY_SECONDS = 0.5
REJECTIONS_KEPT = 10_000  # listed one by one; beyond this the import still counts every rejected row


class JobCancelled(Exception):
    """Raised inside a job when the admin asked to cancel it: its transaction rolls back."""


class JobRefused(Exception):
    """The job ran and decided not to complete (e.g. too many rejected rows); `message` says why, in Spanish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class JobRequest:
    kind: JobKind
    opl_id: int
    process_id: int | None = None
    roll_import_id: int | None = None
    input_path: str | None = None
    options: str = "{}"


def enqueue(*, session: Session, request: JobRequest, actor_account_id: int | None, now: datetime) -> Job:
    job = Job(kind=request.kind, opl_id=request.opl_id, process_id=request.process_id,
              roll_import_id=request.roll_import_id, input_path=request.input_path, options=request.options,
              requested_by_account_id=actor_account_id, created_at=now)
    session.add(job)
    session.flush()
    record_audit(session, action="job_queued", actor_account_id=actor_account_id, object_type="job",
                 object_id=job.id, after=f"kind={job.kind} opl={job.opl_id} process={job.process_id}")
    return job


def request_cancel(*, session: Session, job_id: int, opl_id: int, actor_account_id: int, now: datetime) -> bool:
    """Ask a queued or running job of this OPL to stop; a queued one is cancelled at once. False if not found."""
    job = session.get(Job, job_id)
    if job is None or job.opl_id != opl_id or job.state not in ACTIVE_JOBS:
        return False
    job.cancel_requested = True
    if job.state is JobState.QUEUED:
        job.state, job.finished_at, job.message = JobState.CANCELLED, now, "Cancelado antes de empezar."
    session.add(job)
    record_audit(session, action="job_cancel_requested", actor_account_id=actor_account_id, object_type="job",
                 object_id=job.id)
    return True


def jobs_of_opl(*, session: Session, opl_id: int, limit: int = 20) -> list[Job]:
    return list(session.exec(select(Job).where(Job.opl_id == opl_id).order_by(col(Job.id).desc()).limit(limit)))


def claim_next(engine: Engine, *, now: datetime, job_id: int | None = None) -> Job | None:
    """Take the oldest queued job (or one whose worker died), atomically: two workers never get the same one."""
    stale = now - (STALE_AFTER if engine.dialect.name == "postgresql" else STALE_AFTER_SQLITE)
    claimable = or_(col(Job.state) == JobState.QUEUED,
                    (col(Job.state) == JobState.RUNNING) & (col(Job.heartbeat_at) < stale))
    query = select(Job).where(claimable).order_by(col(Job.id)).limit(1)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    with session_scope(engine, read_only=True) as session:  # idle workers poll without taking SQLite's write lock
        if session.exec(query).first() is None:
            return None
    with session_scope(engine) as session:
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.exec(query).first()
        if job is None:
            return None
        job.state, job.attempts, job.heartbeat_at = JobState.RUNNING, job.attempts + 1, now
        job.started_at = job.started_at or now
        session.add(job)
        return job


def finish(engine: Engine, job_id: int, *, state: JobState, message: str, now: datetime) -> None:
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.message, job.finished_at = state, message[:500], now
        if state is JobState.SUCCEEDED:  # 100 %, even where a busy SQLite skipped the last progress writes
            job.progress_total = max(job.progress_total, 1)
            job.progress_done = job.progress_total
        session.add(job)


class Heartbeat:
    """Keeps a running job's heartbeat fresh from a side thread, whatever the job's own thread is doing."""

    def __init__(self, engine: Engine, job_id: int, clock: Clock) -> None:
        self.engine, self.job_id, self.clock = engine, job_id, clock
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_EVERY.total_seconds()):
            side_write(self.engine, update(Job).where(col(Job.id) == self.job_id).values(heartbeat_at=self.clock()))


def side_write(engine: Engine, statement: Executable) -> bool:
    """A small write beside a job's own transaction (heartbeat, progress): best effort. On SQLite, while the job
    holds the one write lock, it gives up after a moment instead of waiting the app's full busy timeout."""
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            raw: Any = connection.connection.driver_connection  # before BEGIN: the wait applies to taking the lock
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout={SIDE_WRITE_WAIT_MS}")
            try:
                with connection.begin():
                    connection.execute(statement)
            finally:
                if sqlite:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    except OperationalError:
        log.info("job side write skipped: database busy")
        return False
    return True


class ReadProgress(Protocol):
    """A file being read (registry.roll.source.RollSource): how far, of how much."""

    @property
    def bytes_read(self) -> int: ...

    @property
    def bytes_total(self) -> int: ...


class JobReporter:
    """A job's progress, live row count, rejected rows and cancel flag, written in short transactions of their own
    so the admin page sees them while the job's own (long) transaction is still open."""

    def __init__(self, engine: Engine, job: Job) -> None:
        assert job.id is not None
        self.engine, self.job_id, self.roll_import_id = engine, job.id, job.roll_import_id
        self.rejections_kept = 0
        self.last_report = 0.0
        self.file: ReadProgress | None = None

    def follow_bytes(self, source: ReadProgress) -> None:
        """Progress of a file import is measured in bytes of the file read, the only total known in advance."""
        self.file = source

    def progress(self, rows_seen: int) -> None:
        if monotonic() - self.last_report < PROGRESS_EVERY_SECONDS:
            return
        self.last_report = monotonic()
        values: dict[str, object] = {"rows_seen": rows_seen}
        if self.file is not None:
            values |= {"progress_done": self.file.bytes_read, "progress_total": self.file.bytes_total}
        self._update_and_check(values)

    def step(self, done: int, total: int, message: str) -> None:
        self._update_and_check({"progress_done": done, "progress_total": total, "message": message[:500]})

    def _update_and_check(self, values: dict[str, object]) -> None:
        side_write(self.engine, update(Job).where(col(Job.id) == self.job_id).values(**values))
        with session_scope(self.engine, read_only=True) as session:
            cancel = session.exec(select(Job.cancel_requested).where(Job.id == self.job_id)).one()
        if cancel:
            raise JobCancelled

    def rejected(self, rejections: list[RowRejection]) -> None:
        room = REJECTIONS_KEPT - self.rejections_kept
        if room <= 0 or self.roll_import_id is None:
            return
        kept = rejections[:room]
        with session_scope(self.engine) as session:
            session.add_all([RollRejection(roll_import_id=self.roll_import_id, line=r.line, reason=r.reason[:300])
                             for r in kept])
        self.rejections_kept += len(kept)


def active_job(*, session: Session, kind: JobKind, opl_id: int) -> Job | None:
    query = select(Job).where(Job.kind == kind, Job.opl_id == opl_id, col(Job.state).in_(ACTIVE_JOBS))
    return session.exec(query).first()


def queued_after(*, session: Session, kind: JobKind, roll_import_id: int | None) -> list[int]:
    """The jobs an import queued when it put its roll in force (the command line runs them at once)."""
    query = select(Job.id).where(Job.kind == kind, Job.roll_import_id == roll_import_id,
                                 Job.state == JobState.QUEUED).order_by(col(Job.id))
    return [job_id for job_id in session.exec(query) if job_id is not None]
