"""RP-initiated logout (issue 16, item 4): our session ends first, then the browser goes to the end_session_endpoint
of the provider that session was started through, with client_id, post_logout_redirect_uri and a random state
(never an id_token), when that provider publishes one on its own origin; otherwise the sign-out stays here.

The providers are configured through `oidc_providers` as a deployment would; their discovery documents are
served by a stand-in reached over the OAuth transport (HTTP semantics, in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from auth.models import UserSession
from auth.sessions import SESSION_COOKIE, hash_token, start_session
from core.audit import AuditEvent
from core.db import session_scope
from core.oidc_providers import OidcProviderConfig
from core.settings import Settings
from tests.factories.accounts import make_account
from web.app import create_app
from web.security import CSRF_HEADER

# name -> end_session_endpoint its discovery document publishes (None: none; "down": the document answers 503)
PROVIDERS: dict[str, str | None] = {
    "uno": "https://idp-uno.example/protocol/logout?ui_locales=es",
    "dos": "https://idp-dos.example/oidc/salir",
    "tres": None,
    "cuatro": "https://elsewhere.example/logout",  # not its own origin: the CSP would not let the browser go
    "cinco": "down",
}


async def _discovery(request: Request) -> Response:
    name = request.path_params["name"]
    end_session = PROVIDERS[name]
    if end_session == "down":
        return JSONResponse({"error": "unavailable"}, status_code=503)
    origin = f"https://idp-{name}.example"
    document = {"issuer": origin, "authorization_endpoint": f"{origin}/auth", "token_endpoint": f"{origin}/token",
                "jwks_uri": f"{origin}/jwks", **({"end_session_endpoint": end_session} if end_session else {})}
    return JSONResponse(document)


STAND_IN = Starlette(routes=[Route("/{name}/.well-known/openid-configuration", _discovery)])


def _config(name: str) -> OidcProviderConfig:
    return OidcProviderConfig.model_validate({
        "name": name, "display_name": f"Proveedor {name}",
        "discovery_url": f"https://idp-{name}.example/{name}/.well-known/openid-configuration",
        "client_id": f"registro-{name}", "client_secret": "not-used-here", "roles": []})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"oidc_providers": [_config(name) for name in PROVIDERS]})
    app = create_app(configured, oauth_transport=httpx2.ASGITransport(app=STAND_IN, raise_app_exceptions=False))
    with TestClient(app, base_url=settings.public_origin, raise_server_exceptions=False) as test_client:
        yield test_client


def _signed_in_through(client: TestClient, engine: Engine, provider: str) -> str:
    """A session started through `provider`, its cookie and CSRF token on the client; returns its token."""
    with session_scope(engine) as db:
        account = make_account(db, email="persona@correo.mx")
        assert account.id is not None
        token = start_session(session=db, account_id=account.id, now=client.app.state.clock(),  # type: ignore[attr-defined]
                              provider=provider)
        csrf = db.get(UserSession, hash_token(token))
        assert csrf is not None
        client.headers[CSRF_HEADER] = csrf.csrf_token
    client.cookies.set(SESSION_COOKIE, token)
    return token


def _ended(session: Session, token: str) -> bool:
    row = session.get(UserSession, hash_token(token))
    return row is not None and row.revoked_at is not None


def test_logout_goes_on_to_the_providers_end_session_endpoint(client: TestClient, engine: Engine,
                                                              session: Session, settings: Settings) -> None:
    token = _signed_in_through(client, engine, "uno")
    answer = client.post("/salir", follow_redirects=False)
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "idp-uno.example", "/protocol/logout")
    params = parse_qs(target.query)
    assert params["client_id"] == ["registro-uno"] and params["ui_locales"] == ["es"]
    assert params["post_logout_redirect_uri"] == [f"{settings.public_origin}/salida/vuelta"]
    assert len(params["state"][0]) >= 16 and "id_token_hint" not in params
    assert _ended(session, token)  # ours first, whatever the provider does next
    assert 'registro_sesion=""' in answer.headers["set-cookie"]
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "logout")).one()
    assert audit.after_summary == "provider=uno"


def test_each_logout_gets_a_state_of_its_own(client: TestClient, engine: Engine) -> None:
    states = []
    for _ in range(2):
        _signed_in_through(client, engine, "uno")
        location = client.post("/salir", follow_redirects=False).headers["location"]
        states.append(parse_qs(urlsplit(location).query)["state"][0])
    assert states[0] != states[1]


def test_logout_of_one_provider_never_sends_anyone_to_another(client: TestClient, engine: Engine) -> None:
    _signed_in_through(client, engine, "uno")
    client.post("/salir", follow_redirects=False)  # uno's metadata is now loaded as well
    _signed_in_through(client, engine, "dos")
    target = urlsplit(client.post("/salir", follow_redirects=False).headers["location"])
    assert (target.netloc, target.path) == ("idp-dos.example", "/oidc/salir")
    assert parse_qs(target.query)["client_id"] == ["registro-dos"]


@pytest.mark.parametrize("provider", ["tres", "cuatro", "cinco", "", "local"])
def test_logout_stays_here_without_an_usable_end_session_endpoint(client: TestClient, engine: Engine,
                                                                   session: Session, provider: str) -> None:
    """No endpoint published, one on another origin, a provider that is down, a session from before providers
    were recorded, the local provider: signed out here, and home."""
    token = _signed_in_through(client, engine, provider)
    answer = client.post("/salir", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    assert _ended(session, token)


def test_logout_without_a_session_goes_home(client: TestClient) -> None:
    page = client.get("/")
    csrf = page.cookies.get("registro_csrf") or client.cookies.get("registro_csrf")
    answer = client.post("/salir", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")


def test_the_sign_out_form_may_lead_to_the_providers(client: TestClient, engine: Engine) -> None:
    """The sign-out form's redirect is governed by the CSP's form-action, like the sign-in forms'."""
    _signed_in_through(client, engine, "uno")
    policy = client.get("/cuenta/accesos").headers["content-security-policy"]
    form_action = next(part for part in policy.split(";") if part.strip().startswith("form-action"))
    assert "https://idp-uno.example" in form_action.split() and "https://idp-dos.example" in form_action.split()


def test_the_page_the_provider_returns_to(client: TestClient) -> None:
    page = client.get("/salida/vuelta?state=cualquiera")
    assert page.status_code == 200 and "Cerraste tu sesión" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_return_page_sends_someone_signed_in_home(client: TestClient, engine: Engine) -> None:
    _signed_in_through(client, engine, "uno")
    answer = client.get("/salida/vuelta", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
