"""`registro serve --workers N` (issue 14, deliverable 2): with several worker processes on PostgreSQL nothing a
request relies on lives in one process's memory. A real two-worker server answers a session made once on every
request, whichever worker takes it, and one idempotency key sent at the same instant to both yields one support;
what would be split between workers (the local provider's codes, memory:// rate-limit counts) refuses to start."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope
from core.settings import Settings
from registry.models import Support
from tests.crash.servers import REGISTRO, Server, base_env, children, free_port, session_headers
from tests.crash.test_crash_submissions import BATCH, _item
from tests.factories.processes import make_field_auxiliary

REFUSAL_SECONDS = 60  # the refusal comes before anything starts; a server that starts instead is killed


def _refusal(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """Run `registro serve --workers 2`; it must exit by itself (a server that started is killed at the deadline,
    and the test then fails on its exit code)."""
    try:
        return subprocess.run([REGISTRO, "serve", "--workers", "2", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=REFUSAL_SECONDS, check=False)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError("`registro serve --workers 2` started instead of refusing") from expired


def test_two_workers_with_the_local_provider_and_memory_counts_refuse_to_start(settings: Settings,
                                                                              database_url: str) -> None:
    port = free_port()
    env = base_env(database_url=database_url, data_dir=settings.data_dir, secret_key=settings.secret_key, port=port)
    refused = _refusal(env, port)
    assert refused.returncode != 0
    assert "needs one worker" in refused.stderr  # the local provider (test env) keeps its codes in memory
    assert "REGISTRO_RATE_LIMIT_STORAGE is memory://" in refused.stderr and "redis://" in refused.stderr
    assert settings.secret_key not in refused.stderr + refused.stdout


def _production_env(settings: Settings, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = base_env(database_url=database_url, data_dir=settings.data_dir, secret_key=secrets.token_urlsafe(48),
                   port=port, **extra)
    keys = {"REGISTRO_DATA_KEYS": json.dumps({"k1": _random_key()}), "REGISTRO_DATA_KEY_ID": "k1",
            "REGISTRO_INDEX_KEY": _random_key()}  # production seals personal columns under keys of its own
    return env | keys | {"REGISTRO_ENV": "production"}


def _random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_production_with_memory_counts_refuses_two_workers(settings: Settings, database_url: str) -> None:
    port = free_port()
    refused = _refusal(_production_env(settings, database_url, port), port)
    assert refused.returncode != 0 and "REGISTRO_RATE_LIMIT_STORAGE is memory://" in refused.stderr
    assert "needs one worker" not in refused.stderr  # production offers no local provider


@pytest.fixture
def two_workers(settings: Settings, database_url: str, tmp_path: Path) -> Any:
    if not os.environ.get("REGISTRO_TEST_DATABASE_URL"):
        pytest.skip("several workers are for PostgreSQL: set REGISTRO_TEST_DATABASE_URL to run this test")
    redis_url = os.environ.get("REGISTRO_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("several workers share rate limits in Redis: set REGISTRO_TEST_REDIS_URL to run this test")
    port = free_port()
    # Room for every racer's photo work in one process: the race under test is the database's, not the 429's.
    env = _production_env(settings, database_url, port, REGISTRO_RATE_LIMIT_STORAGE=redis_url,
                          REGISTRO_IMAGE_WORK_PER_ACCOUNT="8", REGISTRO_IMAGE_WORK_PER_SERVER="8")
    with children() as made:
        server = Server(args=["serve", "--workers", "2", "--port", str(port)], env=env,
                        log_path=tmp_path / "server.log", port=port)
        made.append(server)
        server.start_and_wait()
        yield server


def test_a_session_holds_and_one_key_sent_at_once_stores_one_support_across_two_workers(engine: Engine,
                                                                                       two_workers: Server) -> None:
    with session_scope(engine) as db:
        auxiliary = make_field_auxiliary(db)
        aspirant_id, account_id = auxiliary.aspirant_id, auxiliary.account_id
    headers = session_headers(engine, account_id)
    # A new connection per request: the kernel hands each to whichever worker accepts first.
    probes = [httpx.get(two_workers.url + "/api/campo/sesion", headers=headers, timeout=30) for _ in range(12)]
    assert [p.status_code for p in probes] == [200] * 12
    assert {p.json()["account_id"] for p in probes} == {account_id}

    keys = [f"same-key-{n:03d}" for n in range(4)]
    racers = 4
    answers: list[dict[str, Any]] = []
    for n, key in enumerate(keys):
        start = threading.Barrier(racers)

        def send(_: int, key: str = key, seed: int = n, start: threading.Barrier = start) -> httpx.Response:
            body = {"items": [_item(key, aspirant_id, seed)]}
            start.wait(timeout=30)
            return httpx.post(two_workers.url + BATCH, json=body, headers=headers, timeout=60)

        with ThreadPoolExecutor(racers) as pool:
            responses = list(pool.map(send, range(racers)))
        assert [r.status_code for r in responses] == [200] * racers, [r.text for r in responses]
        answers += [r.json()["items"][0] for r in responses]
    assert {a["status"] for a in answers} == {"received"}
    folios = {a["key"]: {b["folio"] for b in answers if b["key"] == a["key"]} for a in answers}
    assert all(len(found) == 1 for found in folios.values())  # every racer of a key got the one support's folio
    with Session(engine) as db:
        stored = Counter(db.exec(select(Support.folio)).all())
    assert stored == Counter(next(iter(found)) for found in folios.values())  # one support per key, no more
