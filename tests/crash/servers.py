"""Real server and worker processes for the crash and many-workers tests: `registro serve` / `registro worker` as
subprocesses on the test database, killed with SIGKILL on purpose, and always reaped by the fixture that made them.

Each process runs in a session of its own, so a kill reaches uvicorn's worker children too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.engine import Engine

from auth.models import UserSession
from auth.sessions import SESSION_COOKIE, hash_token, start_session
from core.clock import utcnow
from core.db import session_scope
from web.security import CSRF_HEADER

REGISTRO = str(Path(sys.executable).parent / "registro")
START_SECONDS = 90.0  # the OCR models load before the first request is answered
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_env(*, database_url: str, data_dir: Path, secret_key: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a server or worker on the test database (no worker thread unless asked for)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REGISTRO_")}
    env |= {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(data_dir),
            "REGISTRO_SECRET_KEY": secret_key, "REGISTRO_BASE_URL": f"http://127.0.0.1:{port}",
            "REGISTRO_WORKER_IN_PROCESS": "false", "REGISTRO_DECODE_BUDGET_MS": "20000"}
    return env | extra


@dataclass
class Child:
    """One `registro ...` process and its output file (read when a start fails, to say why)."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([REGISTRO, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()

    def kill(self) -> None:
        """SIGKILL the process and everything it started (uvicorn's workers), then reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):  # it died already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@dataclass
class Server(Child):
    port: int = 0
    url: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    def start_and_wait(self) -> None:
        self.start()
        wait_until(self._answers, seconds=START_SECONDS, what=lambda: f"the server to answer\n{self.output()}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}/entrar", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


@contextmanager
def children() -> Iterator[list[Child]]:
    """Every child appended to the list is killed when the block ends, however it ends."""
    made: list[Child] = []
    try:
        yield made
    finally:
        for child in made:
            child.kill()


def wait_until(check: Callable[[], T], *, seconds: float, what: str | Callable[[], str], every: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail (never hang) after `seconds`, saying what (a callable
    is asked only then: a child's output at the time of failure)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what if isinstance(what, str) else what()}")
        time.sleep(every)


def session_headers(engine: Engine, account_id: int) -> dict[str, str]:
    """A real server-side session (auth.sessions, no OAuth dance) as the headers a client sends: the cookie by
    hand, since a Secure cookie is not sent back over the loopback's plain http by httpx's jar."""
    with session_scope(engine) as db:
        token = start_session(session=db, account_id=account_id, now=utcnow())
        row = db.get(UserSession, hash_token(token))
        assert row is not None
        csrf = row.csrf_token
    return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf}
