"""The one command line: `registro serve | worker | migrate | demo-data | roll import | paper import | verify | decode |
specimen`."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import click
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import select

from capture.specimens.corpus import make_sample
from capture.specimens.photo import Condition
from capture.summary import decode_summary
from core.clock import MEXICO_CITY, utcnow
from core.db import make_engine, session_scope
from core.sealing import install_sealer, sealer_from_settings
from core.settings import LOOPBACK_HOSTS, Settings, SettingsError, load_settings
from registry import migrate as migrations
from registry.catalogue import ensure_default_inconsistencies
from registry.demo import load_demo_data
from registry.images import image_store_from_settings
from registry.jobs import JobRequest, enqueue, queued_after
from registry.models import Job, Process
from registry.outbox import erase_spent_bodies
from registry.roll.imports import ImportRequest, UploadProblem, UploadRefused, opl_by_short_name, queue_roll_import
from registry.roll.source import RollFileError, parse_columns
from registry.states import JobKind, JobState
from registry.worker import run_one, work_forever
from web.audit_cli import audit
from web.images_cli import images
from web.ine_export_cli import ine_export_command
from web.keys_cli import keys
from web.logs import configure_logging
from web.many_workers import many_workers_problems
from web.metrics import multiprocess_metrics
from web.report_cli import report
from web.retention_cli import retention

# With --workers, uvicorn kills a worker that does not answer its ping within this; a worker loading the OCR models
# on a busy machine takes longer than uvicorn's 5 s, and would be killed and restarted forever.
WORKER_HEALTHCHECK_SECONDS = 120


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Registro Ciudadano: apoyo ciudadano para candidaturas independientes."""
    try:
        ctx.obj = load_settings()
        install_sealer(sealer_from_settings(ctx.obj))  # the commands read and write sealed personal columns
    except (SettingsError, ValueError) as error:  # ValueError: a malformed data key (the message names no value)
        raise click.ClickException(str(error)) from None


