"""Production fails closed: development is chosen explicitly or is the quick start on loopback; weak secrets are
refused; no error message echoes a setting's value."""

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from core.settings import Environment, Settings, SettingsError, load_settings
from tests.factories.keys import PRODUCTION_KEYS
from web.app import app_from_environment, create_app

REAL_SECRET = "vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5"
DB_URL = "postgresql://registro:hunter2-db-password@db.example/registro"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ENV", "DATABASE_URL", "SECRET_KEY", "BASE_URL"):
        monkeypatch.delenv(f"REGISTRO_{name}", raising=False)
    monkeypatch.setenv("REGISTRO_DATA_DIR", str(tmp_path / "var"))


def test_the_quick_start_on_loopback_is_implicit_development() -> None:
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.implicit_development


@pytest.mark.parametrize("variables", [
    {"REGISTRO_DATABASE_URL": DB_URL},
    {"REGISTRO_BASE_URL": "https://apoyo.example.mx"},
])
def test_a_forgotten_registro_env_refuses_to_start(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="REGISTRO_ENV") as refused:
        app_from_environment()  # what `uvicorn --factory web.app:app_from_environment` runs
    assert "hunter2" not in str(refused.value)


def test_development_chosen_explicitly_may_use_another_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRO_ENV", "development")
    monkeypatch.setenv("REGISTRO_DATABASE_URL", DB_URL)
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT and not settings.implicit_development


def test_implicit_development_answers_only_loopback_clients() -> None:
    app = create_app(load_settings())
    with TestClient(app, client=("203.0.113.7", 50000)) as remote:
        refused = remote.get("/")
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        served = local.get("/")
    assert refused.status_code == 403 and "REGISTRO_ENV" in refused.text
    assert served.status_code == 200


@pytest.mark.parametrize("weak", [
    "a" * 32,
    "change-me-" + "0123456789abcdefghijklmnopq",
    "1234567890" * 4,
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "k" * 48,
    "Xy7#" * 12,
    "my production secret key for registro!",
])
def test_production_refuses_low_entropy_and_placeholder_secrets(weak: str) -> None:
    with pytest.raises(SettingsError, match="REGISTRO_SECRET_KEY") as refused:
        load_settings(env="production", secret_key=weak, database_url=DB_URL)
    assert weak not in str(refused.value)


def test_production_accepts_a_generated_secret() -> None:
    for _ in range(20):
        generated = secrets.token_urlsafe(32)
        assert load_settings(env="production", secret_key=generated, database_url=DB_URL,
                             **PRODUCTION_KEYS).is_production
    assert load_settings(env="production", secret_key=REAL_SECRET, database_url=DB_URL,
                         **PRODUCTION_KEYS).is_production


def test_a_missing_database_url_error_never_prints_the_secret() -> None:
    with pytest.raises(SettingsError, match="REGISTRO_DATABASE_URL") as refused:
        load_settings(env="production", secret_key=REAL_SECRET)
    assert REAL_SECRET not in str(refused.value)
    assert REAL_SECRET[:8] not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_validation_errors_hide_the_input() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(env=Environment.PRODUCTION, secret_key=REAL_SECRET)
    assert REAL_SECRET[:8] not in str(refused.value)
