"""`registro paper import FILE --aspirant ID [--dry-run]`: the bulk file of paper forms from the command line, with
the same checks, all-or-nothing transaction and report as the page (/opl/papel/archivo), then the compulsa of the
new supports run at once (rather than left to a worker that may not be running)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from core.clock import utcnow
from core.db import session_scope
from registry.models import Job
from registry.paper.files import MAX_FILE_BYTES, FileReport, PaperFileError, PaperUpload, import_paper_file
from registry.paper.forms import NotFound
from registry.worker import run_one
from web.paper_messages import file_problem_text, report_lines


def import_paper_command(engine: Engine, file: Path, *, aspirant_id: int, dry_run: bool,
                         echo: Callable[[str], None]) -> bool:
    """Prints the report; False when nothing could be stored (a missing aspirant, a bad file or bad rows)."""
    with file.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)  # one byte over is enough to refuse it
    upload = PaperUpload(aspirant_id=aspirant_id, file_name=file.name, data=data, dry_run=dry_run)
    try:
        with session_scope(engine) as session:
            report = import_paper_file(session=session, upload=upload, opl_ids=None, actor_account_id=None,
                                       now=utcnow())
    except NotFound:
        echo(f"no active aspirant with id {aspirant_id}")
        return False
    except PaperFileError as error:
        echo(file_problem_text(error))
        return False
    for line in report_lines(report):
        echo(line)
    _verify(engine, report, echo)
    return not report.problems


def _verify(engine: Engine, report: FileReport, echo: Callable[[str], None]) -> None:
    if report.verify_job_id is None:
        return
    run_one(engine, utcnow, job_id=report.verify_job_id)
    with session_scope(engine, read_only=True) as session:
        job = session.get(Job, report.verify_job_id)
    if job is not None and job.message:
        echo(job.message)
