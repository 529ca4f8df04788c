"""`registro report ine-export --aspirant ID [--category C] --format csv|xlsx --out DIR`: the file for INE's roll
office (registry/reports/ine_export.py) written to DIR, named with the aspirant's name. It holds citizens' names and
claves: the file is readable by its owner only (0600) and appears whole or not at all; the export is audited."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import click

from core.clock import utcnow
from core.db import make_engine, session_scope
from core.settings import Settings
from registry.reports.categories import Category
from registry.reports.ine_export import HEADER, NotFound, export_rows, open_export
from registry.reports.tabular import csv_chunks, xlsx_chunks


@click.command("ine-export")
@click.option("--aspirant", "aspirant_id", required=True, type=click.IntRange(1), help="The aspirant's id.")
@click.option("--category", type=click.Choice([c.value for c in Category]), default=None,
              help="One report category (default: every support of the aspirant).")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "xlsx"]))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.pass_obj
def ine_export_command(settings: Settings, aspirant_id: int, category: str | None, fmt: str, out_dir: Path) -> None:
    """Write the aspirant's supports in INE's roll-office format (seed 001) to OUT; prints the file's path."""
    chosen = Category(category) if category else None
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine) as session:
            export = open_export(session=session, aspirant_id=aspirant_id, opl_ids=None, category=chosen, fmt=fmt,
                                 actor_account_id=None, now=utcnow())
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{export.filename_stem}.{fmt}"
        with session_scope(engine, read_only=True) as session:
            rows = export_rows(session=session, aspirant_id=aspirant_id, category=chosen)
            chunks = csv_chunks(HEADER, rows) if fmt == "csv" else xlsx_chunks(export.filename_stem, HEADER, rows)
            _write_private(target, chunks)
    except NotFound:
        raise click.ClickException(f"no aspirant with id {aspirant_id}") from None
    finally:
        engine.dispose()
    click.echo(str(target))


def _write_private(target: Path, chunks: Iterable[bytes]) -> None:
    """Into a 0600 temporary file beside the target, renamed over it once complete."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".ine-export-", suffix=target.suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
