from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Environment, Settings, load_settings
from tests.factories.keys import PRODUCTION_KEYS

STRONG_SECRET = "vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5"


@pytest.mark.parametrize("secret", ["", "change-me", "secret", "short-but-not-placeholder"])
def test_production_refuses_placeholder_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="REGISTRO_SECRET_KEY"):
        Settings(env=Environment.PRODUCTION, secret_key=secret, database_url="postgresql://db/registro")


def test_production_requires_a_database_url() -> None:
    with pytest.raises(ValidationError, match="REGISTRO_DATABASE_URL"):
        Settings(env=Environment.PRODUCTION, secret_key=STRONG_SECRET)


def test_production_accepts_real_configuration() -> None:
    settings = Settings(env=Environment.PRODUCTION, secret_key=STRONG_SECRET, database_url="postgresql://db/r",
                        **PRODUCTION_KEYS)  # type: ignore[arg-type]
    assert settings.is_production


def test_development_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    first = load_settings(env="development", data_dir=tmp_path)
    second = load_settings(env="development", data_dir=tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_reads_the_registro_prefix_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGISTRO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRO_UPLOAD_MAX_BYTES", "2000000")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.upload_max_bytes == 2_000_000
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'registro.db'}"
