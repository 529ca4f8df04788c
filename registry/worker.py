"""The worker: runs queued jobs (roll imports, bulk compulsas) and verifies new supports within seconds.

`registry worker` runs it as its own process (production, any number of them); the embedded default runs it as
a thread of the web app. Either way a job is claimed atomically, so workers never run the same job twice at once."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from core.clock import Clock
from registry.jobs import Heartbeat, JobCancelled, JobRefused, JobReporter, claim_next, finish
from registry.models import Job
from registry.roll.imports import file_error_message, run_roll_import
from registry.roll.source import RollFileError
from registry.states import JobKind, JobState
from registry.verification.runs import run_verify_job, verify_pending

log = logging.getLogger(__name__)
Runner = Callable[[Engine, Job, JobReporter, Clock], str]
RUNNERS: dict[JobKind, Runner] = {JobKind.ROLL_IMPORT: run_roll_import, JobKind.VERIFY: run_verify_job}
IDLE_SECONDS = 1.0
PENDING_BATCH = 1_000


def run_one(engine: Engine, clock: Clock, *, job_id: int | None = None) -> Job | None:
    """Claim and run one job (the given one, or the oldest waiting); None when there was none to claim."""
    job = claim_next(engine, now=clock(), job_id=job_id)
    if job is None:
        return None
    assert job.id is not None
    state, message = JobState.SUCCEEDED, ""
    with Heartbeat(engine, job.id, clock):
        try:
            message = RUNNERS[job.kind](engine, job, JobReporter(engine, job), clock)
        except JobCancelled:
            state, message = JobState.CANCELLED, "Cancelado. Lo que ya estaba en vigor no cambió."
        except JobRefused as refused:
            state, message = JobState.FAILED, refused.message
        except RollFileError as error:
            state, message = JobState.FAILED, file_error_message(error)
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)  # the traceback names no personal data
            state, message = JobState.FAILED, "Falló por un error interno; lo que ya estaba en vigor no cambió."
    finish(engine, job.id, state=state, message=message, now=clock())
    _release_input(job)
    return job


def _release_input(job: Job) -> None:
    """An uploaded roll (personal data of every voter) is deleted as soon as its job is over."""
    if job.input_path and json.loads(job.options).get("owns_input"):
        Path(job.input_path).unlink(missing_ok=True)


def work_forever(engine: Engine, clock: Clock, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            busy = run_one(engine, clock) is not None
            busy = verify_pending(engine, clock, limit=PENDING_BATCH) > 0 or busy
        except Exception:
            log.exception("worker loop error; retrying")
            busy = False
        if not busy:
            stop.wait(IDLE_SECONDS)


class InProcessWorker:
    """The embedded default's worker: a daemon thread of the web app, stopped with it."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=work_forever, args=(engine, clock, self.stop), name="registro-worker",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

