"""/healthz (alive, no database) and /readyz (database, job queue and image store), against real broken parts:
a PostgreSQL address where nothing listens, a database without the app's tables, an image store that cannot be
made. Both are cookieless and never cached."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.settings import Settings, load_settings
from tests.conftest import TEST_ORIGIN
from web.app import create_app

DB_PASSWORD = "Pg-Pa55word-nobody-must-see"
# Port 1 on loopback: nothing listens, so the connection is refused at once (real, not a stand-in).
UNREACHABLE_DATABASE = f"postgresql://registro:{DB_PASSWORD}@127.0.0.1:1/registro"


def _app_on(tmp_path: Path, database_url: str) -> Starlette:
    settings = load_settings(env="test", data_dir=tmp_path / "var", database_url=database_url,
                             secret_key="test-secret-" + "x" * 40, base_url=TEST_ORIGIN, worker_in_process=False)
    return create_app(settings)


def test_healthz_answers_without_a_session_or_a_cookie(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok")
    assert "set-cookie" not in answer.headers  # a first visit elsewhere gets the anonymous CSRF cookie
    assert answer.headers["cache-control"] == "no-store"
    assert client.get("/").headers.get("set-cookie")  # ... as the home page shows


def test_healthz_stays_up_while_the_database_is_down(tmp_path: Path) -> None:
    """Liveness must not depend on the database: an orchestrator would restart every worker for nothing."""
    with TestClient(_app_on(tmp_path, UNREACHABLE_DATABASE), base_url=TEST_ORIGIN) as client:
        assert client.get("/healthz").status_code == 200


def test_readyz_is_200_when_database_jobs_and_storage_answer(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "jobs": "ok"}}
    assert "set-cookie" not in answer.headers and answer.headers["cache-control"] == "no-store"


def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(_app_on(tmp_path, UNREACHABLE_DATABASE), base_url=TEST_ORIGIN)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not_ready" and body["failed"] == ["database", "jobs"]
    assert body["checks"] == {"database": "failed", "storage": "ok", "jobs": "failed"}
    for leak in (DB_PASSWORD, "127.0.0.1", "postgresql", "OperationalError", "refused"):
        assert leak not in answer.text
    assert DB_PASSWORD not in caplog.text and "127.0.0.1:1" not in caplog.text
    assert "readiness check database failed: OperationalError" in caplog.text  # the type only


def test_readyz_is_503_naming_the_job_queue_when_its_table_cannot_be_read(tmp_path: Path) -> None:
    """A database that answers but was never migrated (`registro migrate` forgotten before new code)."""
    client = TestClient(_app_on(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}"), base_url=TEST_ORIGIN)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["jobs"]


def test_readyz_is_503_naming_the_image_store_when_it_cannot_be_used(settings: Settings) -> None:
    settings.images_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.images_dir.write_bytes(b"a file where the store's directory should be")
    client = TestClient(create_app(settings), base_url=TEST_ORIGIN)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["storage"]
