"""`registro report ...`: the reports for scripts and scheduled jobs. `summary --json` is a contract (issue 13):
one object per aspirant with fixed keys; `check` proves the counters equal a recount from the supports."""

from __future__ import annotations

import json

import click

from core.db import make_engine, session_scope
from core.settings import Settings
from registry.models import Process
from registry.reports.counters import counter_differences, recount
from registry.reports.figures import summary, summary_json
from web.daily_cli import send_daily_command


@click.group()
def report() -> None:
    """Reports: the summary by aspirant, the counters' check, the daily report."""


@report.command("summary")
@click.option("--process", "process_id", required=True, type=click.IntRange(1), help="The process's id.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per aspirant, in a list.")
@click.pass_obj
def summary_command(settings: Settings, process_id: int, as_json: bool) -> None:
    """The Resumen por candidatura of one process: supports by category and against the threshold."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine, read_only=True) as session:
            if session.get(Process, process_id) is None:
                raise click.ClickException(f"no process with id {process_id}")
            rows = summary_json(summary(session=session, process_id=process_id))
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['aspirante']}: {row['en_lista_nominal']} en Lista Nominal de {row['enviados']} enviados; "
                   f"requeridos {row['requeridos']} ({row['porcentaje']} %)")


@report.command("check")
@click.option("--process", "process_id", type=click.IntRange(1), default=None, help="One process (default: all).")
@click.option("--repair", is_flag=True, help="Rebuild the counters from the supports when they differ.")
@click.pass_obj
def check_command(settings: Settings, process_id: int | None, repair: bool) -> None:
    """Compare every report counter with a recount from the supports; exit 1 on any difference."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine) as session:
            differences = counter_differences(session=session, process_id=process_id)
            for difference in differences[:50]:
                click.echo(f"{difference.table} {difference.key}: counter {difference.counted}, "
                           f"supports {difference.recounted}")
            if differences and repair:
                recount(session=session, process_id=process_id)
                click.echo("counters rebuilt from the supports")
    finally:
        engine.dispose()
    if differences and not repair:
        raise click.exceptions.Exit(1)
    if not differences:
        click.echo("the counters equal the supports")


report.add_command(send_daily_command)
