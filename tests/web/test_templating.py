"""The Jinja environment in production (no file checks, every template compiled once, before serving) and pages
rendered off the event loop, while refusals and error pages render where they are made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from auth.roles import Role
from core.settings import Environment, Settings
from tests.conftest import TEST_ORIGIN, SignInWithRole
from web.app import create_app
from web.security import public
from web.state import services
from web.templating import build_templates, compile_all


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _record_where_pages_render(app: Starlette) -> list[bool]:
    """Every page calls html_lang() once in base.html: note whether that happens on the event loop's thread."""
    seen: list[bool] = []
    env = app.state.templates.env
    original: Callable[[], str] = env.globals["html_lang"]  # type: ignore[assignment]

    def html_lang() -> str:
        seen.append(_on_event_loop())
        return original()

    env.globals["html_lang"] = html_lang
    return seen


def test_production_templates_skip_file_checks_and_compile_each_template_once() -> None:
    templates = build_templates(production=True)
    env = templates.env
    assert env.auto_reload is False  # no stat() of every template and its parents on each page
    compiled: list[str] = []
    compile_source = env.compile

    def counting_compile(source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        compiled.append(name or "")
        return compile_source(source, name, *args, **kwargs)

    env.compile = counting_compile  # type: ignore[method-assign]
    names = env.list_templates()
    assert compile_all(templates) == len(names) > 50
    assert sorted(compiled) == sorted(names)
    for name in names:  # pages asking for them later (and for their partials and parents) compile nothing
        assert env.get_template(name) is env.get_template(name)
    assert len(compiled) == len(names)


def test_outside_production_templates_are_read_again_when_edited() -> None:
    assert build_templates().env.auto_reload is True  # a developer's edit shows on the next request


def test_a_production_app_compiles_every_template_before_it_serves(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    app = create_app(production)
    env = app.state.templates.env
    assert env.auto_reload is False and len(env.cache) == 0
    with TestClient(app, base_url=TEST_ORIGIN):  # the lifespan: before the first request
        assert len(env.cache) == len(env.list_templates())


def test_pages_render_in_a_worker_thread_and_say_their_length(app: Starlette, client: TestClient,
                                                              sign_in_with_role: SignInWithRole) -> None:
    seen = _record_where_pages_render(app)
    sign_in_with_role(client, Role.CITIZEN)
    page = client.get("/ciudadano")
    assert page.status_code == 200 and '<html lang="es-MX"' in page.text
    assert seen == [False]  # rendered off the loop: /healthz and every other request go on meanwhile
    assert int(page.headers["content-length"]) == len(page.content)
    english = client.get("/ciudadano?lang=en")  # the request's locale reaches the worker thread
    assert '<html lang="en"' in english.text and seen == [False, False]


def test_error_pages_render_where_they_are_made(app: Starlette, client: TestClient) -> None:
    """A refusal or an error page must not wait for a free worker thread, and the server-error middleware's
    plain-text fallback needs the render to fail where it can catch it."""
    seen = _record_where_pages_render(app)
    assert client.get("/no-existe").status_code == 404
    assert seen == [True]


async def _page_that_breaks(request: Request) -> Response:
    return services(request).templates.TemplateResponse(request, "citizen/home.html", {})


def test_a_page_that_fails_while_rendering_off_the_loop_gets_the_error_page(app: Starlette,
                                                                             client: TestClient) -> None:
    app.router.routes.append(Route("/prueba-rota", public(_page_that_breaks)))
    env = app.state.templates.env
    original = env.globals["html_lang"]
    calls: list[int] = []

    def breaks_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Juana Pérez GOPJ800101")  # personal data in a message: never shown or logged
        return original()  # type: ignore[no-any-return, operator]

    env.globals["html_lang"] = breaks_once
    answer = client.get("/prueba-rota")
    assert answer.status_code == 500
    assert "Juana" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["content-security-policy"]  # the 500 page keeps the security headers
