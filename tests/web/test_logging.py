"""Log lines: one JSON object per line with the request id (the one echoed in X-Request-ID), an access line per
request with the route template, and nothing personal: not from a form, a query, a path, nor a request id a
client made up."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from core.settings import Environment, LogFormat, Settings
from tests.conftest import TEST_ORIGIN
from web.app import create_app
from web.security import ANONYMOUS_CSRF_COOKIE, CSRF_HEADER

CLAVE = "PRMRJN85031209H400"
EMAIL = "maria.secreta@example.com"
CIC = "123456789"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def _json_app(settings: Settings, **changes: Any) -> Starlette:
    return create_app(settings.model_copy(update={"log_format": LogFormat.JSON, **changes}))


@pytest.fixture
def json_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(_json_app(settings), base_url=TEST_ORIGIN, raise_server_exceptions=False) as client:
        yield client


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line the app wrote to stderr, each of which must be one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def _access(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "registro.access"]


def test_each_request_logs_one_json_access_line_with_its_request_id(json_client: TestClient,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answer = json_client.get("/opl/procesos/4242/reportes?desde=2026-01-01", headers={"X-Request-ID": "lb-7f3a.01_x"},
                             follow_redirects=False)
    assert answer.headers["x-request-id"] == "lb-7f3a.01_x"  # a proxy's id is kept, so its lines join ours
    [line] = _access(_lines(capsys))
    assert line["request_id"] == "lb-7f3a.01_x" and line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/opl/procesos/{process_id}/reportes", 303)
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("+00:00")
    words = json.dumps({key: value for key, value in line.items() if key not in ("time", "duration_ms")})
    assert "4242" not in words and "desde" not in words  # (a time or a duration may hold those digits by chance)


def test_a_line_the_app_writes_while_handling_a_request_carries_its_id(settings: Settings,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    app = _json_app(settings)
    app.add_route("/prueba/fallo", _explode)
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as client:
        capsys.readouterr()
        answer = client.get("/prueba/fallo")
    assert answer.status_code == 500 and GENERATED_ID.fullmatch(answer.headers["x-request-id"])
    lines = _lines(capsys)
    [error] = [line for line in lines if line["logger"] == "web.errors"]
    assert error["level"] == "ERROR" and error["request_id"] == answer.headers["x-request-id"]
    assert _access(lines)[0]["request_id"] == answer.headers["x-request-id"]
    assert CLAVE not in json.dumps(lines)


async def _log_from_a_thread(request: Request) -> Response:
    await run_in_threadpool(logging.getLogger("registry.prueba").warning, "written from the thread pool")
    return PlainTextResponse("ok")


def test_a_line_written_from_the_thread_pool_carries_the_request_id(settings: Settings,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    app = _json_app(settings)
    app.add_route("/prueba/hilo", _log_from_a_thread)
    with TestClient(app, base_url=TEST_ORIGIN) as client:
        capsys.readouterr()
        answer = client.get("/prueba/hilo")
    [line] = [line for line in _lines(capsys) if line["logger"] == "registry.prueba"]
    assert line["request_id"] == answer.headers["x-request-id"]


async def _explode(request: Request) -> Response:
    raise RuntimeError(f"could not store the support of {CLAVE}")


@pytest.mark.parametrize("incoming", [
    "has a space", "x" * 65, "quote\"d", CLAVE, CLAVE.lower(), f"req-{CLAVE}-1", "GOMR850312HSRMRN09",  # a CURP
    CIC, "5512345678", "1234567890123", "",
])
def test_a_request_id_that_is_not_a_short_opaque_token_is_replaced(json_client: TestClient, incoming: str) -> None:
    answer = json_client.get("/healthz", headers={"X-Request-ID": incoming})
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]) and answer.headers["x-request-id"] != incoming


def test_personal_data_in_a_form_a_query_a_path_or_a_header_never_reaches_the_logs(
        settings: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    # One check per clave, so the second POST also makes the app log a line (the limit reached) mid-request.
    app = _json_app(settings, rate_limits={"verify_clave": "1/hour"})
    app.add_route("/prueba/fallo", _explode)
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as client:
        client.get("/verifica")
        client.headers[CSRF_HEADER] = client.cookies[ANONYMOUS_CSRF_COOKIE]
        capsys.readouterr()
        form = {"clave_elector": CLAVE, "cic": CIC, "correo": EMAIL}
        answers = [client.post("/verifica", data=form) for _ in range(2)]
        answers.append(client.get("/verifica", params={"clave_elector": CLAVE, "correo": EMAIL}))
        answers.append(client.get(f"/ciudadano/{CLAVE}/{EMAIL}"))
        answers.append(client.get("/prueba/fallo", params={"clave": CLAVE}, headers={"X-Request-ID": CLAVE}))
    assert [answer.status_code for answer in answers] == [200, 429, 200, 404, 500]
    lines = _lines(capsys)
    assert len(_access(lines)) == 5 and any(line["logger"] == "web.ratelimit" for line in lines)
    logged = json.dumps(lines) + caplog.text
    for personal in (CLAVE, CLAVE.lower(), EMAIL, "maria.secreta", CIC):
        assert personal not in logged
    assert {line["route"] for line in _access(lines)} == {"/verifica", "[unmatched]", "/prueba/fallo"}


def test_outside_production_the_default_is_one_readable_line_with_the_id(client: TestClient,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answer = client.get("/opl/procesos/7/reportes", follow_redirects=False)
    request_id = answer.headers["x-request-id"]
    [line] = [line for line in capsys.readouterr().err.splitlines() if "registro.access" in line]
    assert f"INFO registro.access [{request_id}] GET /opl/procesos/{{process_id}}/reportes 303 " in line


def test_probes_that_succeed_stay_out_of_the_info_log(json_client: TestClient,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert json_client.get("/healthz").status_code == 200
    assert json_client.get("/readyz").status_code == 200
    assert _access(_lines(capsys)) == []  # DEBUG: a probe every few seconds would bury the traffic


def test_production_logs_json_unless_told_otherwise(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    assert production.resolved_log_format is LogFormat.JSON
    assert production.model_copy(update={"log_format": LogFormat.TEXT}).resolved_log_format is LogFormat.TEXT
    assert settings.resolved_log_format is LogFormat.TEXT  # test and development
