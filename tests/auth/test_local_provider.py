"""The local OpenID provider, spoken to as any OpenID client would: discovery, authorization with PKCE, the
token endpoint, id_tokens verifiable with the published JWKS. And it does not exist in production."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.settings import load_settings
from tests.auth.login_flow import choose
from tests.factories.keys import PRODUCTION_KEYS
from web.app import create_app

ISSUER = "https://testserver/dev-oidc"
REDIRECT_URI = "https://testserver/entrar/local/retorno"


def _authorize_url(verifier: str | None, **changes: str) -> str:
    params = {"response_type": "code", "client_id": "registro-local", "redirect_uri": REDIRECT_URI,
              "scope": "openid email profile", "state": "estado-1", "nonce": secrets.token_urlsafe(12)}
    if verifier:
        params.update(code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    return f"/dev-oidc/autorizar?{urlencode({**params, **changes})}"


def _code(client: TestClient, verifier: str, subject: str = "demo-revisora") -> str:
    answer = choose(client, _authorize_url(verifier), subject)
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def _exchange(client: TestClient, app: Starlette, code: str, verifier: str,
              secret: str | None = None) -> httpx2.Response:
    credentials = app.state.local_provider.credentials
    return client.post("/dev-oidc/token", auth=(credentials.client_id, secret or credentials.client_secret),
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                             "code_verifier": verifier})


def test_discovery_describes_the_provider(client: TestClient) -> None:
    metadata = client.get("/dev-oidc/.well-known/openid-configuration").json()
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/autorizar"
    assert metadata["token_endpoint"] == f"{ISSUER}/token"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_only_the_public_key(client: TestClient) -> None:
    (key,) = client.get("/dev-oidc/jwks").json()["keys"]
    assert key["kty"] == "RSA" and key["kid"] and "d" not in key and "p" not in key


def test_the_id_token_verifies_with_the_published_keys(client: TestClient, app: Starlette) -> None:
    verifier = secrets.token_urlsafe(48)
    answer = _exchange(client, app, _code(client, verifier), verifier)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    keys = KeySet.import_key_set(client.get("/dev-oidc/jwks").json())
    claims = jwt.decode(answer.json()["id_token"], keys).claims
    assert claims["iss"] == ISSUER and claims["aud"] == ["registro-local"]
    assert (claims["sub"], claims["name"]) == ("demo-revisora", "Diana Revisora Demo")
    assert claims["email_verified"] is True and claims["nonce"] and claims["at_hash"]


def test_a_code_works_once(client: TestClient, app: Starlette) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code(client, verifier)
    assert _exchange(client, app, code, verifier).status_code == 200
    replay = _exchange(client, app, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_the_code_verifier_must_match_the_challenge(client: TestClient, app: Starlette) -> None:
    code = _code(client, secrets.token_urlsafe(48))
    answer = _exchange(client, app, code, secrets.token_urlsafe(48))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_the_client_must_authenticate(client: TestClient, app: Starlette) -> None:
    verifier = secrets.token_urlsafe(48)
    answer = _exchange(client, app, _code(client, verifier), verifier, secret="adivinado")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("missing", ["code_challenge", "nonce"])
def test_pkce_and_nonce_are_required(client: TestClient, missing: str) -> None:
    url = _authorize_url(secrets.token_urlsafe(48))
    without = urlsplit(url).path + "?" + urlencode(
        [(k, v[0]) for k, v in parse_qs(urlsplit(url).query).items() if k != missing])
    answer = client.get(without, follow_redirects=False)
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == ["invalid_request"]


def test_an_unregistered_redirect_uri_gets_a_page_not_a_redirect(client: TestClient) -> None:
    answer = client.get(_authorize_url(secrets.token_urlsafe(48), redirect_uri="https://evil.example/cb"),
                        follow_redirects=False)
    assert answer.status_code == 400
    assert "La solicitud de inicio de sesión no es válida" in answer.text


def test_the_token_endpoint_needs_no_csrf_token_but_the_picker_does(client: TestClient) -> None:
    assert client.post("/dev-oidc/token", data={"grant_type": "authorization_code"}).status_code == 401
    page = client.post(_authorize_url(secrets.token_urlsafe(48)), data={"persona": "demo-revisora"})
    assert page.status_code == 403


def test_the_local_provider_does_not_exist_in_production(database_url: str, tmp_path: Path) -> None:
    production = load_settings(env="production", data_dir=tmp_path, database_url=database_url,
                               secret_key="vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5", base_url="https://testserver",
                               **PRODUCTION_KEYS)
    app = create_app(production)
    assert app.state.local_provider is None
    with TestClient(app, base_url="https://testserver") as client:
        for path in ("/dev-oidc/.well-known/openid-configuration", "/dev-oidc/jwks", "/dev-oidc/autorizar"):
            assert client.get(path).status_code == 404
        assert client.post("/dev-oidc/token").status_code == 404
        page = client.get("/entrar")
        assert "/entrar/local" not in page.text and "Proveedor local" not in page.text
        assert "ningún proveedor de acceso está configurado" in page.text
        csrf = {"X-CSRF-Token": client.cookies["registro_csrf"]}
        assert client.post("/entrar/local", headers=csrf).status_code == 404
        assert client.get("/entrar/local/retorno?code=x&state=y").status_code == 404
