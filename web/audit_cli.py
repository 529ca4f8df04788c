"""`registro audit verify [--stream S ...]`: check the hash chains of the audit trail and the support events
(registry/audit_verify.py); exit 1 when anything was edited, inserted or deleted, 0 when the history is intact."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from core.db import make_engine
from core.settings import Settings
from registry.audit_verify import known_streams, verify_chains


@click.group("audit")
def audit() -> None:
    """The tamper-evident history of audit rows and support events."""


@audit.command("verify")
@click.option("--stream", "streams", multiple=True, help="Only this stream (repeatable): audit, support:<process id>.")
@click.pass_obj
def verify_command(settings: Settings, streams: tuple[str, ...]) -> None:
    """Recompute every hash of every chain and check the heads and the daily reports' anchors."""
    engine = make_engine(settings.resolved_database_url)
    if engine.dialect.name == "postgresql":  # one snapshot: rows committed meanwhile are not findings
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    findings = 0
    try:
        with Session(engine) as session:
            chosen = list(streams) or known_streams(session=session)
            unknown = sorted(set(streams) - set(known_streams(session=session)))
            for name in unknown:
                click.echo(f"stream {name}: unknown (no head, no rows)", err=True)
            for finding in verify_chains(session=session, streams=streams or None):
                findings += 1
                click.echo(str(finding))
            session.rollback()
    finally:
        engine.dispose()
    click.echo(f"{len(chosen)} streams checked, {findings} findings")
    if findings or unknown:
        raise SystemExit(1)
