"""The CSP's form-action lists the origins the configured sign-in providers send the browser to (Chromium
applies form-action to the redirect after POST /entrar/{provider}), and nothing else of the policy changes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from auth.oauth import ProviderSpec, origin_of
from core.settings import Environment, Settings
from tests.auth.login_flow import failure_reason, start
from tests.factories.keys import PRODUCTION_KEYS
from web.app import create_app
from web.middleware import CONTENT_SECURITY_POLICY, content_security_policy

CREDENTIALS = {"google_client_id": "google-id", "google_client_secret": "google-secret",
               "facebook_client_id": "fb-id", "facebook_client_secret": "fb-secret"}


def _directives(policy: str) -> dict[str, str]:
    return {name: value for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))}


def _client(settings: Settings, authorization_endpoint: str) -> Iterator[TestClient]:
    async def discovery(request: Request) -> Response:
        return JSONResponse({"issuer": "https://accounts.google.com", "authorization_endpoint": authorization_endpoint,
                             "token_endpoint": "https://oauth2.googleapis.com/token",
                             "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs"})

    stand_in = Starlette(routes=[Route("/.well-known/openid-configuration", discovery)])
    app = create_app(settings.model_copy(update=CREDENTIALS), oauth_transport=httpx2.ASGITransport(app=stand_in))
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def social_client(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, "https://accounts.google.com/o/oauth2/v2/auth")


def test_form_action_lists_the_configured_providers_and_nothing_else_changes(social_client: TestClient) -> None:
    policy = _directives(social_client.get("/entrar").headers["content-security-policy"])
    strict = _directives(CONTENT_SECURITY_POLICY)
    assert strict["form-action"] == "'self'"
    assert policy["form-action"].split() == ["'self'", "https://accounts.google.com", "https://m.facebook.com",
                                             "https://testserver", "https://www.facebook.com"]
    assert {name: value for name, value in policy.items() if name != "form-action"} == \
        {name: value for name, value in strict.items() if name != "form-action"}
    # every page carries the same policy: the sign-in buttons also sit on other pages' headers
    assert social_client.get("/").headers["content-security-policy"] == \
        social_client.get("/entrar").headers["content-security-policy"]


def test_without_provider_credentials_no_outside_origin_is_allowed(client: TestClient) -> None:
    form_action = _directives(client.get("/entrar").headers["content-security-policy"])["form-action"]
    assert form_action.split() == ["'self'", "https://testserver"]  # the local provider lives on this site


def test_an_authorization_endpoint_outside_the_configured_origin_is_refused(settings: Settings) -> None:
    """A discovery document sending people elsewhere (the CSP would block them silently) fails the sign-in
    with an explanation instead."""
    for client in _client(settings, "https://accounts.example.net/auth"):
        answer = start(client, "google")
        assert failure_reason(answer) == "proveedor"


@pytest.mark.parametrize("url", ["https://evil.example; script-src *", "https://a.example,https://b.example",
                                 "javascript:alert(1)", "https://user@host.example/", "https://h.example'/x"])
def test_nothing_that_could_bend_the_policy_becomes_a_source(url: str) -> None:
    assert origin_of(url) == ""
    spec = ProviderSpec(name="x", label="X", openid=False, registration={"authorize_url": url})
    assert spec.authorization_origin == ""


def test_origins_are_scheme_host_and_port() -> None:
    assert origin_of("https://Accounts.Google.com/.well-known/openid-configuration") == "https://accounts.google.com"
    assert origin_of("http://127.0.0.2:8123/o/auth?x=1") == "http://127.0.0.2:8123"
    assert content_security_policy(["https://b.example", "https://a.example", "https://b.example"]).count(
        "form-action 'self' https://a.example https://b.example;") == 1


def test_production_refuses_google_discovery_over_plain_http() -> None:
    with pytest.raises(ValidationError, match="REGISTRO_GOOGLE_DISCOVERY_URL"):
        Settings(env=Environment.PRODUCTION, secret_key="vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5",
                 database_url="postgresql://db/registro", google_discovery_url="http://accounts.example/.well-known",
                 **PRODUCTION_KEYS)  # type: ignore[arg-type]
