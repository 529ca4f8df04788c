"""Running the compulsa: in bulk as a job (after a roll import, or asked for by the OPL), and incrementally for
supports that arrive while a roll is in force (the worker's tick)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from core.audit import record_audit
from core.clock import Clock
from core.db import session_scope
from registry.jobs import JobReporter
from registry.models import Job
from registry.verification.compulsa import CompulsaResult, Step, pending_supports, processes_of_opl, verify_process


def run_verify_job(engine: Engine, job: Job, reporter: JobReporter, clock: Clock) -> str:
    """Verify one process, or every process of the OPL, each in one transaction (all of it or none of it)."""
    with session_scope(engine, read_only=True) as session:
        process_ids = [job.process_id] if job.process_id else processes_of_opl(session=session, opl_id=job.opl_id)
    examined = changed = 0
    for index, process_id in enumerate(process_ids):
        def step(done: int, total: int, what: str, index: int = index) -> None:
            reporter.step(index * total + done, len(process_ids) * total, what)

        result = verify_one(engine, process_id, clock, step=step, actor_account_id=job.requested_by_account_id)
        examined, changed = examined + result.examined, changed + result.changed
    return f"Compulsa terminada: {examined:,} apoyos revisados, {changed:,} cambiaron de situación."


def verify_one(engine: Engine, process_id: int, clock: Clock, *, step: Step | None = None,
               actor_account_id: int | None = None) -> CompulsaResult:
    with session_scope(engine) as session:
        result = verify_process(session=session, process_id=process_id, now=clock(), step=step)
        record_audit(session, action="compulsa_run", actor_account_id=actor_account_id, object_type="process",
                     object_id=process_id, after=f"examined={result.examined} changed={result.changed} "
                                                 f"roll={result.roll_import_id}")
    return result


def verify_pending(engine: Engine, clock: Clock, *, limit: int) -> int:
    """Verify supports received since the last pass (a few at a time, each process in its own transaction).
    Returns how many supports were examined."""
    with session_scope(engine, read_only=True) as session:
        pending = pending_supports(session=session, limit=limit)
    examined = 0
    for process_id, support_ids in pending.items():
        with session_scope(engine) as session:
            examined += verify_process(session=session, process_id=process_id, now=clock(),
                                       support_ids=support_ids).examined
    return examined
