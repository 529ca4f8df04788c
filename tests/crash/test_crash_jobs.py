"""Crash safety of the background jobs (issue 14, deliverable 6): `registro worker` is killed with SIGKILL in the
middle of a roll import and of a compulsa, then started again. The job is claimed again once its heartbeat is
stale and runs to the end; meanwhile and afterwards the roll in force is the old one or the new one, entirely, and
every support is either untouched or verified, with the report counters equal to a recount.

Where the kill lands: on PostgreSQL the test holds a row lock the job needs part-way (the old roll's row for the
import's switch, one support's row for the compulsa's write), so the job is certainly inside its transaction when
killed. SQLite has no row locks: there the import is killed after its first batch of rows is committed (they must
stay invisible) and the compulsa while it runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, func, select

from core.clock import utcnow
from core.db import session_scope
from core.settings import Settings
from registry.jobs import JobRequest, enqueue
from registry.models import Job, RollEntry, RollImport, Support
from registry.reports.counters import counter_differences
from registry.roll.imports import ImportRequest, queue_roll_import
from registry.roll.loader import BATCH_ROWS
from registry.states import JobKind, JobState, RollImportState, SituacionRegistral
from tests.crash.servers import Child, base_env, children, free_port, wait_until
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support, write_roll_file

JOB_SECONDS = 180.0
OLD_ROLL = 40
NEW_ROLL = BATCH_ROWS + 6_000  # two batches on SQLite: the kill lands after the first is committed
SUPPORTS = 600


def _worker(settings: Settings, database_url: str, tmp_path: Path) -> Child:
    env = base_env(database_url=database_url, data_dir=settings.data_dir, secret_key=settings.secret_key,
                   port=free_port())
    return Child(args=["worker"], env=env, log_path=tmp_path / "worker.log")


def _job(engine: Engine, job_id: int) -> Job:
    with Session(engine) as db:
        job = db.get(Job, job_id)
        assert job is not None
        return job


@contextmanager
def _row_lock(engine: Engine, statement: str, **params: object) -> Iterator[Connection | None]:
    """On PostgreSQL, hold `SELECT ... FOR UPDATE` in a transaction of the test's own until the block ends."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as connection, connection.begin():
        connection.execute(text(statement), params)
        yield connection


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar())


def _kill_mid_job(engine: Engine, worker: Child, job_id: int, *, sqlite_ready: object) -> None:
    """Start the worker, wait until the job is inside its work, SIGKILL the worker."""
    worker.start()
    if engine.dialect.name == "postgresql":
        wait_until(lambda: _waiting_on_a_lock(engine), seconds=JOB_SECONDS,
                   what=lambda: f"the job to block\n{worker.output()}")
    else:
        wait_until(sqlite_ready, seconds=JOB_SECONDS, what=lambda: f"the job to be under way\n{worker.output()}",
                   every=0.01)
    worker.kill()
    assert _job(engine, job_id).state is JobState.RUNNING, "the job ended before the kill: the test proves nothing"


def _as_if_an_hour_passed(engine: Engine, job_id: int) -> None:
    """The dead worker's heartbeat goes stale after a silence (a minute on PostgreSQL, longer on SQLite); moving it
    back stands in for waiting that long."""
    with session_scope(engine) as db:
        db.execute(update(Job).where(col(Job.id) == job_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))


def _all_jobs_done(engine: Engine) -> bool:
    with Session(engine) as db:
        states = db.exec(select(Job.state)).all()
    return all(state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED) for state in states)


def _person(n: int) -> Citizen:
    """A citizen whose clave de elector is unique beyond the factory's 10,000 (a repeated clave is rejected)."""
    made = citizen(n)
    return made.moved(clave_elector=f"LOPEM{chr(ord('A') + n // 10_000)}{made.clave_elector[6:]}")


def _roll_in_force(engine: Engine, opl_id: int) -> tuple[int, int, int]:
    """The one roll in force: its id, its declared row count and the rows readers see under it."""
    with Session(engine) as db:
        [current] = db.exec(select(RollImport).where(RollImport.opl_id == opl_id,
                                                     RollImport.state == RollImportState.CURRENT)).all()
        rows = db.exec(select(func.count()).select_from(RollEntry)
                       .where(RollEntry.roll_import_id == current.id)).one()
    assert current.id is not None
    return current.id, current.row_count, rows


