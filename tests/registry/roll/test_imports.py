"""Roll imports end to end on the database: the switch, the rejected rows, the refusals, cancellation and a
worker killed mid-file."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import utcnow
from core.db import make_engine, session_scope
from registry.jobs import STALE_AFTER, STALE_AFTER_SQLITE, request_cancel
from registry.models import Job, Opl, RollEntry, RollImport, RollRejection
from registry.roll.imports import ImportRequest, queue_roll_import
from registry.states import JobKind, JobState, RollImportState
from registry.verification.compulsa import current_roll
from registry.worker import run_one
from tests.factories.processes import make_opl
from tests.factories.roll import ROLL_HEADER, Citizen, citizen, write_roll_file

CUTOFF = date(2026, 10, 31)
TODAY = date(2026, 12, 31)


@pytest.fixture
def opl(engine: Engine) -> Opl:
    with session_scope(engine) as session:
        return make_opl(session, short_name="IEE Prueba")


def queue(engine: Engine, opl: Opl, path: Path, *, cutoff: date = CUTOFF, owns: bool = False,
          columns: dict[str, str] | None = None) -> int:
    assert opl.id is not None
    with session_scope(engine) as session:
        job = queue_roll_import(session=session, actor_account_id=None, now=utcnow(), today=TODAY,
                                request=ImportRequest(opl_id=opl.id, source_name=path.name, cutoff=cutoff,
                                                      input_path=path, owns_input=owns, columns=columns))
    assert job.id is not None
    return job.id


def run(engine: Engine, job_id: int) -> Job:
    worker = make_engine(engine.url.render_as_string(hide_password=False))  # like the worker's (BEGIN IMMEDIATE)
    try:
        run_one(worker, utcnow, job_id=job_id)
    finally:
        worker.dispose()
    with session_scope(engine, read_only=True) as session:
        job = session.get(Job, job_id)
    assert job is not None
    return job


def roll_in_force(engine: Engine, opl: Opl) -> tuple[RollImport | None, int]:
    assert opl.id is not None
    with session_scope(engine, read_only=True) as session:
        roll = current_roll(session=session, opl_id=opl.id)
        rows = session.exec(select(func.count()).select_from(RollEntry)
                            .where(RollEntry.roll_import_id == (roll.id if roll else -1))).one()
    return roll, rows


def import_file(engine: Engine, opl: Opl, path: Path, **options: object) -> Job:
    return run(engine, queue(engine, opl, path, **options))  # type: ignore[arg-type]


def test_an_import_puts_the_roll_in_force_and_lists_its_rejected_rows(engine: Engine, opl: Opl,
                                                                     tmp_path: Path) -> None:
    people = [citizen() for _ in range(60)]
    path = write_roll_file(tmp_path / "lista.csv", people, extra_lines=("NOTACLAVE,1,2,3,X,Y,Z,26,1,1,1,vigente",))
    job = import_file(engine, opl, path)
    assert job.state is JobState.SUCCEEDED, job.message
    roll, rows = roll_in_force(engine, opl)
    assert roll is not None and (roll.row_count, roll.rows_rejected, rows) == (60, 1, 60)
    with session_scope(engine, read_only=True) as session:
        rejections = session.exec(select(RollRejection)).all()
        verify_jobs = session.exec(select(Job).where(Job.kind == JobKind.VERIFY)).all()
    assert [(r.line, r.reason.split(":")[0]) for r in rejections] == [(62, "clave_elector")]
    assert "NOTACLAVE" not in rejections[0].reason
    assert len(verify_jobs) == 1 and verify_jobs[0].state is JobState.QUEUED  # the compulsa follows the roll
    assert path.exists()  # the admin's own file (command line) is never deleted


def test_a_new_cutoff_replaces_the_previous_roll_in_one_switch(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    first = import_file(engine, opl, write_roll_file(tmp_path / "a.csv", [citizen() for _ in range(5)]))
    second = import_file(engine, opl, write_roll_file(tmp_path / "b.csv", [citizen() for _ in range(7)]),
                         cutoff=CUTOFF + timedelta(days=30))
    roll, rows = roll_in_force(engine, opl)
    assert roll is not None and roll.id == second.roll_import_id and rows == 7
    with session_scope(engine, read_only=True) as session:
        old = session.get(RollImport, first.roll_import_id)
        leftover = session.exec(select(func.count()).select_from(RollEntry)
                                .where(RollEntry.roll_import_id == first.roll_import_id)).one()
    assert old is not None and old.state is RollImportState.SUPERSEDED and leftover == 0


def test_a_repeated_clave_keeps_the_first_line_and_names_it(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    people = [citizen() for _ in range(30)]
    twin = people[3].moved(cic="555555555")
    job = import_file(engine, opl, write_roll_file(tmp_path / "dup.csv", [*people, twin]))
    assert job.state is JobState.SUCCEEDED, job.message
    with session_scope(engine, read_only=True) as session:
        rejection = session.exec(select(RollRejection)).one()
        kept = session.get(RollEntry, (job.roll_import_id, people[3].clave_elector))
    assert rejection.line == 32 and "línea 5" in rejection.reason
    assert kept is not None and kept.cic == people[3].cic


def test_a_file_mostly_rejected_does_not_replace_the_roll_in_force(engine: Engine, opl: Opl,
                                                                   tmp_path: Path) -> None:
    good = import_file(engine, opl, write_roll_file(tmp_path / "good.csv", [citizen() for _ in range(10)]))
    bad_lines = tuple(f"BAD{i},1,2,3,X,Y,Z,26,1,1,1,vigente" for i in range(5))
    job = import_file(engine, opl, write_roll_file(tmp_path / "bad.csv", [citizen() for _ in range(10)],
                                                   extra_lines=bad_lines))
    assert job.state is JobState.FAILED and "sigue en vigor" in job.message
    roll, rows = roll_in_force(engine, opl)
    assert roll is not None and roll.id == good.roll_import_id and rows == 10
    with session_scope(engine, read_only=True) as session:
        refused = session.get(RollImport, job.roll_import_id)
        rejected_lines = session.exec(select(RollRejection.line)
                                      .where(RollRejection.roll_import_id == job.roll_import_id)).all()
    assert refused is not None and refused.state is RollImportState.FAILED
    assert sorted(rejected_lines) == [12, 13, 14, 15, 16]  # still listed, so the admin can fix the file


def test_an_unreadable_file_fails_with_a_message_and_changes_nothing(engine: Engine, opl: Opl,
                                                                     tmp_path: Path) -> None:
    import_file(engine, opl, write_roll_file(tmp_path / "good.csv", [citizen() for _ in range(4)]))
    path = tmp_path / "otro.csv"
    path.write_text("nombre;edad\nMARIA;30\n", encoding="utf-8")
    job = import_file(engine, opl, path)
    assert job.state is JobState.FAILED and "sigue en vigor" in job.message
    assert roll_in_force(engine, opl)[1] == 4


def test_gzip_and_other_column_names(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    people = [citizen() for _ in range(12)]
    plain = write_roll_file(tmp_path / "l.csv", people).read_text(encoding="utf-8")
    renamed = plain.replace("clave_elector,", "CLAVE ELECTOR,", 1).replace(",estado,", ",ENTIDAD,", 1)
    path = tmp_path / "l.csv.gz"
    path.write_bytes(gzip.compress(renamed.encode("utf-8")))
    job = import_file(engine, opl, path, columns={"clave_elector": "CLAVE ELECTOR", "estado": "ENTIDAD"})
    assert job.state is JobState.SUCCEEDED, job.message
    assert roll_in_force(engine, opl)[1] == 12


def test_an_uploaded_file_is_deleted_when_its_job_ends(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    path = write_roll_file(tmp_path / "upload.bin", [citizen() for _ in range(3)])
    assert import_file(engine, opl, path, owns=True).state is JobState.SUCCEEDED
    assert not path.exists()


def test_a_cancelled_import_leaves_the_previous_roll(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    import_file(engine, opl, write_roll_file(tmp_path / "good.csv", [citizen() for _ in range(4)]))
    job_id = queue(engine, opl, write_roll_file(tmp_path / "next.csv", [citizen() for _ in range(9)]))
    with session_scope(engine) as session:  # the admin pressed Cancel while the worker was starting on it
        job = session.get(Job, job_id)
        assert job is not None
        job.cancel_requested = True
        session.add(job)
    assert run(engine, job_id).state is JobState.CANCELLED
    assert roll_in_force(engine, opl)[1] == 4


def test_a_queued_job_is_cancelled_at_once_and_only_by_its_opl(engine: Engine, opl: Opl, tmp_path: Path) -> None:
    job_id = queue(engine, opl, write_roll_file(tmp_path / "next.csv", [citizen()]))
    with session_scope(engine) as session:
        other = make_opl(session, short_name="Otro OPL")
        assert other.id is not None and opl.id is not None
        assert not request_cancel(session=session, job_id=job_id, opl_id=other.id, actor_account_id=1, now=utcnow())
    with session_scope(engine) as session:
        account = _any_account(session)
        assert request_cancel(session=session, job_id=job_id, opl_id=opl.id, actor_account_id=account, now=utcnow())
    assert run(engine, job_id).state is JobState.CANCELLED


def _any_account(session: Session) -> int:
    from tests.factories.accounts import make_account
    account = make_account(session)
    assert account.id is not None
    return account.id


def _big_roll(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(ROLL_HEADER + "\n")
        for n in range(rows):
            person = Citizen(clave_elector=f"GOME{chr(65 + n // 26_000 % 26)}{chr(65 + n // 1000 % 26)}"
                             f"{n % 1000:06d}26H{n // 676_000:03d}", cic=f"{n:09d}", ocr=f"{n:013d}",
                             identificador_ciudadano=f"{n:09d}")
            out.write(person.csv_line() + "\n")
    return path


def _cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    return {**env, "REGISTRO_ENV": "test", "REGISTRO_DATA_DIR": str(tmp_path / "var"),
            "REGISTRO_DATABASE_URL": database_url, "REGISTRO_SECRET_KEY": "kill-test-" + "x" * 40}


def _wait_for_rows(engine: Engine, seen: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine, read_only=True) as session:
            rows = session.exec(select(func.max(Job.rows_seen)).where(Job.kind == JobKind.ROLL_IMPORT)).one()
        if (rows or 0) >= seen:
            return
        time.sleep(0.05)
    raise AssertionError("the import never got going")


def test_an_import_killed_mid_file_leaves_the_previous_roll_and_runs_again(
        engine: Engine, app_engine: Engine, opl: Opl, tmp_path: Path, database_url: str) -> None:
    import_file(engine, opl, write_roll_file(tmp_path / "good.csv", [citizen() for _ in range(5)]))
    big = _big_roll(tmp_path / "grande.csv", 400_000)
    command = [sys.executable, "-m", "web.cli", "roll", "import", str(big), "--opl", "IEE Prueba",
               "--cutoff", "2026-11-30", "--no-verify"]
    worker = subprocess.Popen(command, env=_cli_env(tmp_path, database_url), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for_rows(engine, 40_000)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    roll, rows = roll_in_force(engine, opl)
    assert roll is not None and roll.cutoff_date == CUTOFF and rows == 5  # the previous roll is still in force

    # The job is still RUNNING under a dead worker; once its heartbeat is stale the next worker takes it over.
    later = utcnow() + max(STALE_AFTER, STALE_AFTER_SQLITE) + timedelta(seconds=1)
    while run_one(app_engine, lambda: later) is not None:  # the first roll's compulsa, then the import again
        pass
    roll, rows = roll_in_force(engine, opl)
    assert roll is not None and roll.cutoff_date == date(2026, 11, 30) and rows == 400_000
    with session_scope(engine, read_only=True) as session:
        job = session.exec(select(Job).where(Job.kind == JobKind.ROLL_IMPORT)
                           .order_by(Job.id.desc())).first()  # type: ignore[union-attr]
    assert job is not None and job.state is JobState.SUCCEEDED and job.attempts == 2
