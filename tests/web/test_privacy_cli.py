"""`registro keys rotate` and `registro retention purge` from the command line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import utcnow
from core.sealing import current_sealer
from registry.models import Support
from tests.factories.processes import make_aspirant, make_process
from tests.factories.roll import citizen, place_support
from web.cli import main


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(tmp_path / "v"),
            "REGISTRO_SECRET_KEY": "cli-test-" + "x" * 40}


def test_keys_rotate_reports_progress_and_nothing_left(engine: Engine, session: Session, database_url: str,
                                                      tmp_path: Path) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    person = citizen()
    support = place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=person.cic)
    session.commit()
    done = CliRunner().invoke(main, ["keys", "rotate"], env=_env(tmp_path, database_url))
    assert done.exit_code == 0, done.output
    assert "support: listo (1 revisadas, 0 reescritas)" in done.output  # already under the current keys
    assert person.cic not in done.output
    with Session(engine) as fresh:
        stored = fresh.get(Support, support.id)
        assert stored is not None and stored.cic == person.cic
    assert current_sealer().current_key_id == "k0"


def test_retention_purge_refuses_an_open_process_and_erases_a_closed_one(session: Session, database_url: str,
                                                                         tmp_path: Path) -> None:
    now = utcnow()
    closed = make_process(session, opens=now - timedelta(days=2000), closes=now - timedelta(days=1500))
    still_open = make_process(session, name="Diputación 2027")
    aspirant = make_aspirant(session, process=closed)
    assert aspirant.id is not None and closed.id is not None
    person = citizen()
    place_support(session, aspirant_id=aspirant.id, process_id=closed.id, cic=person.cic,
                  received_at=closed.starts_at + timedelta(days=1))
    session.commit()
    env = _env(tmp_path, database_url)
    refused = CliRunner().invoke(main, ["retention", "purge", "--process", str(still_open.id)], env=env)
    assert refused.exit_code == 1 and "plazo de conservación" in refused.output
    missing = CliRunner().invoke(main, ["retention", "purge", "--process", "999999"], env=env)
    assert missing.exit_code == 1 and "no hay proceso" in missing.output and "Traceback" not in missing.output
    dry = CliRunner().invoke(main, ["retention", "purge", "--process", str(closed.id), "--dry-run"], env=env)
    assert dry.exit_code == 0 and "Se borrarían los datos personales de 1 apoyos" in dry.output
    done = CliRunner().invoke(main, ["retention", "purge", "--process", str(closed.id)], env=env)
    assert done.exit_code == 0 and "Borrados los datos personales de 1 apoyos" in done.output
    again = CliRunner().invoke(main, ["retention", "purge", "--process", str(closed.id)], env=env)
    assert again.exit_code == 0 and "Nada que depurar" in again.output
