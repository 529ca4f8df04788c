"""The one typed settings object, read once (from REGISTRO_* variables) and passed in."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as EnvParsingError

from core.files import private_directory, write_private
from core.oidc_providers import OidcProviderConfig, check_oidc_providers
from core.secret_strength import weakness

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MIN_DISTINCT_KEY_BYTES = 16  # a placeholder key ("0" * 32, a word repeated) has far fewer


class SettingsError(Exception):
    """The configuration cannot start the app. The message names settings, never their values."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"  # one JSON object per line, for a log collector (production's default)
    TEXT = "text"  # one readable line (the default elsewhere)


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must never print a secret or a database password.
    model_config = SettingsConfigDict(env_prefix="REGISTRO_", extra="ignore", hide_input_in_errors=True)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    image_key: str = ""  # Fernet key for the image store; derived from secret_key when empty
    # Where images live (registry/images.py): `local` files under the data dir, or `s3`, an S3-compatible bucket;
    # either way encrypted by the app first. Empty endpoint: AWS for the region. http:// only outside production.
    image_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str = Field(default="", pattern=r"^(https?://[^\s]+)?$")
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr = SecretStr("")
    s3_secret_access_key: SecretStr = SecretStr("")
    # Personal columns at rest (core/sealing.py): AES-GCM keys {id: base64 of 32 bytes}, the id sealing new values,
    # the blind-index HMAC key, and during an index-key rotation the old ones (look-ups try them too). Outside
    # production they are derived from secret_key when empty; production requires them.
    data_keys: dict[str, str] = Field(default_factory=dict)
    data_key_id: str = ""
    index_key: str = ""
    previous_index_keys: list[str] = Field(default_factory=list)
    # Retention: a closed process's personal data may be purged this many days after its end (registry/retention.py).
    retention_days: int = Field(default=1095, ge=0)
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = "es_MX"
    session_idle_minutes: int = Field(default=60, ge=5)
    session_absolute_hours: int = Field(default=12, ge=1)
    # Signing in beyond this many live sessions on one account ends that account's oldest sessions.
    session_max_per_account: int = Field(default=10, ge=1, le=1000)
    upload_max_bytes: int = Field(default=15_000_000, ge=100_000)
    upload_max_pixels: int = Field(default=50_000_000, ge=1_000_000)
    decode_workers: int = Field(default=2, ge=1, le=32)
    decode_budget_ms: int = Field(default=2500, ge=200)
    # Back photos that may wait for a decoder per process; beyond them: 503 + Retry-After at once.
    decode_queue: int = Field(default=4, ge=0, le=256)
    # Requests handled at once per worker process; beyond them: 503 + Retry-After at once (web/load_shedding.py).
    max_in_flight: int = Field(default=64, ge=1, le=10_000)
    form_max_bytes: int = Field(default=64_000, ge=8_000)  # body cap of a form without photos
    # Photo requests at once per process (web/image_work.py says why 16).
    image_work_per_server: int = Field(default=16, ge=1, le=64)
    image_work_per_account: int = Field(default=2, ge=1, le=16)  # ... and per account
    field_grace_hours: int = Field(default=72, ge=0, le=720)  # offline queues may still arrive after the close
    field_clock_skew_minutes: int = Field(default=10, ge=1, le=1440)  # device times further ahead are flagged
    google_client_id: str = ""
    google_client_secret: str = ""
    # Google's OpenID discovery document; changed only to sign in against a stand-in (tests, staging).
    google_discovery_url: str = Field(default="https://accounts.google.com/.well-known/openid-configuration",
                                      pattern=r"^https?://[^\s;,'\"]+$")
    # Institutional OpenID Connect providers (core/oidc_providers.py; README "Staff sign-in"), JSON list.
    oidc_providers: list[OidcProviderConfig] = Field(default_factory=list)
    facebook_client_id: str = ""
    facebook_client_secret: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "no-responder@registro.local"
    rate_limit_storage: str = "memory://"  # redis://host:6379/0 in production: shared by every worker
    rate_limits: dict[str, str] = Field(default_factory=dict)  # overrides by name (web/ratelimit.py), JSON
    invitations_per_day: int = Field(default=300, ge=1)  # invitation e-mails per aspirant, rolling 24 hours
    # The worker (roll imports, compulsa, verifying new supports) runs as a thread of the web app; set false when
    # `registro worker` processes run beside the web workers (production on PostgreSQL).
    worker_in_process: bool = True
    roll_upload_max_bytes: int = Field(default=4_000_000_000, ge=1_000_000)  # one Lista Nominal file
    # Open data (/datos): a count below this (and above 0) is shown as "<k", the others rounded down to multiples
    # of it (registry/reports/open_data.py); from 4 up no sum gives a small count back, 1 publishes exact counts.
    open_data_min_cell: int = Field(default=5, ge=1, le=1000)
    log_format: LogFormat | None = None  # unset: json in production, text elsewhere (web/logs.py)
    # /metrics answers loopback clients, and any other only with `Authorization: Bearer <token>`; empty: none.
    metrics_token: str = Field(default="", pattern=r"^(|\S{32,})$")
    # Set by load_settings when REGISTRO_ENV was not given and the quick start's conditions held: the app then
    # answers only clients on loopback (see web/middleware.py LoopbackOnlyMiddleware).
    implicit_development: bool = False

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            problem = weakness(self.secret_key)
            if problem:
                raise ValueError(f"REGISTRO_SECRET_KEY is refused in production: {problem}. "
                                 "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
            if not self.database_url:
                raise ValueError("REGISTRO_DATABASE_URL must be set in production")
            _refuse_missing_data_keys(self)
        return self

    @model_validator(mode="after")
    def _refuse_plain_http_discovery_in_production(self) -> Settings:
        # Discovery names the keys that sign id_tokens: over plain http anybody on the path could forge logins.
        if self.env is Environment.PRODUCTION and not self.google_discovery_url.startswith("https://"):
            raise ValueError("REGISTRO_GOOGLE_DISCOVERY_URL must be an https:// address in production")
        check_oidc_providers(self.oidc_providers, production=self.env is Environment.PRODUCTION)
        return self

    @model_validator(mode="after")
    def _complete_object_store(self) -> Settings:
        if self.image_store != "s3":
            return self
        if not self.s3_bucket:
            raise ValueError("REGISTRO_S3_BUCKET must be set when REGISTRO_IMAGE_STORE=s3")
        if self.env is Environment.PRODUCTION:
            if not (self.s3_access_key_id.get_secret_value() and self.s3_secret_access_key.get_secret_value()):
                raise ValueError("REGISTRO_S3_ACCESS_KEY_ID and REGISTRO_S3_SECRET_ACCESS_KEY must be set in "
                                 "production when REGISTRO_IMAGE_STORE=s3")
            if self.s3_endpoint_url.startswith("http://"):  # keys and photos would cross the network in clear
                raise ValueError("REGISTRO_S3_ENDPOINT_URL must be an https:// address in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def resolved_log_format(self) -> LogFormat:
        return self.log_format or (LogFormat.JSON if self.is_production else LogFormat.TEXT)

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

    @property
    def roll_upload_dir(self) -> Path:
        """Uploaded roll files wait here (private, 0700) for their import job, which deletes them when it ends."""
        return self.data_dir / "roll-uploads"


def _refuse_missing_data_keys(settings: Settings) -> None:
    """Production seals personal data under keys of its own, never under keys derived from the app secret."""
    from core.sealing import decode_key  # here: core.sealing reads Settings for its types

    if not settings.data_keys or settings.data_key_id not in settings.data_keys or not settings.index_key:
        raise ValueError("REGISTRO_DATA_KEYS, REGISTRO_DATA_KEY_ID and REGISTRO_INDEX_KEY must be set in production")
    for text in [*settings.data_keys.values(), settings.index_key, *settings.previous_index_keys]:
        # 32 bytes of base64, or a ValueError that names no value; 32 random bytes have ~30 distinct values.
        if len(set(decode_key(text))) < MIN_DISTINCT_KEY_BYTES:
            raise ValueError("a data or index key is refused in production: it is not random (generate one with "
                             "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')")


def _development_secret(data_dir: Path) -> str:
    """A random secret generated once and kept under the git-ignored data dir, so sessions survive restarts."""
    path = data_dir / "secret_key"
    private_directory(data_dir)
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    write_private(path, secret.encode())  # 0600 from the start, whatever the umask
    return secret


def _is_embedded_quick_start(settings: Settings) -> bool:
    """The README's quick start: the embedded SQLite database, reached at a loopback address."""
    return not settings.database_url and (urlsplit(settings.base_url).hostname or "") in LOOPBACK_HOSTS


def _describe(error: ValidationError) -> str:
    """Each problem as 'REGISTRO_<FIELD>: message', without the input (pydantic would echo it)."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        field = "_".join(str(part) for part in problem["loc"]).upper()
        prefix = f"REGISTRO_{field}: " if field else ""
        lines.append(prefix + str(problem["msg"]).removeprefix("Value error, "))
    return "; ".join(lines)


def _read(overrides: dict[str, object]) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(f"invalid configuration: {_describe(error)}") from None
    except EnvParsingError as error:  # a JSON setting that is not JSON: name it, never echo the value
        field = re.search(r'field "(\w+)"', str(error))
        name = f"REGISTRO_{field.group(1).upper()}" if field else "a REGISTRO_ setting"
        raise SettingsError(f"invalid configuration: {name} is not valid JSON") from None


def _resolve_environment(settings: Settings) -> Settings:
    """Development must be chosen explicitly, or be the embedded quick start on loopback: a deployment that
    forgot REGISTRO_ENV must not start with the local sign-in provider, non-Secure cookies and a made-up secret."""
    if "env" in settings.model_fields_set:
        return settings
    if not _is_embedded_quick_start(settings):
        raise SettingsError(
            "REGISTRO_ENV is not set, and this is not the embedded quick start (SQLite, loopback address): "
            "set REGISTRO_ENV=production for a deployment, or REGISTRO_ENV=development to choose development"
        )
    return settings.model_copy(update={"implicit_development": True})


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; outside production a missing secret is generated and kept in the data dir.
    Raises SettingsError (naming settings, never their values) when the app must not start."""
    settings = _resolve_environment(_read(overrides))
    if not settings.secret_key and not settings.is_production:
        settings = settings.model_copy(update={"secret_key": _development_secret(settings.data_dir)})
    return settings
