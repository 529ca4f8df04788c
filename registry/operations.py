"""What operations asks of the database: whether the app can serve (readiness) and the depths worth watching
(job queue, supports waiting for the compulsa, supports by status), each one cheap at national scale."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from core.db import session_scope
from registry.models import Job, PendingVerification, ReportDayCount
from registry.states import ACTIVE_JOBS, JobKind, JobState, SupportStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, bool]  # check name -> passed

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]


def check_readiness(engine: Engine, *, storage_ready: Callable[[], bool]) -> Readiness:
    """The database answers, the job queue's table can be read, and the image store is reachable."""
    database = _passes("database", lambda: _select_one(engine))
    jobs = database and _passes("jobs", lambda: _read_job_queue(engine))
    return Readiness({"database": database, "storage": _passes("storage", storage_ready), "jobs": jobs})


def _passes(name: str, check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception as error:  # any failure means "not ready"; its message may name a host or a path
        log.warning("readiness check %s failed: %s", name, type(error).__name__)
        return False


def _select_one(engine: Engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar_one() == 1


def _read_job_queue(engine: Engine) -> bool:
    with session_scope(engine, read_only=True) as session:
        session.exec(select(Job.id).limit(1)).first()
    return True


def active_jobs_by_kind(*, session: Session) -> dict[tuple[JobKind, JobState], int]:
    """Queued and running jobs per kind (ix_job_state keeps this off the finished ones), zeros included."""
    counts = dict.fromkeys(((kind, state) for kind in JobKind for state in sorted(ACTIVE_JOBS)), 0)
    rows = session.exec(select(Job.kind, Job.state, func.count()).where(col(Job.state).in_(ACTIVE_JOBS))
                        .group_by(Job.kind, Job.state))
    for kind, state, n in rows:
        counts[(JobKind(kind), JobState(state))] = n
    return counts


def pending_verifications(*, session: Session) -> int:
    """Supports received and not yet through the compulsa (the worker's queue)."""
    return session.exec(select(func.count()).select_from(PendingVerification)).one()


def supports_by_status(*, session: Session) -> dict[SupportStatus, int]:
    """Every support by where it stands now, from the report counters (one small row per aspirant, day, status
    and situación) instead of grouping millions of supports."""
    counts = dict.fromkeys(SupportStatus, 0)
    rows = session.exec(select(ReportDayCount.status, func.coalesce(func.sum(ReportDayCount.n), 0))
                        .group_by(ReportDayCount.status))
    for status, n in rows:
        counts[SupportStatus(status)] = int(n)
    return counts

