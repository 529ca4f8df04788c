"""Background jobs (roll import, compulsa): one row each, with progress, a cancel flag and a heartbeat.

A worker holds a job by refreshing `heartbeat_at`; a job RUNNING with a stale heartbeat belongs to a worker that
died (SIGKILL, power cut) and is taken again by the next worker: its work rolled back with its transaction, and
both kinds of work are safe to run again from the start."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import enum_type, utc_datetime
from registry.states import JobKind, JobState


class Job(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_job_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: JobKind = Field(sa_type=enum_type(JobKind))
    state: JobState = Field(default=JobState.QUEUED, sa_type=enum_type(JobState))
    opl_id: int = Field(foreign_key="opl.id", index=True)
    process_id: int | None = Field(default=None, foreign_key="process.id")
    roll_import_id: int | None = Field(default=None, foreign_key="rollimport.id")
    requested_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    input_path: str | None = Field(default=None, max_length=500)  # the uploaded roll, deleted when the job ends
    options: str = Field(default="{}", max_length=2000)  # JSON: the --columns map
    progress_done: int = 0
    progress_total: int = 0
    rows_seen: int = 0  # roll rows read so far: the live count on the admin page
    message: str = Field(default="", max_length=500)
    cancel_requested: bool = False
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    started_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    heartbeat_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    finished_at: datetime | None = Field(default=None, sa_type=utc_datetime())