def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    migrations.upgrade(engine)
    with session_scope(engine) as session:
        ensure_default_inconsistencies(session=session)
        erase_spent_bodies(session=session)  # codes and links in mail sent before bodies were erased on delivery
    engine.dispose()


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL)."""
    _migrate(settings)
    click.echo("database is up to date")


@main.command("demo-data")
@click.pass_obj
def demo_data(settings: Settings) -> None:
    """Migrate, then load the demo OPL, process, aspirants, roll and accounts (idempotent)."""
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    store = image_store_from_settings(settings)
    with session_scope(engine) as session:
        summary = load_demo_data(session=session, store=store)  # the demo supports' photos, for the desk
    engine.dispose()
    if summary.created:
        click.echo(f"demo data loaded: {summary.roll_rows} roll rows, {summary.accounts} demo accounts")
    else:
        click.echo("demo data already present")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes (production).")
# auto: uvloop and httptools (uvicorn[standard]), which spend less of the event loop's time per request than the
# stdlib loop and the pure-Python h11 parser; the others stay for comparison (bench/load.py --serve-option).
@click.option("--loop", default="auto", show_default=True, type=click.Choice(["auto", "asyncio", "uvloop"]))
@click.option("--http", default="auto", show_default=True, type=click.Choice(["auto", "h11", "httptools"]))
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int, loop: str, http: str) -> None:
    """Run the web app."""
    if settings.implicit_development and host not in LOOPBACK_HOSTS:
        raise click.ClickException(
            f"--host {host} is not loopback: set REGISTRO_ENV=production for a deployment, or "
            "REGISTRO_ENV=development to choose development explicitly"
        )
    problems = many_workers_problems(settings, workers)  # memory kept per process would be split between them
    if problems:
        raise click.ClickException("; ".join(problems))
    # Without an explicit public address, the app is where it listens (OAuth redirects and the local provider).
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("REGISTRO_BASE_URL", f"http://{local_host}:{port}")
    # The app writes its own access log (web/observe.py: route templates, no client address), so uvicorn's is off.
    with multiprocess_metrics(workers):  # N > 1: every worker's metrics in files that /metrics adds up
        uvicorn.run("web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    loop=loop, http=http, proxy_headers=True, log_level="info", access_log=False,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def decode(settings: Settings, as_json: bool, files: tuple[Path, ...]) -> None:
    """Read the back of credentials from photos: the small QR and the MRZ. Exit 0 even when some files fail."""
    for path in files:
        result = _decode_file(path, settings)
        click.echo(json.dumps(result, ensure_ascii=False) if as_json else _human_line(result))


def _human_line(result: dict[str, object]) -> str:
    if result.get("ok"):
        return f"{result['file']}: ok cic={result['cic']} qr={result['qr_url']} ({result.get('ms')} ms)"
    return f"{result['file']}: failed ({result.get('reason')}) qr={result.get('qr_url')} ({result.get('ms')} ms)"


def _decode_file(path: Path, settings: Settings) -> dict[str, object]:
    try:
        data = path.read_bytes()
    except OSError as error:
        empty = dict.fromkeys(("cic", "identificador_ciudadano", "ocr", "expiry", "qr_url"))
        return {"file": str(path), "ok": False, **empty, "reason": "unreadable_file", "ms": 0.0,
                "detail": error.strerror}
    today = utcnow().astimezone(MEXICO_CITY).date()  # vigencia is judged by the calendar in Mexico
    return {"file": str(path), **decode_summary(data, today=today, budget_ms=settings.decode_budget_ms)}


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--count", default=3, show_default=True, type=click.IntRange(1, 500))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--model", default="H", show_default=True, type=click.Choice(["D", "E", "F", "G", "H"]))
@click.option("--condition", default=Condition.NOMINAL.value, show_default=True,
              type=click.Choice([c.value for c in Condition]))
def specimen(out_dir: Path, count: int, seed: int, model: str, condition: str) -> None:
    """Write synthetic photos of credential backs (invented people, correct check digits) for demos and tests."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        sample = make_sample(seed, Condition(condition), index, model)
        path = out_dir / f"{sample.name}.jpg"
        path.write_bytes(sample.data)
        click.echo(f"{path}: cic={sample.identity.cic} vigencia={sample.identity.expiry_year}")


@main.group()
def roll() -> None:
    """The Lista Nominal: import an OPL's roll file."""


@roll.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True, readable=True))
@click.option("--opl", "opl_short_name", required=True, help="The OPL's short name, e.g. 'IEE Sonora'.")
@click.option("--cutoff", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Fecha de corte.")
@click.option("--columns", default=None, help="Map of other header names: 'clave_elector=CLAVE,estado=ENTIDAD'.")
@click.option("--no-verify", is_flag=True, help="Load the roll only; the worker verifies supports later.")
@click.pass_obj
def roll_import(settings: Settings, file: Path, opl_short_name: str, cutoff: datetime, columns: str | None,
                no_verify: bool) -> None:
    """Load a roll (CSV, CSV.GZ or XLSX) and put it in force in one switch, then verify the OPL's supports."""
    try:
        column_map = parse_columns(columns) if columns else None
    except RollFileError as error:
        raise click.ClickException(error.message) from None
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        job_id = _queue_import(engine, ImportRequest(opl_id=_opl_id(engine, opl_short_name), source_name=file.name,
                                                     cutoff=cutoff.date(), input_path=file.resolve(),
                                                     columns=column_map))
        started = time.monotonic()
        job = _run_job(engine, job_id)
        click.echo(f"{job.message} ({time.monotonic() - started:.1f} s)")
        if job.state is not JobState.SUCCEEDED:
            raise click.exceptions.Exit(1)
        if not no_verify:
            for verify_job in _queued_verifications(engine, job):
                click.echo(_run_job(engine, verify_job).message)
    finally:
        engine.dispose()


@main.group()
def paper() -> None:
    """Paper supports (régimen de excepción): bulk files of paper forms."""


@paper.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True, readable=True))
@click.option("--aspirant", "aspirant_id", required=True, type=click.IntRange(1), help="The aspirant's id.")
@click.option("--dry-run", is_flag=True, help="Check every row and report by line; store nothing.")
@click.pass_obj
def paper_import(settings: Settings, file: Path, aspirant_id: int, dry_run: bool) -> None:
    """Import a CSV or XLSX of paper forms, all or nothing (the same file twice adds nothing), then verify."""
    from web.paper_cli import import_paper_command  # the paper pages' wording, loaded only for this command

    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        ok = import_paper_command(engine, file, aspirant_id=aspirant_id, dry_run=dry_run, echo=click.echo)
    finally:
        engine.dispose()
    if not ok:
        raise click.exceptions.Exit(1)


