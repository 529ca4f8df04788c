"""In Chromium, signing in with Google really leaves the site: POST /entrar/google answers 303 to the provider's
authorization endpoint on another origin, which the CSP's form-action must allow (Chromium applies form-action
to the redirect that follows a form). The local provider is same-origin and could never show this.

Google's servers do not run here, so a stand-in serves its discovery document, authorization page, token
endpoint and keys on another loopback origin (127.0.0.2); the app reaches it over real HTTP through the same
Authlib client code as Google, configured only by REGISTRO_GOOGLE_* settings."""

from __future__ import annotations

import html
import re
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from auth.models import OAuthIdentity
from core.settings import Settings
from tests.browser.conftest import LiveServer, _serve

pytestmark = pytest.mark.browser

AUTHORIZE_PATH = "/o/oauth2/v2/auth"
CLIENT_ID, CLIENT_SECRET = "google-id", "google-secret"
PERSON = {"sub": "g-1234567890", "name": "Gabriela Google", "email": "gabriela@example.mx", "email_verified": True}


class GoogleStandIn:
    """As much of accounts.google.com as the app uses, answering like it; records what it was asked."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        self.key.ensure_kid()
        self.authorize_requests: list[dict[str, str]] = []
        self._codes: dict[str, dict[str, str]] = {}

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({"issuer": self.origin, "authorization_endpoint": self.origin + AUTHORIZE_PATH,
                             "token_endpoint": self.origin + "/token", "jwks_uri": self.origin + "/certs",
                             "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                             "code_challenge_methods_supported": ["S256"]})

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        code = secrets.token_urlsafe(16)
        self._codes[code] = query
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return HTMLResponse(f'<!doctype html><html lang="es"><title>Google</title><h1>Google (sustituto)</h1>'
                            f'<a href="{html.escape(back)}">Continuar como {PERSON["name"]}</a></html>')

    async def token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        asked = self._codes.pop(form.get("code", ""), None)
        if asked is None or create_s256_code_challenge(form.get("code_verifier", "")) != asked["code_challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {**PERSON, "iss": self.origin, "aud": CLIENT_ID, "nonce": asked["nonce"], "iat": now,
                  "exp": now + 300}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return JSONResponse({"access_token": "stand-in-access", "token_type": "Bearer", "expires_in": 3600,
                             "id_token": id_token, "scope": asked["scope"]})

    async def certs(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route(AUTHORIZE_PATH, self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/certs", self.certs),
        ])


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))  # another origin than the app's 127.0.0.1
    stand_in = GoogleStandIn(f"http://127.0.0.2:{sock.getsockname()[1]}")
    server, thread = _serve(stand_in.app(), sock)
    try:
        yield stand_in
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def settings(settings: Settings, google: GoogleStandIn) -> Settings:
    """The live server's settings, with Google configured and pointed at the stand-in."""
    return settings.model_copy(update={
        "google_client_id": CLIENT_ID, "google_client_secret": CLIENT_SECRET,
        "google_discovery_url": f"{google.origin}/.well-known/openid-configuration"})


def test_google_sign_in_goes_to_the_provider_and_back(page: Any, live_server: LiveServer, google: GoogleStandIn,
                                                      session: Session) -> None:
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name="Entrar con Google").click()
    page.wait_for_url(re.compile("^" + re.escape(f"{google.origin}{AUTHORIZE_PATH}?")))
    (asked,) = google.authorize_requests
    assert asked["client_id"] == CLIENT_ID and asked["redirect_uri"] == live_server.path("/entrar/google/retorno")
    assert asked["scope"] == "openid email profile" and asked["code_challenge_method"] == "S256"
    assert blocked == []

    page.get_by_role("link", name=f"Continuar como {PERSON['name']}").click()
    page.wait_for_url(live_server.path("/ciudadano"))
    assert page.locator(".account-name").inner_text() == PERSON["name"]
    identity = session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == "google")).one()
    assert (identity.subject, identity.email) == (PERSON["sub"], PERSON["email"])
