"""`registro audit verify [--stream S]`: exit 0 on an intact history, 1 with the place of every finding."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.audit import record_audit
from registry.audit_chain import support_stream
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import place_support
from web.cli import main


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    return {**env, "REGISTRO_DATA_DIR": str(tmp_path / "var"), "REGISTRO_ENV": "test",
            "REGISTRO_DATABASE_URL": database_url, "REGISTRO_SECRET_KEY": "test-secret-" + "x" * 40}


def test_verify_says_clean_then_where_a_row_was_edited(engine: Engine, session: Session, database_url: str,
                                                        tmp_path: Path) -> None:
    process = make_process(session, opl=make_opl(session))
    aspirant = make_aspirant(session, process=process)
    for _ in range(2):
        support = place_support(session, aspirant_id=aspirant.id or 0, process_id=process.id or 0)
        record_audit(session, action="prueba", object_type="support", object_id=support.id)
    session.commit()
    stream = support_stream(process.id or 0)
    runner, env = CliRunner(), _env(tmp_path, database_url)

    clean = runner.invoke(main, ["audit", "verify"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "2 streams checked, 0 findings" in clean.output

    with engine.begin() as connection:
        row_id = connection.execute(text("SELECT id FROM supportevent WHERE chain_stream = :s AND chain_seq = 2"),
                                    {"s": stream}).scalar_one()
        connection.execute(text("UPDATE supportevent SET reason = 'cambiado' WHERE id = :id"), {"id": row_id})
    tampered = runner.invoke(main, ["audit", "verify"], env=env)
    assert tampered.exit_code == 1
    assert f"stream {stream} seq 2 (supportevent id {row_id}): edited" in tampered.output
    assert "cambiado" not in tampered.output  # where, never what: no row contents in the report

    only_audit = runner.invoke(main, ["audit", "verify", "--stream", "audit"], env=env)
    assert only_audit.exit_code == 0 and "1 streams checked, 0 findings" in only_audit.output
    unknown = runner.invoke(main, ["audit", "verify", "--stream", "support:999"], env=env)
    assert unknown.exit_code == 1 and "support:999: unknown" in unknown.output