IMPORT_REFUSALS = {
    UploadProblem.FUTURE_CUTOFF: "the cut-off date is after today (in Mexico City)",
    UploadProblem.OLDER_THAN_CURRENT: "the cut-off date is before the roll in force: it would drop every citizen "
                                      "registered since",
    UploadProblem.IMPORT_ACTIVE: "another import of this OPL is queued or running; wait for it or cancel it",
}


def _opl_id(engine: Engine, short_name: str) -> int:
    with session_scope(engine, read_only=True) as session:
        opl = opl_by_short_name(session=session, short_name=short_name)
    if opl is None or opl.id is None:
        raise click.ClickException(f"no OPL with short name {short_name!r}")
    return opl.id


def _queue_import(engine: Engine, request: ImportRequest) -> int:
    now = utcnow()
    try:
        with session_scope(engine) as session:
            job = queue_roll_import(session=session, request=request, actor_account_id=None, now=now,
                                    today=now.astimezone(MEXICO_CITY).date())
    except UploadRefused as refused:
        raise click.ClickException(IMPORT_REFUSALS[refused.problem]) from None
    assert job.id is not None
    return job.id


def _run_job(engine: Engine, job_id: int) -> Job:
    run_one(engine, utcnow, job_id=job_id)
    with session_scope(engine, read_only=True) as session:
        job = session.get(Job, job_id)
    assert job is not None
    return job


def _queued_verifications(engine: Engine, import_job: Job) -> list[int]:
    with session_scope(engine, read_only=True) as session:
        return queued_after(session=session, kind=JobKind.VERIFY, roll_import_id=import_job.roll_import_id)


@main.command()
@click.option("--process", "process_id", type=click.IntRange(1), default=None, help="One process (default: all).")
@click.pass_obj
def verify(settings: Settings, process_id: int | None) -> None:
    """Run the compulsa: every support gets its situación registral from the roll in force."""
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        for job_id in _queue_verifications(engine, process_id):
            click.echo(_run_job(engine, job_id).message)
    finally:
        engine.dispose()


def _queue_verifications(engine: Engine, process_id: int | None) -> list[int]:
    with session_scope(engine) as session:
        processes = [session.get(Process, process_id)] if process_id else list(session.exec(select(Process)))
        if process_id and processes[0] is None:
            raise click.ClickException(f"no process with id {process_id}")
        jobs = [enqueue(session=session, actor_account_id=None, now=utcnow(), request=JobRequest(
            kind=JobKind.VERIFY, opl_id=process.opl_id, process_id=process.id)) for process in processes if process]
    return [job.id for job in jobs if job.id is not None]


@main.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run background jobs (roll imports, compulsa) and verify new supports, until stopped (Ctrl-C, SIGTERM)."""
    configure_logging(settings.resolved_log_format)  # the same lines as the web workers' (JSON in production)
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    click.echo("worker running; Ctrl-C to stop")
    try:
        work_forever(engine, utcnow, stop)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()


main.add_command(audit)
main.add_command(report)
main.add_command(images)
main.add_command(keys)
main.add_command(retention)
report.add_command(ine_export_command)
