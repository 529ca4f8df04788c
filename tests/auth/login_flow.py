"""Driving a real login through the local OpenID provider with the test client, one step at a time, so tests
can tamper with any step (state, code, cookies) in between."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
from starlette.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="(/dev-oidc/autorizar[^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def start(client: TestClient, provider: str = "local", siguiente: str | None = None) -> httpx2.Response:
    """Open the sign-in page and press the provider's button; returns the redirect to the provider."""
    page = client.get("/entrar")
    data = {"csrf_token": csrf_from(page.text), **({"siguiente": siguiente} if siguiente else {})}
    return client.post(f"/entrar/{provider}", data=data, follow_redirects=False)


def choose(client: TestClient, authorize_url: str, subject: str | None) -> httpx2.Response:
    """On the local provider's page, pick a demo person (None: press Cancel); returns its redirect."""
    page = client.get(authorize_url)
    assert page.status_code == 200, page.text
    action = _FORM_ACTION.search(page.text)
    assert action
    choice = {"persona": subject} if subject else {"cancelar": "1"}
    return client.post(unescape(action.group(1)), data={"csrf_token": csrf_from(page.text), **choice},
                       follow_redirects=False)


@dataclass(frozen=True)
class Callback:
    url: str

    @property
    def params(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.url).query).items()}

    def with_params(self, **changes: str) -> str:
        return f"{urlsplit(self.url).path}?{urlencode({**self.params, **changes})}"


def callback_for(client: TestClient, subject: str | None, siguiente: str | None = None) -> Callback:
    """Start a login and choose a person; returns the callback URL the provider sent the browser to."""
    redirect = start(client, siguiente=siguiente)
    assert redirect.status_code == 303, redirect.text
    back = choose(client, redirect.headers["location"], subject)
    assert back.status_code == 302, back.text
    return Callback(back.headers["location"])


def sign_in_through_provider(client: TestClient, subject: str, siguiente: str | None = None) -> httpx2.Response:
    """The whole login; returns the app's answer to the callback (a redirect on success)."""
    return client.get(callback_for(client, subject, siguiente).url, follow_redirects=False)


def failure_reason(response: httpx2.Response) -> str | None:
    """The reason a failed login was sent back to the sign-in page with (None if it was not)."""
    location = response.headers.get("location", "")
    if response.status_code != 303 or not location.startswith("/entrar?"):
        return None
    return parse_qs(urlsplit(location).query)["error"][0]
