"""The one command line: `registro serve | migrate | demo-data | decode`."""

from __future__ import annotations

import click
import uvicorn

from core.db import make_engine, session_scope
from core.settings import Settings, load_settings
from registry import migrate as migrations
from registry.catalogue import ensure_default_inconsistencies
from registry.demo import load_demo_data


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Registro Ciudadano: apoyo ciudadano para candidaturas independientes."""
    ctx.obj = load_settings()


def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    migrations.upgrade(engine)
    with session_scope(engine) as session:
        ensure_default_inconsistencies(session=session)
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
    with session_scope(engine) as session:
        summary = load_demo_data(session=session)
    engine.dispose()
    if summary.created:
        click.echo(f"demo data loaded: {summary.roll_rows} roll rows, {summary.accounts} demo accounts")
    else:
        click.echo("demo data already present")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes (production).")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app."""
    uvicorn.run("web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()
