"""An OPL's identity provider for in-process tests: a second, independent instance of the local OpenID provider
(its own issuer, key and client) served at https://sso.test, configured in the app through `oidc_providers`
exactly as a deployment would. The app's back-channel calls (discovery, JWKS, token) reach it through the OAuth
transport; the browser's visit to its authorization endpoint is a request of its own test client. A second
factor is asserted by setting `amr` (or `acr`) in its id_token overrides, as a real provider would after OTP.

The real, independent provider (npm oidc-provider on another origin) is exercised by the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.oauth2 import OAuth2Error
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from auth.local_provider import LocalProvider, read_oauth2_request
from auth.local_provider.grants import person_by_subject
from core.oidc_providers import OidcProviderConfig
from core.settings import Settings
from tests.auth.login_flow import start
from web.app import create_app

NAME = "iepc"
ORIGIN = "https://sso.test"
ISSUER = f"{ORIGIN}/realms/iepc"
STAFF_ROLES = ("reviewer", "opl_admin")


def provider_config(*, roles: tuple[str, ...] = STAFF_ROLES, client_id: str = "registro",
                    client_secret: str = "not-used-here") -> OidcProviderConfig:
    return OidcProviderConfig.model_validate({
        "name": NAME, "display_name": "IEPC Institucional",
        "discovery_url": f"{ISSUER}/.well-known/openid-configuration", "client_id": client_id,
        "client_secret": client_secret, "roles": list(roles), "acr_values": ["urn:iepc:mfa"],
        "amr_values": ["otp", "mfa"]})


class Institution:
    def __init__(self, redirect_uri: str) -> None:
        self.provider = LocalProvider(issuer=ISSUER, redirect_uri=redirect_uri)
        # Test hooks for key rotation: how often the app fetched the JWKS, and a key set to publish instead of
        # the signing key's (a token signed by a key the provider never published).
        self.jwks_requests = 0
        self.published_jwks: dict[str, Any] | None = None

    def config(self, *, roles: tuple[str, ...] = STAFF_ROLES) -> OidcProviderConfig:
        client = self.provider.client
        return provider_config(roles=roles, client_id=client.client_id, client_secret=client.client_secret)

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(self.provider.metadata())

    async def jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        return JSONResponse(self.published_jwks or self.provider.jwks())

    def sign_with(self, key: RSAKey) -> None:
        """From now on the provider signs id_tokens with `key` (and, unless `published_jwks` says otherwise,
        publishes only it): a key rotation."""
        self.provider.signing_key = key

    async def token(self, request: Request) -> Response:
        return await self.provider.token_response(request)

    async def authorize(self, request: Request) -> Response:
        """No picker: the test names the person in `persona` (the real provider's login page is C's harness)."""
        oauth_request = await read_oauth2_request(request)
        try:
            grant = self.provider.consent_grant(oauth_request)
        except OAuth2Error as error:
            return JSONResponse({"error": error.error}, status_code=400)
        return self.provider.authorize(oauth_request, grant, person_by_subject(request.query_params["persona"]))

    def app(self) -> Starlette:
        path = urlsplit(ISSUER).path
        return Starlette(routes=[
            Route(f"{path}/.well-known/openid-configuration", self.discovery),
            Route(f"{path}/jwks", self.jwks),
            Route(f"{path}/token", self.token, methods=["POST"]),
            Route(f"{path}/autorizar", self.authorize),
        ])


class ByHost:
    """The OAuth transport's target: requests for sso.test go to the institution, the others to the app (its
    own local provider)."""

    def __init__(self, institution: Starlette) -> None:
        self.institution = institution
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope.get("headers", [])).get(b"host", b"").decode()
        target = self.institution if host == urlsplit(ORIGIN).netloc else self.app
        await target(scope, receive, send)


@contextmanager
def app_with_institution(settings: Settings, **changes: Any) -> Iterator[tuple[TestClient, Institution]]:
    """The app with the institution configured as provider `iepc` (`changes`: roles...), and its client."""
    institution = Institution(redirect_uri=f"{settings.public_origin}/entrar/{NAME}/retorno")
    configured = settings.model_copy(update={"oidc_providers": [institution.config(**changes)]})
    router = ByHost(institution.app())
    app = create_app(configured, oauth_transport=httpx2.ASGITransport(app=router, raise_app_exceptions=False))
    router.app = app
    with TestClient(app, base_url=settings.public_origin, raise_server_exceptions=False) as client:
        yield client, institution


def sign_in_at(client: TestClient, institution: Institution, subject: str, *, amr: list[str] | None = None,
               siguiente: str | None = None) -> httpx2.Response:
    """The whole login through the institution as demo person `subject` (amr: the methods it asserts); returns
    the app's answer to the callback."""
    institution.provider.id_token_overrides.clear()
    if amr is not None:
        institution.provider.id_token_overrides["amr"] = amr
    redirect = start(client, NAME, siguiente=siguiente)
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(f"{ISSUER}/autorizar?")
    with TestClient(institution.app(), base_url=ORIGIN) as browser_at_idp:
        back = browser_at_idp.get(f"{location}&persona={subject}", follow_redirects=False)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
