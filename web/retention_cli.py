"""`registro retention purge --process ID [--dry-run]`: erase a closed process's personal data once its keeping
period (REGISTRO_RETENTION_DAYS after its end) is over, keeping its figures (registry/retention.py)."""

from __future__ import annotations

import click

from core.clock import utcnow
from core.db import make_engine, session_scope
from core.settings import Settings
from registry.images import image_store_from_settings
from registry.retention import PurgeRefusal, PurgeRefused, PurgeReport, purge_process


@click.group()
def retention() -> None:
    """Keeping personal data no longer than needed."""


@retention.command("purge")
@click.option("--process", "process_id", required=True, type=click.IntRange(1), help="The process's id.")
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@click.pass_obj
def purge_command(settings: Settings, process_id: int, dry_run: bool) -> None:
    """Erase the process's personal data (names, identifiers, images); counts, events and audit stay."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(engine) as session:
            report = purge_process(session=session, store=image_store_from_settings(settings), process_id=process_id,
                                   now=utcnow(), retention_days=settings.retention_days, dry_run=dry_run)
    except PurgeRefused as refused:
        raise click.ClickException(_refusal(refused, process_id)) from None
    finally:
        engine.dispose()
    click.echo(_summary(report))


def _refusal(refused: PurgeRefused, process_id: int) -> str:
    if refused.reason is PurgeRefusal.NOT_FOUND:
        return f"no hay proceso con id {process_id}"
    if refused.reason is PurgeRefusal.OBJECTIONS_OPEN:
        return "el proceso tiene objeciones sin resolver (garantía de audiencia): no se borra nada"
    until = refused.until.date().isoformat() if refused.until else "?"
    return f"el plazo de conservación del proceso no ha terminado: se puede depurar desde el {until}"


def _summary(report: PurgeReport) -> str:
    if report.nothing_left:
        return "Nada que depurar: el proceso no guarda datos personales."
    verb = "Se borrarían" if report.dry_run else "Borrados"
    return (f"{verb} los datos personales de {report.supports} apoyos, {report.readings} lecturas de credencial, "
            f"{report.paper_forms} formatos en papel, {report.codes} códigos de activación y {report.images} "
            "imágenes; los conteos, eventos y la bitácora se conservan.")
