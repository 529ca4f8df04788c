"""Google and Facebook as the app sees them. Their servers do not run here, so a small stand-in answers at
their addresses (the only stand-in in these tests): it checks what our client sends and answers like them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from auth.models import OAuthIdentity
from auth.oauth import GOOGLE_DISCOVERY_URL, ProviderIdentity, graph_identity, openid_identity, provider_specs
from auth.sessions import SESSION_COOKIE
from core.settings import Settings
from tests.auth.login_flow import failure_reason, start
from web.app import create_app

CREDENTIALS = {"google_client_id": "google-id", "google_client_secret": "google-secret",
               "facebook_client_id": "fb-id", "facebook_client_secret": "fb-secret"}


class StandIn:
    """Google's discovery document, Facebook's token endpoint and Graph `me`, as far as this app uses them."""

    def __init__(self) -> None:
        self.code_challenge = ""
        self.token_requests: list[dict[str, str]] = []

    async def google_discovery(self, request: Request) -> Response:
        return JSONResponse({"issuer": "https://accounts.google.com",
                             "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
                             "token_endpoint": "https://oauth2.googleapis.com/token",
                             "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs"})

    async def facebook_token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        if form.get("client_secret") != "fb-secret" or \
                create_s256_code_challenge(form.get("code_verifier", "")) != self.code_challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse({"access_token": "fb-access", "token_type": "bearer", "expires_in": 3600})

    async def graph_me(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer fb-access":
            return JSONResponse({"error": {"message": "bad token"}}, status_code=401)
        assert request.query_params["fields"] == "id,name,email"
        return JSONResponse({"id": "10001", "name": "Fernanda Facebook", "email": "fer@example.mx"})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(urlsplit(GOOGLE_DISCOVERY_URL).path, self.google_discovery),
            Route("/v21.0/oauth/access_token", self.facebook_token, methods=["POST"]),
            Route("/v21.0/me", self.graph_me),
        ])


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn()


@pytest.fixture
def social_client(settings: Settings, stand_in: StandIn) -> Iterator[TestClient]:
    configured = settings.model_copy(update=CREDENTIALS)
    app = create_app(configured, oauth_transport=httpx2.ASGITransport(app=stand_in.app()))
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_a_provider_without_credentials_is_not_offered(settings: Settings) -> None:
    assert [spec.name for spec in provider_specs(settings, None)] == []
    half = settings.model_copy(update={"google_client_id": "only-the-id"})
    assert [spec.name for spec in provider_specs(half, None)] == []
    assert [spec.name for spec in provider_specs(settings.model_copy(update=CREDENTIALS), None)] == [
        "google", "facebook"]


def test_the_sign_in_page_offers_the_configured_providers(social_client: TestClient) -> None:
    page = social_client.get("/entrar").text
    assert "Entrar con Google" in page and "Entrar con Facebook" in page
    assert "Entrar con Proveedor local de pruebas" in page


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_google_is_asked_for_openid_with_nonce_and_pkce(social_client: TestClient) -> None:
    location = start(social_client, "google").headers["location"]
    assert location.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    query = _query(location)
    assert query["scope"] == "openid email profile" and query["client_id"] == "google-id"
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]
    assert query["redirect_uri"] == "https://testserver/entrar/google/retorno"


def test_facebook_login_uses_pkce_and_the_graph_api(social_client: TestClient, stand_in: StandIn,
                                                    session: Session) -> None:
    location = start(social_client, "facebook").headers["location"]
    assert location.startswith("https://www.facebook.com/v21.0/dialog/oauth?")
    query = _query(location)
    assert query["scope"] == "email public_profile" and query["code_challenge_method"] == "S256"
    stand_in.code_challenge = query["code_challenge"]
    answer = social_client.get(f"/entrar/facebook/retorno?code=fb-code&state={query['state']}",
                               follow_redirects=False)
    assert answer.headers["location"] == "/ciudadano" and SESSION_COOKIE in social_client.cookies
    assert stand_in.token_requests[0]["redirect_uri"] == "https://testserver/entrar/facebook/retorno"
    identity = session.exec(select(OAuthIdentity)).one()
    assert (identity.provider, identity.subject, identity.email) == ("facebook", "10001", "fer@example.mx")


def test_facebook_cancelled_by_the_person(social_client: TestClient) -> None:
    state = _query(start(social_client, "facebook").headers["location"])["state"]
    answer = social_client.get(f"/entrar/facebook/retorno?error=access_denied&error_reason=user_denied"
                               f"&state={state}", follow_redirects=False)
    assert failure_reason(answer) == "cancelado"
    assert "Cancelaste el inicio de sesión con Facebook" in social_client.get(answer.headers["location"]).text


def test_an_unknown_provider_is_not_found(social_client: TestClient) -> None:
    assert social_client.get("/entrar/twitter/retorno?code=x&state=y").status_code == 404


@pytest.mark.parametrize(("claims", "expected"), [
    ({"sub": "1", "name": " Ana ", "email": "a@x.mx", "email_verified": True},
     ProviderIdentity("p", "1", "Ana", "a@x.mx")),
    ({"sub": "2", "email": "b@x.mx", "email_verified": False}, ProviderIdentity("p", "2", "b", None)),
    ({"sub": "3"}, ProviderIdentity("p", "3", "Persona usuaria", None)),
])
def test_openid_claims_become_an_identity(claims: dict[str, Any], expected: ProviderIdentity) -> None:
    assert openid_identity("p", claims) == expected


def test_a_graph_profile_without_email_is_still_an_identity() -> None:
    assert graph_identity("facebook", {"id": "7", "name": "Sin Correo"}) == ProviderIdentity(
        "facebook", "7", "Sin Correo", None)
