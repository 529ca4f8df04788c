"""Running the compulsa: new supports verified by the worker within seconds, bulk jobs, and the command line."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.clock import utcnow
from core.db import session_scope
from registry.jobs import JobRequest, enqueue
from registry.models import Job, Process, Support, SupportEvent
from registry.states import JobKind, JobState, SituacionRegistral, SupportStatus
from registry.verification.runs import verify_pending
from registry.worker import InProcessWorker, run_one
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll, place_support, write_roll_file
from web.cli import main


def _world(engine: Engine, *, with_roll: bool = True) -> tuple[int, int, list[str]]:
    """(process id, aspirant id, CICs in the roll)."""
    people = [citizen() for _ in range(3)]
    with session_scope(engine) as session:
        opl = make_opl(session, short_name="IEE Prueba")
        aspirant = make_aspirant(session, process=make_process(session, opl=opl))
        if with_roll:
            make_roll(session, opl=opl, citizens=people)
        assert aspirant.id is not None
        return aspirant.process_id, aspirant.id, [p.cic for p in people]


def _support(engine: Engine, process_id: int, aspirant_id: int, cic: str) -> int:
    with session_scope(engine) as session:
        support = place_support(session, aspirant_id=aspirant_id, process_id=process_id, cic=cic)
        assert support.id is not None
        return support.id


def _situacion(engine: Engine, support_id: int) -> tuple[SituacionRegistral, SupportStatus]:
    with session_scope(engine, read_only=True) as session:
        support = session.get(Support, support_id)
        assert support is not None
        return support.situacion_registral, support.status


def test_a_support_received_while_a_roll_is_in_force_is_verified_on_the_next_pass(engine: Engine,
                                                                                  app_engine: Engine) -> None:
    process_id, aspirant_id, cics = _world(engine)
    found = _support(engine, process_id, aspirant_id, cics[0])
    missing = _support(engine, process_id, aspirant_id, "777777777")
    assert verify_pending(app_engine, utcnow, limit=100) == 2
    assert _situacion(engine, found) == (SituacionRegistral.EN_LISTA_NOMINAL, SupportStatus.VALID)
    assert _situacion(engine, missing) == (SituacionRegistral.DATOS_NO_ENCONTRADOS, SupportStatus.INVALID)
    assert verify_pending(app_engine, utcnow, limit=100) == 0  # nothing left: no full pass


def test_without_a_roll_the_worker_leaves_supports_received(engine: Engine, app_engine: Engine) -> None:
    process_id, aspirant_id, _cics = _world(engine, with_roll=False)
    support = _support(engine, process_id, aspirant_id, "123456789")
    assert verify_pending(app_engine, utcnow, limit=100) == 0
    assert _situacion(engine, support) == (SituacionRegistral.SIN_VERIFICAR, SupportStatus.RECEIVED)


def test_the_in_process_worker_verifies_a_new_support_within_seconds(engine: Engine, app_engine: Engine) -> None:
    process_id, aspirant_id, cics = _world(engine)
    worker = InProcessWorker(app_engine, utcnow)
    worker.start()
    try:
        support = _support(engine, process_id, aspirant_id, cics[1])
        deadline = time.monotonic() + 20  # a bound for a loaded machine, not a measurement
        while _situacion(engine, support)[1] is SupportStatus.RECEIVED and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.close()
    assert _situacion(engine, support) == (SituacionRegistral.EN_LISTA_NOMINAL, SupportStatus.VALID)


def test_a_verify_job_covers_every_process_of_the_opl_and_says_what_changed(engine: Engine, app_engine: Engine) -> None:
    process_id, aspirant_id, cics = _world(engine)
    supports = [_support(engine, process_id, aspirant_id, cic) for cic in cics]
    with session_scope(engine) as session:
        process = session.get(Process, process_id)
        assert process is not None
        job = enqueue(session=session, actor_account_id=None, now=utcnow(),
                      request=JobRequest(kind=JobKind.VERIFY, opl_id=process.opl_id))
    run_one(app_engine, utcnow, job_id=job.id)
    with session_scope(engine, read_only=True) as session:
        done = session.get(Job, job.id)
        events = session.exec(select(SupportEvent).where(SupportEvent.to_status == SupportStatus.VALID)).all()
    assert done is not None and done.state is JobState.SUCCEEDED
    assert "3 cambiaron" in done.message and done.progress_done == done.progress_total > 0
    assert sorted(e.support_id for e in events) == sorted(supports)


def test_the_command_line_imports_a_roll_and_verifies_the_supports(engine: Engine, tmp_path: Path,
                                                                   database_url: str) -> None:
    process_id, aspirant_id, _cics = _world(engine, with_roll=False)
    people = [citizen() for _ in range(4)]
    support = _support(engine, process_id, aspirant_id, people[2].cic)
    path = write_roll_file(tmp_path / "lista.csv", people)
    env = {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(tmp_path / "v"),
           "REGISTRO_SECRET_KEY": "cli-test-" + "x" * 40}
    result = CliRunner().invoke(main, ["roll", "import", str(path), "--opl", "IEE Prueba", "--cutoff",
                                       "2026-10-31"], env=env)
    assert result.exit_code == 0, result.output
    assert "4 registros cargados" in result.output and "Compulsa terminada" in result.output
    assert _situacion(engine, support)[0] is SituacionRegistral.EN_LISTA_NOMINAL
    again = CliRunner().invoke(main, ["verify", "--process", str(process_id)], env=env)
    assert again.exit_code == 0 and "0 cambiaron" in again.output


def test_the_command_line_refuses_an_unknown_opl_and_bad_columns(engine: Engine, tmp_path: Path,
                                                                 database_url: str) -> None:
    path = write_roll_file(tmp_path / "lista.csv", [citizen()])
    env = {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(tmp_path / "v"),
           "REGISTRO_SECRET_KEY": "cli-test-" + "x" * 40}
    unknown = CliRunner().invoke(main, ["roll", "import", str(path), "--opl", "Nadie", "--cutoff", "2026-10-31"],
                                 env=env)
    assert unknown.exit_code != 0 and "no OPL" in unknown.output
    columns = CliRunner().invoke(main, ["roll", "import", str(path), "--opl", "Nadie", "--cutoff", "2026-10-31",
                                        "--columns", "estatura=ALTO"], env=env)
    assert columns.exit_code != 0 and "Traceback" not in columns.output



def test_a_support_through_the_intake_waits_in_the_queue_until_verified(engine: Engine, app_engine: Engine) -> None:
    from registry.intake.credential import CredentialData
    from registry.models import PendingVerification
    from registry.states import Channel, ReadingSource
    from registry.supports import SupportSubmission, submit_support

    process_id, aspirant_id, cics = _world(engine)
    credential = CredentialData(source=ReadingSource.PIPELINE, cic=cics[0])
    with session_scope(engine) as session:
        receipt = submit_support(session=session, actor_account_id=None, now=utcnow(), submission=SupportSubmission(
            idempotency_key="intake-1", aspirant_id=aspirant_id, channel=Channel.AUXILIARY, credential=credential,
            captured_at=utcnow()))
        assert session.exec(select(PendingVerification)).one().process_id == process_id
    assert verify_pending(app_engine, utcnow, limit=10) == 1
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(PendingVerification)).all() == []
        support = session.exec(select(Support).where(Support.folio == receipt.folio)).one()
    assert support.situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL
