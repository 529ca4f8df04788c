"""CSRF: every state-changing request needs the token of its session (or, signed out, of the double-submit
cookie) and must not come from another site."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from auth.roles import Role
from auth.sessions import SESSION_COOKIE
from tests.auth.login_flow import csrf_from, sign_in_through_provider
from web.security import ANONYMOUS_CSRF_COOKIE, CSRF_HEADER


@pytest.fixture
def signed_in(client: TestClient, sign_in_with_role: object) -> str:
    """A signed-in client that sends no CSRF token by itself; returns the session's token."""
    signed = sign_in_with_role(client, Role.CITIZEN)  # type: ignore[operator]
    client.headers.pop(CSRF_HEADER)
    return str(signed.csrf_token)


def _still_signed_in(client: TestClient) -> bool:
    return client.get("/ciudadano", follow_redirects=False).status_code == 200


def test_a_post_without_a_token_is_refused(client: TestClient, signed_in: str) -> None:
    answer = client.post("/salir")
    assert answer.status_code == 403 and "La página caducó" in answer.text
    assert _still_signed_in(client)


def test_a_post_with_a_wrong_token_is_refused(client: TestClient, signed_in: str) -> None:
    assert client.post("/salir", data={"csrf_token": "x" * 43}).status_code == 403
    assert client.post("/salir", headers={CSRF_HEADER: "x" * 43}).status_code == 403
    assert _still_signed_in(client)


def test_a_cross_site_post_is_refused_even_with_the_token(client: TestClient, signed_in: str) -> None:
    answer = client.post("/salir", data={"csrf_token": signed_in}, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    answer = client.post("/salir", data={"csrf_token": signed_in}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert _still_signed_in(client)


@pytest.mark.parametrize("headers", [{}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": "https://testserver"}])
def test_a_same_site_post_with_the_token_is_accepted(client: TestClient, signed_in: str,
                                                     headers: dict[str, str]) -> None:
    answer = client.post("/salir", data={"csrf_token": signed_in}, headers=headers, follow_redirects=False)
    assert answer.status_code == 303
    assert not _still_signed_in(client)


def test_signed_out_forms_use_a_double_submit_cookie(client: TestClient) -> None:
    page = client.get("/entrar")
    cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(ANONYMOUS_CSRF_COOKIE + "="))
    assert {"httponly", "secure", "samesite=lax"} <= {part.strip().lower() for part in cookie.split(";")[1:]}
    assert csrf_from(page.text) == client.cookies[ANONYMOUS_CSRF_COOKIE]
    assert client.post("/entrar/local", data={"csrf_token": "otro"}).status_code == 403
    answer = client.post("/entrar/local", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert answer.status_code == 303


def test_signing_in_replaces_the_signed_out_token(client: TestClient) -> None:
    anonymous = csrf_from(client.get("/entrar").text)
    sign_in_through_provider(client, "demo-ciudadana")
    assert SESSION_COOKIE in client.cookies
    assert client.post("/salir", data={"csrf_token": anonymous}).status_code == 403
    assert csrf_from(client.get("/ciudadano").text) != anonymous
