"""The quick start, as a user runs it: `registro demo-data` then `registro serve`, answering in Spanish."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sqlmodel import select
from uvicorn.config import HTTP_PROTOCOLS, LOOP_FACTORIES
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.audit import OutboxMessage
from core.clock import utcnow
from core.db import make_engine, session_scope
from web.cli import main


def _env(tmp_path: Path, **registro: str) -> dict[str, str]:
    """The environment of a fresh shell: no REGISTRO_ variable but the data dir (REGISTRO_ENV unset, as in the
    README's quick start) and those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    given = {f"REGISTRO_{name.upper()}": value for name, value in registro.items()}
    return {**env, "REGISTRO_DATA_DIR": str(tmp_path / "var"), **given}


def test_migrate_and_demo_data_are_repeatable(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(tmp_path, env="development")
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    first = runner.invoke(main, ["demo-data"], env=env)
    second = runner.invoke(main, ["demo-data"], env=env)
    assert first.exit_code == 0 and "demo data loaded" in first.output
    assert second.exit_code == 0 and "already present" in second.output
    assert (tmp_path / "var" / "registro.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_in_spanish(tmp_path: Path) -> None:
    env = _env(tmp_path)  # the quick start as written: REGISTRO_ENV not set, SQLite, loopback
    registro = [sys.executable, "-m", "web.cli"]
    subprocess.run([*registro, "demo-data"], env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([*registro, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        response = _get_when_up(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
        assert "candidatura independiente" in response.text
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get_when_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_forgotten_registro_env_with_a_database_url_refuses_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path, database_url="postgresql://registro:hunter2-db-password@db.example/registro")
    result = CliRunner().invoke(main, ["migrate"], env=env)
    assert result.exit_code != 0
    assert "REGISTRO_ENV" in result.output
    assert "hunter2" not in result.output


def test_implicit_development_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"], env=_env(tmp_path))
    assert result.exit_code != 0
    assert "REGISTRO_ENV" in result.output


def test_serve_runs_on_uvloop_and_httptools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Less event-loop CPU per request than the stdlib loop and h11 (uvicorn[standard]). uvicorn's "auto" falls
    back to those silently when either package is missing, so what the options resolve to is checked here."""
    ran: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: ran.update(options))
    result = CliRunner().invoke(main, ["serve"], env=_env(tmp_path, env="development"))
    assert result.exit_code == 0, result.output
    assert import_from_string(HTTP_PROTOCOLS[str(ran["http"])]) is HttpToolsProtocol
    loop = import_from_string(LOOP_FACTORIES[str(ran["loop"])])(use_subprocess=True)()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_migrate_erases_the_bodies_of_mail_already_sent(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(tmp_path, env="development")
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'registro.db'}")
    with session_scope(engine) as db:
        db.add(OutboxMessage(to_address="ana@example.mx", subject="s", body="Código: ABCD-2345", sent_at=utcnow()))
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    with session_scope(engine) as db:
        assert db.exec(select(OutboxMessage.body)).all() == [""]
    engine.dispose()
