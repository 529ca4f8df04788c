"""REGISTRO_OIDC_PROVIDERS, read from the environment like every setting: a bad value stops the start with a
message that names the setting and never echoes a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from auth.roles import Role
from core.oidc_providers import RoleName
from core.settings import SettingsError, load_settings
from tests.core.test_settings import STRONG_SECRET
from tests.factories.keys import PRODUCTION_KEYS

SECRET = "institutional-client-secret-value"


def _entry(**changes: Any) -> dict[str, Any]:
    return {"name": "iepc", "display_name": "IEPC Jalisco",
            "discovery_url": "https://sso.iepc.example/realms/iepc/.well-known/openid-configuration",
            "client_id": "registro", "client_secret": SECRET, "roles": ["reviewer", "opl_admin"],
            "acr_values": ["gold"], "amr_values": ["otp"], **changes}


def _load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, **overrides: Any) -> Any:
    monkeypatch.setenv("REGISTRO_OIDC_PROVIDERS", value)
    return load_settings(**{"env": "test", "data_dir": tmp_path, **overrides})


def test_a_list_of_providers_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = _load(monkeypatch, tmp_path, json.dumps([_entry(), _entry(name="ine", roles=[], acr_values=[])]))
    first, second = settings.oidc_providers
    assert (first.name, first.roles, first.acr_values, first.scope) == (
        "iepc", ("reviewer", "opl_admin"), ("gold",), "openid email profile")
    assert first.client_secret.get_secret_value() == SECRET and SECRET not in repr(settings)
    assert (second.name, second.roles) == ("ine", ())


def test_unset_means_none(tmp_path: Path) -> None:
    assert load_settings(env="test", data_dir=tmp_path).oidc_providers == []


@pytest.mark.parametrize(("value", "named"), [
    ('[{"name": "iepc",', "REGISTRO_OIDC_PROVIDERS"),  # not JSON
    (json.dumps([_entry(), _entry(display_name="Otro")]), "more than once: iepc"),
    (json.dumps([_entry(roles=["reviewer", "superuser"])]), "REGISTRO_OIDC_PROVIDERS_0_ROLES_1"),
    (json.dumps([_entry(name="google")]), "app's own provider"),
    (json.dumps([_entry(name="IEPC Jalisco")]), "REGISTRO_OIDC_PROVIDERS_0_NAME"),
    (json.dumps([_entry(client_secret="")]), "REGISTRO_OIDC_PROVIDERS_0_CLIENT_SECRET"),
    (json.dumps([_entry(extra="x")]), "REGISTRO_OIDC_PROVIDERS_0_EXTRA"),
    (json.dumps([_entry(discovery_url="ftp://sso/x")]), "REGISTRO_OIDC_PROVIDERS_0_DISCOVERY_URL"),
    (json.dumps(_entry()), "REGISTRO_OIDC_PROVIDERS"),  # one object, not a list
])
def test_a_bad_value_refuses_to_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str,
                                      named: str) -> None:
    with pytest.raises(SettingsError, match=named) as refused:
        _load(monkeypatch, tmp_path, value)
    assert SECRET not in str(refused.value)


def test_production_wants_https_discovery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    production = {"env": "production", "secret_key": STRONG_SECRET, "database_url": "postgresql://db/r",
                  **PRODUCTION_KEYS}
    plain = json.dumps([_entry(discovery_url="http://sso.iepc.example/.well-known/openid-configuration")])
    with pytest.raises(SettingsError, match="https:// in production") as refused:
        _load(monkeypatch, tmp_path, plain, **production)
    assert SECRET not in str(refused.value)
    assert _load(monkeypatch, tmp_path, json.dumps([_entry()]), **production).oidc_providers[0].name == "iepc"
    assert _load(monkeypatch, tmp_path, plain).oidc_providers[0].name == "iepc"  # outside production: allowed


def test_the_role_names_are_the_app_roles() -> None:
    assert set(get_args(RoleName)) == {role.value for role in Role}
