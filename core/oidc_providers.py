"""Institutional OpenID Connect providers configured by the deployment (`REGISTRO_OIDC_PROVIDERS`, a JSON list):
the shape of one entry and the checks of the whole list, run when the settings are read, so a bad value stops
the start with a message that names the entry, never a secret."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# The roles of auth.roles.Role, spelled here because core imports nothing of ours (a test keeps them equal).
RoleName = Literal["citizen", "auxiliary", "aspirant", "reviewer", "opl_admin", "system_admin"]
# Names the app already gives its own providers; a configured one must not shadow them.
RESERVED_NAMES = frozenset({"google", "facebook", "local"})
DEFAULT_SCOPE = "openid email profile"


class OidcProviderConfig(BaseModel):
    """One provider. `roles` empty: anyone may sign in through it (like Google); otherwise only accounts
    holding one of them (staff-only). The second factor is proven when the id_token's `acr` is one of
    `acr_values` or one of its `amr` values is in `amr_values`; both empty: never proven."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    display_name: str = Field(min_length=1, max_length=80)
    discovery_url: str = Field(pattern=r"^https?://[^\s;,'\"]+$")
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr = Field(min_length=1)
    roles: tuple[RoleName, ...] = ()
    acr_values: tuple[str, ...] = ()
    amr_values: tuple[str, ...] = ()
    scope: str = Field(default=DEFAULT_SCOPE, pattern=r"^openid( [\x21\x23-\x5b\x5d-\x7e]+)*$")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"the name {name!r} is the app's own provider; choose another")
        return name


def check_oidc_providers(providers: Sequence[OidcProviderConfig], *, production: bool) -> None:
    """Names unique (they are URL paths and account keys); discovery over https in production (the document
    names the keys that sign id_tokens: over plain http anybody on the path could forge sign-ins)."""
    repeated = sorted(name for name, count in Counter(p.name for p in providers).items() if count > 1)
    if repeated:
        raise ValueError(f"REGISTRO_OIDC_PROVIDERS names a provider more than once: {', '.join(repeated)}")
    plain = [p.name for p in providers if not p.discovery_url.startswith("https://")]
    if production and plain:
        raise ValueError(f"REGISTRO_OIDC_PROVIDERS: discovery_url must be https:// in production ({', '.join(plain)})")
