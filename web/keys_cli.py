"""`registro keys rotate`: re-seal personal columns under the current data key and recompute the blind indexes
under the current index key, online, in short batches (registry/key_rotation.py); then the compulsa of every
process runs again, so the supports' citizen keys follow a new index key."""

from __future__ import annotations

import click
from sqlmodel import select

from core.clock import utcnow
from core.db import make_engine, session_scope
from core.settings import Settings
from registry.jobs import JobRequest, enqueue
from registry.key_rotation import rotate
from registry.models import Process
from registry.states import JobKind

INDEXED_TABLES = frozenset({"support", "credentialreading", "rollentry"})  # the compulsa joins these


@click.group()
def keys() -> None:
    """Data keys of the personal columns."""


@keys.command("rotate")
@click.option("--batch", "batch_rows", default=500, show_default=True, type=click.IntRange(10, 50_000),
              help="Rows per transaction.")
@click.pass_obj
def rotate_command(settings: Settings, batch_rows: int) -> None:
    """Re-seal every value not under REGISTRO_DATA_KEY_ID and recompute stale blind indexes (safe to re-run)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        def progress(table: str, examined: int, rewritten: int) -> None:
            click.echo(f"{table}: {examined} filas revisadas, {rewritten} reescritas")

        results = rotate(engine, progress=progress, batch_rows=batch_rows)
        for result in results:
            click.echo(f"{result.table}: listo ({result.examined} revisadas, {result.rewritten} reescritas)")
        if any(result.rewritten for result in results if result.table in INDEXED_TABLES):
            click.echo(f"compulsa en cola para {_queue_compulsas(engine)} procesos (la hace `registro worker`)")
        click.echo("Nada más que rotar: las claves anteriores pueden retirarse si otra ejecución no reescribe nada.")
    finally:
        engine.dispose()


def _queue_compulsas(engine: object) -> int:
    with session_scope(engine) as session:  # type: ignore[arg-type]
        processes = list(session.exec(select(Process)))
        for process in processes:
            enqueue(session=session, actor_account_id=None, now=utcnow(), request=JobRequest(
                kind=JobKind.VERIFY, opl_id=process.opl_id, process_id=process.id))
    return len(processes)