def test_a_roll_import_killed_mid_way_is_claimed_again_and_switches_entirely(engine: Engine, settings: Settings,
                                                                           database_url: str,
                                                                           tmp_path: Path) -> None:
    people = [_person(n) for n in range(1, NEW_ROLL + 1)]
    with session_scope(engine) as db:
        opl = make_opl(db)
        old = make_roll(db, opl=opl, citizens=people[:OLD_ROLL], cutoff=date(2026, 9, 30))
        assert opl.id is not None and old.id is not None
        opl_id, old_id = opl.id, old.id
        request = ImportRequest(opl_id=opl_id, source_name="nueva.csv", cutoff=date(2026, 10, 31),
                                input_path=write_roll_file(tmp_path / "nueva.csv", people))
        job = queue_roll_import(session=db, request=request, actor_account_id=None, now=utcnow(),
                                today=date(2026, 11, 30))
        assert job.id is not None and job.roll_import_id is not None
        job_id, new_id = job.id, job.roll_import_id

    def first_batch_in() -> bool:
        return _job(engine, job_id).progress_done >= BATCH_ROWS

    with children() as made:
        worker = _worker(settings, database_url, tmp_path)
        made.append(worker)
        with _row_lock(engine, "SELECT id FROM rollimport WHERE id = :id FOR UPDATE", id=old_id):
            _kill_mid_job(engine, worker, job_id, sqlite_ready=first_batch_in)
        assert _roll_in_force(engine, opl_id) == (old_id, OLD_ROLL, OLD_ROLL)  # the old roll, whole

        _as_if_an_hour_passed(engine, job_id)
        worker.start()
        wait_until(lambda: _all_jobs_done(engine), seconds=JOB_SECONDS, what=lambda: f"the jobs\n{worker.output()}",
                   every=0.2)
    done = _job(engine, job_id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2), done.message
    assert _roll_in_force(engine, opl_id) == (new_id, NEW_ROLL, NEW_ROLL)  # the new roll, whole
    with Session(engine) as db:
        assert counter_differences(session=db) == []


def test_a_compulsa_killed_mid_way_leaves_supports_untouched_then_verifies_them_all(engine: Engine,
                                                                                  settings: Settings,
                                                                                  database_url: str,
                                                                                  tmp_path: Path) -> None:
    people = [citizen(n) for n in range(1, SUPPORTS + 1)]
    with session_scope(engine) as db:
        opl = make_opl(db)
        process = make_process(db, opl=opl)
        aspirant = make_aspirant(db, process=process)
        make_roll(db, opl=opl, citizens=people)
        assert process.id is not None and aspirant.id is not None and opl.id is not None
        supports = [place_support(db, aspirant_id=aspirant.id, process_id=process.id, cic=person.cic).id
                    for person in people]
        job = enqueue(session=db, actor_account_id=None, now=utcnow(),
                      request=JobRequest(kind=JobKind.VERIFY, opl_id=opl.id, process_id=process.id))
        assert job.id is not None
        job_id = job.id

    def running() -> bool:
        return _job(engine, job_id).state is JobState.RUNNING

    with children() as made:
        worker = _worker(settings, database_url, tmp_path)
        made.append(worker)
        with _row_lock(engine, "SELECT id FROM support WHERE id = :id FOR UPDATE", id=supports[-1]):
            _kill_mid_job(engine, worker, job_id, sqlite_ready=running)
        after_kill = _situations(engine)
        assert set(after_kill) == {SituacionRegistral.SIN_VERIFICAR} \
            or SituacionRegistral.SIN_VERIFICAR not in after_kill, after_kill  # untouched, or all verified
        with Session(engine) as db:
            assert counter_differences(session=db) == []

        _as_if_an_hour_passed(engine, job_id)
        worker.start()
        wait_until(lambda: _all_jobs_done(engine), seconds=JOB_SECONDS, what=lambda: f"the job\n{worker.output()}",
                   every=0.2)
    assert _job(engine, job_id).state is JobState.SUCCEEDED
    assert _situations(engine) == Counter({SituacionRegistral.EN_LISTA_NOMINAL: SUPPORTS})


def _situations(engine: Engine) -> Counter[SituacionRegistral]:
    with Session(engine) as db:
        return Counter(db.exec(select(Support.situacion_registral)).all())

