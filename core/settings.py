"""The one typed settings object, read once (from REGISTRO_* variables) and passed in."""

from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development", "placeholder"})
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRO_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    image_key: str = ""  # Fernet key for the image store; derived from secret_key when empty
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = "es_MX"
    session_idle_minutes: int = Field(default=60, ge=5)
    session_absolute_hours: int = Field(default=12, ge=1)
    upload_max_bytes: int = Field(default=15_000_000, ge=100_000)
    upload_max_pixels: int = Field(default=50_000_000, ge=1_000_000)
    decode_workers: int = Field(default=2, ge=1, le=32)
    decode_budget_ms: int = Field(default=2500, ge=200)
    google_client_id: str = ""
    google_client_secret: str = ""
    facebook_client_id: str = ""
    facebook_client_secret: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "no-responder@registro.local"

    @model_validator(mode="after")
    def _refuse_placeholder_secret_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "REGISTRO_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production"
                )
            if not self.database_url:
                raise ValueError("REGISTRO_DATABASE_URL must be set in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'registro.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` outside development, and whenever the public address is https. Development
        over plain http (a phone on the LAN) would otherwise lose them; browsers treat loopback as secure, so
        the test environment on http://127.0.0.1 keeps `Secure` and still works."""
        return self.env is not Environment.DEVELOPMENT or self.base_url.startswith("https://")

    @property
    def offers_local_provider(self) -> bool:
        """The local OpenID provider (demo people, no password) exists only in development and test."""
        return self.env is not Environment.PRODUCTION

    @property
    def public_origin(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_absolute(self) -> timedelta:
        return timedelta(hours=self.session_absolute_hours)

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def _development_secret(data_dir: Path) -> str:
    """A random secret generated once and kept under the git-ignored data dir, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; outside production a missing secret is generated and kept in the data dir."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if not settings.secret_key and not settings.is_production:
        settings = settings.model_copy(update={"secret_key": _development_secret(settings.data_dir)})
    return settings
