"""Browser fixtures for journeys in Debian's Chromium driven by Playwright (never `playwright install`).

- `live_server`: the app, with the demo data, served by uvicorn on a free loopback port in a background thread,
  on this test's clean database; its local OpenID provider is reached over real HTTP.
- `browser` (one per session) and `page` (a phone: 390×844, touch, es-MX).
- `sign_in_as(page, role)`: signs in through the local provider's page as the demo person with that role and
  returns once the browser is on that role's home page.

Without /usr/bin/chromium these tests skip, unless REGISTRO_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from auth.demo_people import DEMO_PEOPLE
from auth.roles import Role
from core.db import session_scope
from core.settings import Settings
from registry.demo import load_demo_data
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
STARTUP_SECONDS = 20


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Starlette

    def path(self, path: str) -> str:
        return self.url + path


def _serve(app: Starlette, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def live_socket() -> Iterator[socket.socket]:
    """The live server's listening socket, bound before the app is made: a provider on another origin can be
    told the app's redirect URIs before the app is told the provider's address (tests/browser/oidc_provider.py)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def live_server(settings: Settings, live_socket: socket.socket) -> Iterator[LiveServer]:
    sock = live_socket
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"base_url": url}))
    with session_scope(app.state.engine) as session:
        load_demo_data(session=session)
    server, thread = _serve(app, sock)
    try:
        yield LiveServer(url=url, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("REGISTRO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and REGISTRO_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def phone_page(browser: Any, **options: Any) -> Iterator[Any]:
    """One person's browser (its own cookies): a phone, in Spanish; `options` go to new_context as they are."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX", **options)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with phone_page(browser) as phone:
        yield phone


SignInAs = Callable[[Any, Role], None]


@pytest.fixture
def sign_in_as(live_server: LiveServer) -> SignInAs:
    def _sign_in_as(page: Any, role: Role) -> None:
        person = next(person for person in DEMO_PEOPLE if person.role is role)
        page.goto(live_server.path("/entrar"))
        page.get_by_role("button", name="Entrar con Proveedor local de pruebas").click()
        page.get_by_role("button", name=re.compile(re.escape(person.name))).click()
        page.wait_for_url(re.compile(r"^(?!.*(/entrar|/dev-oidc)).*$"))

    return _sign_in_as
