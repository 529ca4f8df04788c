"""An independent OpenID provider for browser tests: npm's oidc-provider v9 (OpenID-certified), run by
`node tests/oidc/server.mjs` on another loopback origin (http://127.0.0.3:<free port>) than the app's, standing in
for an OPL's institutional provider. The app reaches it over real HTTP through its own Authlib client code,
configured only through the `oidc_providers` setting, as an OPL would configure Keycloak or Entra ID.

`oidc_provider` (fixture): started after the live server's socket is bound (its redirect URIs name the app's
port), waited for until its discovery document answers, stopped after the test. Without node or
node_modules/oidc-provider (`npm install --no-save oidc-provider@9`, as .ci/run does) the tests skip, unless
REGISTRO_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "tests" / "oidc" / "server.mjs"
OIDC_PACKAGE = REPO_ROOT / "node_modules" / "oidc-provider"
HOST = "127.0.0.3"  # another origin than the app's 127.0.0.1 (and the Google stand-in's 127.0.0.2)
STARTUP_SECONDS = 20
NAME = "iepc"
DISPLAY_NAME = "IEPC Jalisco"
CLIENT_ID = "registro-ciudadano"
# What the server's login page puts in the id_token (tests/oidc/server.mjs): with the "second factor" box ticked
# acr is LoA 2 and amr holds "otp"; without it, LoA 1 and "pwd" alone.
ACR_TWO_FACTORS = "urn:registro:test:loa:2"
SECOND_FACTOR_AMR = "otp"
# The provider's people (tests/oidc/server.mjs ACCOUNTS): username on its login page → opaque subject.
SUBJECTS = {"revisora": "u4817-0001", "admin-opl": "u4817-0002", "ciudadana": "u4817-0003"}


@dataclass(frozen=True)
class IndependentProvider:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str = NAME
    display_name: str = DISPLAY_NAME

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def setting(self, *, roles: list[str]) -> dict[str, Any]:
        """This provider as one entry of REGISTRO_OIDC_PROVIDERS (the JSON an OPL writes)."""
        return {"name": self.name, "display_name": self.display_name, "discovery_url": self.discovery_url,
                "client_id": self.client_id, "client_secret": self.client_secret, "roles": roles,
                "acr_values": [ACR_TWO_FACTORS], "amr_values": [SECOND_FACTOR_AMR]}

    def tamper_next_id_token(self, claim: Literal["iss", "aud"]) -> None:
        """The next id_token the token endpoint issues is re-signed with the provider's own key and a wrong
        iss or aud: a valid signature over a claim that names somebody else."""
        response = httpx2.post(f"{self.issuer}/_test/tamper", json={"claim": claim}, timeout=10)
        assert response.status_code == 204, response.text


def _require_node() -> str:
    node = shutil.which("node")
    if node is None or not OIDC_PACKAGE.is_dir():
        missing = "node" if node is None else "node_modules/oidc-provider"
        message = (f"{missing} is missing: npm install --no-save --no-package-lock axe-core oidc-provider@9 "
                   "(see .ci/run)")
        if os.environ.get("REGISTRO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}, and REGISTRO_REQUIRE_BROWSER=1")
        pytest.skip(message)
    return node


def _first_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.1):
                return process.stdout.readline()
    return ""


@contextmanager
def independent_provider(*, app_origin: str, log_dir: Path) -> Iterator[IndependentProvider]:
    """Runs the provider with the app's redirect and post-logout URIs registered for its client."""
    node = _require_node()
    secret = secrets.token_urlsafe(32)
    env = {**os.environ, "OIDC_TEST_HOST": HOST, "OIDC_TEST_CLIENT_ID": CLIENT_ID, "OIDC_TEST_CLIENT_SECRET": secret,
           "OIDC_TEST_REDIRECT_URIS": f"{app_origin}/entrar/{NAME}/retorno",
           "OIDC_TEST_POST_LOGOUT_URIS": f"{app_origin}/salida/vuelta {app_origin}/"}
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / "oidc-provider.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen([node, str(SERVER_SCRIPT)], cwd=REPO_ROOT, env=env, text=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
    try:
        line = _first_line(process, time.monotonic() + STARTUP_SECONDS)
        if not line:
            raise RuntimeError(f"the OpenID provider did not start: {stderr_path.read_text()[-2000:]}")
        provider = IndependentProvider(issuer=json.loads(line)["issuer"], client_id=CLIENT_ID, client_secret=secret)
        discovery = httpx2.get(provider.discovery_url, timeout=10)
        assert discovery.status_code == 200 and discovery.json()["issuer"] == provider.issuer
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def oidc_provider(live_socket: socket.socket, tmp_path: Path) -> Iterator[IndependentProvider]:
    app_origin = f"http://127.0.0.1:{live_socket.getsockname()[1]}"
    with independent_provider(app_origin=app_origin, log_dir=tmp_path) as provider:
        yield provider
