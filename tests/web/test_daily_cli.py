"""`registro report send-daily [--date]`: the scheduler's command queues each due process's report once, delivers
the outbox (the development mailbox here) and says what it did; a bad date is a clear error."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from auth.roles import Role
from core.audit import OutboxMessage
from core.clock import utcnow
from registry.models import DailyReport
from tests.delivered_mail import delivered_text
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from web.cli import main
from web.daily_cli import daily_links


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    return {**env, "REGISTRO_DATA_DIR": str(tmp_path / "var"), "REGISTRO_ENV": "test",
            "REGISTRO_DATABASE_URL": database_url, "REGISTRO_BASE_URL": "https://registro.example",
            "REGISTRO_SECRET_KEY": "test-secret-" + "x" * 40}


def _staff(session: Session) -> int:
    opl = make_opl(session)
    process = make_process(session, opl=opl)
    aspirant = make_aspirant(session, process=process, name="Ana Aspirante")
    aspirant.account_id = make_account(session, name="Ana", role=Role.ASPIRANT, aspirant_id=aspirant.id).id
    make_account(session, name="Admin", email="admin@opl.mx", role=Role.OPL_ADMIN, opl_id=opl.id)
    session.commit()
    assert process.id is not None
    return process.id


def test_the_command_sends_once_a_day_and_delivers(engine: Engine, session: Session, database_url: str,
                                                   tmp_path: Path) -> None:
    process_id = _staff(session)
    runner, env = CliRunner(), _env(tmp_path, database_url)
    first = runner.invoke(main, ["report", "send-daily"], env=env)
    assert first.exit_code == 0, first.output
    assert "2 e-mails queued, 2 delivered" in first.output
    again = runner.invoke(main, ["report", "send-daily"], env=env)
    assert again.exit_code == 0 and "already sent" in again.output and "0 e-mails queued" in again.output
    with Session(engine) as db:
        sent = db.exec(select(OutboxMessage).where(OutboxMessage.to_address == "admin@opl.mx")).all()
        assert len(sent) == 1 and sent[0].sent_at is not None
        report = db.exec(select(DailyReport)).one()
    yesterday = (utcnow().astimezone(ZoneInfo("America/Mexico_City")) - timedelta(days=1)).date()
    assert (report.process_id, report.day) == (process_id, yesterday)
    body = delivered_text(tmp_path / "var" / "outbox", sent[0].id)
    assert f"https://registro.example/opl/procesos/{process_id}/reportes" in body and "Ana Aspirante" in body


def test_a_date_can_be_given_and_a_bad_one_is_refused_clearly(engine: Engine, session: Session, database_url: str,
                                                             tmp_path: Path) -> None:
    _staff(session)
    runner, env = CliRunner(), _env(tmp_path, database_url)
    two_days_ago = (utcnow().astimezone(ZoneInfo("America/Mexico_City")) - timedelta(days=2)).date()
    given = runner.invoke(main, ["report", "send-daily", "--date", two_days_ago.isoformat()], env=env)
    assert given.exit_code == 0 and f"{two_days_ago.isoformat()}: 2 e-mails" in given.output
    future = runner.invoke(main, ["report", "send-daily", "--date", "2099-01-01"], env=env)
    assert future.exit_code == 0 and "the day is not over yet" in future.output
    bad = runner.invoke(main, ["report", "send-daily", "--date", "ayer"], env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "--date" in bad.output
    with Session(engine) as db:
        assert len(db.exec(select(OutboxMessage).where(col(OutboxMessage.to_address) == "admin@opl.mx")).all()) == 1


def test_the_links_are_the_report_pages_routes(app: Starlette) -> None:
    from core.settings import load_settings
    links = daily_links(load_settings(env="test", base_url="https://registro.example/",
                                      secret_key="test-secret-" + "x" * 40))
    assert links.staff(7) == "https://registro.example" + str(app.url_path_for("opl_reports", process_id=7))
    assert links.aspirant == "https://registro.example" + str(app.url_path_for("aspirant_progress"))
