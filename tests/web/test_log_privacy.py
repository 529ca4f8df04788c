"""Logs never carry tokens, folios or personal data: uvicorn's access log (a real uvicorn, records captured), the
log of an unhandled error, and SQL errors. And a 500 page keeps the security headers."""

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from core.db import make_engine, session_scope
from web.log_privacy import PLACEHOLDER, scrub_target

SECRET_NAME = "María Secreta Núñez"


@pytest.mark.parametrize(("target", "expected"), [
    ("/campo/invitacion/12-Zx9secret", f"/campo/invitacion/{PLACEHOLDER}"),
    ("/campo/invitacion/12-Zx9secret/", f"/campo/invitacion/{PLACEHOLDER}/"),
    ("/ciudadano/apoyos/RC-ABCDEFGH23?lang=en", f"/ciudadano/apoyos/{PLACEHOLDER}?lang=en"),
    ("/ciudadano/apoyo/firma?flujo=eyJzecret.x", f"/ciudadano/apoyo/firma?flujo={PLACEHOLDER}"),
    ("/entrar?siguiente=%2Fcampo%2Finvitacion%2F12-Zx9", f"/entrar?siguiente={PLACEHOLDER}"),
    ("/entrar/google/retorno?code=abc&state=def", f"/entrar/google/retorno?code={PLACEHOLDER}&state={PLACEHOLDER}"),
    ("/aspirante/auxiliares/7/suspender", "/aspirante/auxiliares/7/suspender"),  # row numbers are not secrets
    ("/aspirante?hecho=registrado", "/aspirante?hecho=registrado"),
])
def test_tokens_in_paths_and_queries_are_replaced(target: str, expected: str) -> None:
    assert scrub_target(target) == expected


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


async def _explode(request: Request) -> Response:
    raise RuntimeError(f"could not store {SECRET_NAME}")


@pytest.fixture
def exploding_app(app: Starlette) -> Starlette:
    app.add_route("/prueba/fallo", _explode)
    app.add_route("/api/prueba/fallo", _explode)
    return app


@pytest.fixture
def live(exploding_app: Starlette) -> Iterator[tuple[str, _Records]]:
    """The app served by a real uvicorn with its access log on, every record of its loggers captured."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(exploding_app, log_level="info", lifespan="on", access_log=True)
    server = uvicorn.Server(config)  # the Config has configured uvicorn's loggers by now: capture after it
    captured = _Records()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(captured)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", captured
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        for logger in loggers:
            logger.removeHandler(captured)


def test_the_access_log_holds_no_invitation_token_folio_or_step_token(live: tuple[str, _Records]) -> None:
    url, captured = live
    with httpx.Client(base_url=url) as http:
        http.get("/campo/invitacion/41-SECRETinvitation?lang=en")
        http.get("/ciudadano/apoyos/RC-SECRETFOLIO")
        http.get("/ciudadano/apoyo/firma?flujo=SECRETstep")
    access = [record for record in captured.records if record.name == "uvicorn.access"]
    assert len(access) == 3
    logged = captured.text()
    assert "SECRET" not in logged
    assert f"/campo/invitacion/{PLACEHOLDER}?lang=en" in logged and f"flujo={PLACEHOLDER}" in logged


def test_an_unhandled_error_logs_where_and_what_kind_never_the_message(live: tuple[str, _Records]) -> None:
    url, captured = live
    with httpx.Client(base_url=url) as http:
        page = http.get("/prueba/fallo?nombre=Secreto")
    assert page.status_code == 500 and "Algo salió mal" in page.text
    logged = captured.text()
    assert SECRET_NAME not in logged and "Secreto" not in logged  # nor did uvicorn log the traceback itself
    assert "unhandled RuntimeError on GET /prueba/fallo\n" in logged  # the path only, with the stack below


@pytest.mark.parametrize("path", ["/prueba/fallo", "/api/prueba/fallo"])
def test_a_500_keeps_the_security_headers(exploding_app: Starlette, client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 500
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")
    assert "Traceback" not in response.text and SECRET_NAME not in response.text


def test_a_500_page_is_in_the_persons_language(exploding_app: Starlette, client: TestClient) -> None:
    response = client.get("/prueba/fallo", headers={"Accept-Language": "en"})
    assert response.status_code == 500 and "Algo salió mal" not in response.text


def _duplicate(connection: Any) -> None:
    connection.execute(text("CREATE TEMPORARY TABLE persona (id INTEGER PRIMARY KEY, nombre TEXT)"))
    for _ in range(2):
        connection.execute(text("INSERT INTO persona (id, nombre) VALUES (1, :nombre)"), {"nombre": SECRET_NAME})


def test_sql_errors_do_not_quote_the_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection, pytest.raises(IntegrityError) as failed:
            _duplicate(connection)
    finally:
        engine.dispose()
    assert SECRET_NAME not in str(failed.value) and "hidden" in str(failed.value)


def test_a_failing_query_in_a_request_logs_no_name(exploding_app: Starlette, client: TestClient,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    async def failing_query(request: Request) -> Response:
        with session_scope(request.app.state.engine) as session:
            _duplicate(session.connection())
        return Response("never")

    exploding_app.add_route("/prueba/sql", failing_query)
    with caplog.at_level(logging.DEBUG):
        assert client.get("/prueba/sql").status_code == 500
    assert "IntegrityError" in caplog.text and SECRET_NAME not in caplog.text
