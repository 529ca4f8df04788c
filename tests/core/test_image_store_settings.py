"""Choosing the image store by settings: an S3 bucket must be named, and production refuses it without its keys
or over plain http. No error message quotes a value."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from pydantic import SecretStr

from core.settings import Environment, Settings, SettingsError, load_settings

STRONG_SECRET = "vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5"
S3_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def _random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _production(**settings: Any) -> dict[str, Any]:
    """A production configuration complete in everything but the image store."""
    base: dict[str, Any] = {"env": Environment.PRODUCTION, "secret_key": STRONG_SECRET,
                            "database_url": "postgresql://db/registro"}
    if "data_keys" in Settings.model_fields:  # privacy at rest: production needs its own data keys too
        base |= {"data_keys": {"k1": _random_key()}, "data_key_id": "k1", "index_key": _random_key()}
    return base | settings


S3 = {"image_store": "s3", "s3_endpoint_url": "https://objects.example.mx", "s3_bucket": "registro-fotos",
      "s3_access_key_id": "AKIDREGISTRO", "s3_secret_access_key": S3_SECRET}


def test_the_local_disk_is_the_default() -> None:
    assert Settings().image_store == "local"


def test_production_accepts_a_complete_s3_configuration_and_keeps_the_secret_out_of_its_repr() -> None:
    settings = Settings(**_production(**S3))
    assert settings.image_store == "s3" and settings.s3_secret_access_key.get_secret_value() == S3_SECRET
    assert S3_SECRET not in repr(settings) and "AKIDREGISTRO" not in repr(settings)


@pytest.mark.parametrize("missing", ["s3_access_key_id", "s3_secret_access_key"])
def test_production_refuses_s3_without_its_keys(missing: str) -> None:
    with pytest.raises(SettingsError, match="REGISTRO_S3_ACCESS_KEY_ID and REGISTRO_S3_SECRET_ACCESS_KEY") as error:
        load_settings(**_production(**(S3 | {missing: ""})))
    assert S3_SECRET not in str(error.value)


def test_production_refuses_an_s3_endpoint_over_plain_http() -> None:
    with pytest.raises(SettingsError, match="REGISTRO_S3_ENDPOINT_URL must be an https"):
        load_settings(**_production(**(S3 | {"s3_endpoint_url": "http://minio:9000"})))


def test_s3_needs_a_bucket_in_any_environment() -> None:
    with pytest.raises(SettingsError, match="REGISTRO_S3_BUCKET"):
        load_settings(env="test", secret_key=STRONG_SECRET, image_store="s3", s3_bucket="")


def test_an_unknown_store_or_a_malformed_endpoint_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="REGISTRO_IMAGE_STORE"):
        load_settings(env="test", secret_key=STRONG_SECRET, image_store="ftp")
    with pytest.raises(SettingsError, match="REGISTRO_S3_ENDPOINT_URL"):
        load_settings(env="test", secret_key=STRONG_SECRET, image_store="s3", s3_bucket="b",
                      s3_endpoint_url="minio:9000 ")


def test_development_may_use_a_loopback_http_endpoint() -> None:
    settings = Settings(env=Environment.DEVELOPMENT, secret_key=STRONG_SECRET, image_store="s3", s3_bucket="b",
                        s3_endpoint_url="http://127.0.0.1:9000", s3_secret_access_key=SecretStr("x"))
    assert settings.s3_endpoint_url.startswith("http://")
