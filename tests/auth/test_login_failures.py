"""Everything that can go wrong in a login sends the person back to /entrar with a clear reason, never a 500,
and never signs anyone in: tampered, expired or replayed state; replayed codes; id_tokens with the wrong nonce,
audience or issuer; a provider that is down."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from itsdangerous import TimestampSigner
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from auth.oauth import LOGIN_STATE_COOKIE, LOGIN_STATE_MAX_AGE
from auth.sessions import SESSION_COOKIE
from core.audit import AuditEvent
from core.settings import Settings
from tests.auth.login_flow import callback_for, failure_reason, sign_in_through_provider, start
from web.app import create_app


def _expect_failure(client: TestClient, url: str, reason: str) -> None:
    answer = client.get(url, follow_redirects=False)
    assert failure_reason(answer) == reason, answer.headers.get("location")
    assert SESSION_COOKIE not in client.cookies
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and 'class="message message-error"' in page.text


def test_tampered_state_is_refused(client: TestClient) -> None:
    callback = callback_for(client, "demo-ciudadana")
    _expect_failure(client, callback.with_params(state="estado-inventado"), "caducado")


def test_a_callback_without_state_is_refused(client: TestClient) -> None:
    callback = callback_for(client, "demo-ciudadana")
    _expect_failure(client, f"/entrar/local/retorno?code={callback.params['code']}", "caducado")


def test_a_callback_in_another_browser_is_refused(client: TestClient, app: Starlette) -> None:
    callback = callback_for(client, "demo-ciudadana")
    with TestClient(app, base_url="https://testserver") as other_browser:
        _expect_failure(other_browser, callback.url, "caducado")


def test_expired_login_state_is_refused(client: TestClient, settings: Settings) -> None:
    callback = callback_for(client, "demo-ciudadana")
    _age_login_state(client, settings, seconds=LOGIN_STATE_MAX_AGE + 60)
    _expect_failure(client, callback.url, "caducado")


def _age_login_state(client: TestClient, settings: Settings, *, seconds: int) -> None:
    """Re-sign the login-state cookie as if it had been issued `seconds` ago."""

    class _Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    payload = client.cookies[LOGIN_STATE_COOKIE].rsplit(".", 2)[0]
    aged = _Earlier(settings.secret_key).sign(payload.encode()).decode()
    client.cookies.delete(LOGIN_STATE_COOKIE)
    client.cookies.set(LOGIN_STATE_COOKIE, aged, path="/entrar")


def test_a_replayed_callback_is_refused(client: TestClient) -> None:
    callback = callback_for(client, "demo-ciudadana")
    assert client.get(callback.url, follow_redirects=False).headers["location"] == "/ciudadano"
    client.cookies.delete(SESSION_COOKIE)
    _expect_failure(client, callback.url, "caducado")


def test_a_replayed_code_is_refused_by_the_provider(client: TestClient) -> None:
    used = callback_for(client, "demo-ciudadana")
    client.get(used.url)
    client.cookies.delete(SESSION_COOKIE)
    fresh = callback_for(client, "demo-ciudadana")  # a new attempt, answered with the old code
    _expect_failure(client, fresh.with_params(code=used.params["code"]), "proveedor")


@pytest.mark.parametrize("overrides", [
    pytest.param({"nonce": None}, id="missing-nonce"),
    pytest.param({"nonce": "otro-nonce"}, id="wrong-nonce"),
    pytest.param({"aud": ["otro-cliente"]}, id="wrong-audience"),
    pytest.param({"aud": ["otro-cliente"], "azp": "registro-local"}, id="wrong-audience-with-azp"),
    pytest.param({"iss": "https://impostor.example/dev-oidc"}, id="wrong-issuer"),
    pytest.param({"exp": 1_000_000}, id="expired"),
    pytest.param({"sub": None}, id="missing-subject"),
])
def test_an_id_token_that_does_not_verify_signs_nobody_in(client: TestClient, app: Starlette, session: Session,
                                                          overrides: dict[str, Any]) -> None:
    app.state.local_provider.id_token_overrides.update(overrides)
    answer = sign_in_through_provider(client, "demo-ciudadana")
    assert failure_reason(answer) == "no_verificado"
    assert SESSION_COOKIE not in client.cookies
    assert "No pudimos comprobar la respuesta" in client.get(answer.headers["location"]).text
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "login_failed")).one()
    assert audit.after_summary.startswith("reason=no_verificado")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def unreachable_provider_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The app believes it lives at a loopback port where nothing listens: its own provider is down."""
    down = settings.model_copy(update={"base_url": f"http://127.0.0.1:{_closed_port()}"})
    with TestClient(create_app(down), base_url="https://testserver") as test_client:
        yield test_client


def test_a_provider_that_cannot_be_reached_gets_a_friendly_message(unreachable_provider_client: TestClient) -> None:
    answer = start(unreachable_provider_client)
    assert failure_reason(answer) == "sin_conexion"
    page = unreachable_provider_client.get(answer.headers["location"])
    assert "No pudimos comunicarnos con Proveedor local de pruebas" in page.text


TokenRewrite = Callable[[httpx2.Response], Response]


def _client_through_proxy(settings: Settings, rewrite: TokenRewrite, endpoint: str = "/token") -> TestClient:
    """The app, with one endpoint of its provider answering through `rewrite` (a provider in trouble)."""
    app: Starlette | None = None

    async def proxy(request: Request) -> Response:
        assert app is not None
        upstream = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="https://testserver")
        async with upstream:
            answer = await upstream.request(request.method, str(request.url), headers=request.headers.raw,
                                            content=await request.body())
        if request.url.path.endswith(endpoint):
            return rewrite(answer)
        return Response(answer.content, status_code=answer.status_code, headers=dict(answer.headers))

    proxy_app = Starlette(routes=[], exception_handlers={})
    proxy_app.add_route("/{path:path}", proxy, methods=["GET", "POST"])
    app = create_app(settings, oauth_transport=httpx2.ASGITransport(app=proxy_app))
    return TestClient(app, base_url="https://testserver")


@pytest.mark.parametrize(("rewrite", "reason"), [
    pytest.param(lambda answer: Response("<h1>Bad gateway</h1>", status_code=502), "sin_conexion", id="5xx"),
    pytest.param(lambda answer: Response("not json", status_code=200), "proveedor", id="not-json"),
    pytest.param(lambda answer: JSONResponse({k: v for k, v in json.loads(answer.content).items()
                                              if k != "id_token"}), "no_verificado", id="no-id-token"),
])
def test_a_misbehaving_token_endpoint_gets_a_friendly_message(settings: Settings, rewrite: TokenRewrite,
                                                              reason: str) -> None:
    with _client_through_proxy(settings, rewrite) as client:
        answer = sign_in_through_provider(client, "demo-ciudadana")
        assert failure_reason(answer) == reason
        assert client.get(answer.headers["location"]).status_code == 200


def test_a_provider_whose_discovery_fails_gets_a_friendly_message(settings: Settings) -> None:
    unavailable = _client_through_proxy(settings, lambda answer: Response("Service Unavailable", status_code=503),
                                        endpoint="/openid-configuration")
    with unavailable as client:
        answer = start(client)
        assert failure_reason(answer) == "sin_conexion"
        assert client.get(answer.headers["location"]).status_code == 200
