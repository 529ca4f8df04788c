"""The one command line: `registro serve | migrate | demo-data | decode | specimen`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import uvicorn

from capture.specimens.corpus import make_sample
from capture.specimens.photo import Condition
from capture.summary import decode_summary
from core.clock import MEXICO_CITY, utcnow
from core.db import make_engine, session_scope
from core.settings import LOOPBACK_HOSTS, Settings, SettingsError, load_settings
from registry import migrate as migrations
from registry.catalogue import ensure_default_inconsistencies
from registry.demo import load_demo_data
from registry.outbox import erase_spent_bodies


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Registro Ciudadano: apoyo ciudadano para candidaturas independientes."""
    try:
        ctx.obj = load_settings()
    except SettingsError as error:
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
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run the web app."""
    if settings.implicit_development and host not in LOOPBACK_HOSTS:
        raise click.ClickException(
            f"--host {host} is not loopback: set REGISTRO_ENV=production for a deployment, or "
            "REGISTRO_ENV=development to choose development explicitly"
        )
    # Without an explicit public address, the app is where it listens (OAuth redirects and the local provider).
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("REGISTRO_BASE_URL", f"http://{local_host}:{port}")
    uvicorn.run("web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info")


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


if __name__ == "__main__":
    main()
