"""`registro report summary --json` (a contract for scripts) and `registro report check`, on the demo data."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import select

from core.db import make_engine, session_scope
from registry.demo_supports import KEY_PREFIX
from registry.models import Process, Support
from web.cli import main

COLUMNS = ("en_lista_nominal", "duplicados_mismo_aspirante", "otra_situacion_registral", "con_inconsistencia",
           "en_procesamiento", "en_mesa_de_control")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    return {**env, "REGISTRO_DATA_DIR": str(tmp_path / "var"), "REGISTRO_ENV": "development"}


def _demo(tmp_path: Path) -> tuple[CliRunner, dict[str, str], int, int]:
    runner, env = CliRunner(), _env(tmp_path)
    assert runner.invoke(main, ["demo-data"], env=env).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'registro.db'}")
    with session_scope(engine, read_only=True) as session:
        process = session.exec(select(Process)).first()
        assert process is not None and process.id is not None
        demo = len(session.exec(select(Support).where(Support.idempotency_key.startswith(KEY_PREFIX))).all())
    engine.dispose()
    return runner, env, process.id, demo


def test_summary_json_keeps_its_contract_and_adds_up(tmp_path: Path) -> None:
    runner, env, process_id, demo = _demo(tmp_path)
    result = runner.invoke(main, ["report", "summary", "--process", str(process_id), "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and all(set(row) == {"aspirante", "enviados", *COLUMNS, "requeridos", "porcentaje",
                                     "otra_situacion_por_categoria"} for row in rows)
    assert sum(row["enviados"] for row in rows) == demo
    for row in rows:
        assert row["enviados"] == sum(row[column] for column in COLUMNS)
        assert row["otra_situacion_registral"] == sum(row["otra_situacion_por_categoria"].values())
        assert isinstance(row["requeridos"], int) and row["requeridos"] > 0


def test_check_finds_the_counters_equal_to_the_supports(tmp_path: Path) -> None:
    runner, env, _process_id, _demo_count = _demo(tmp_path)
    result = runner.invoke(main, ["report", "check"], env=env)
    assert result.exit_code == 0 and "equal" in result.output


def test_an_unknown_process_is_a_clear_error(tmp_path: Path) -> None:
    runner, env, _process_id, _demo_count = _demo(tmp_path)
    result = runner.invoke(main, ["report", "summary", "--process", "999999", "--json"], env=env)
    assert result.exit_code != 0 and "no process" in result.output
    assert "Traceback" not in result.output
