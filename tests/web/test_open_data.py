"""Open data over HTTP: the same figures as HTML, JSON and CSV, public and cacheable (Cache-Control, ETag, 304),
no cookie set and no session read, nothing personal in any format, and hostile addresses answered with a 404."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session
from starlette.testclient import TestClient

from auth.roles import Role
from core.settings import Settings
from tests.conftest import TEST_ORIGIN, SignInWithRole
from tests.registry.reports.test_open_data import Seeded, seed_open_data
from web.app import create_app

COLUMNS = ["enviados", "en_lista_nominal", "duplicados_mismo_aspirante", "otra_situacion_registral",
           "con_inconsistencia", "en_procesamiento", "en_mesa_de_control"]


@pytest.fixture
def seeded(session: Session) -> Seeded:
    return seed_open_data(session)


def _json_value(row: dict[str, Any], column: str) -> str:
    if column in row["suprimidos"]:
        return "<5"
    if column in row["retenidos"]:
        return "*"
    return str(row[column])


def _html_tables(text: str) -> list[list[list[str]]]:
    page = BeautifulSoup(text, "html.parser")
    return [[[cell.get_text(strip=True) for cell in row.find_all(["th", "td"])] for row in table.tbody.find_all("tr")]
            for table in page.find_all("table")]


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_html_json_and_csv_publish_the_same_figures(client: TestClient, seeded: Seeded) -> None:
    base = f"/datos/procesos/{seeded.process_id}"
    published = client.get(f"{base}.json").json()
    assert client.get(f"{base}?formato=json").json() == published
    rosa = published["aspirantes"][0]
    assert rosa["aspirante"] == "Rosa Aspirante" and published["k"] == 5
    by_json_place = [[_json_value(row, column) for column in COLUMNS] for row in rosa["por_municipio"]]
    by_json_day = [[_json_value(row, column) for column in COLUMNS] for row in rosa["por_dia"]]
    hermosillo = next(row for row in rosa["por_municipio"] if row["nombre"] == "Hermosillo")
    assert hermosillo["enviados"] == 10 and hermosillo["suprimidos"] == [] and hermosillo["retenidos"] == []
    cajeme = next(row for row in rosa["por_municipio"] if row["nombre"] == "Cajeme")
    assert cajeme["enviados"] is None and cajeme["retenidos"] == ["enviados"] and cajeme["suprimidos"]

    places, days = _html_tables(client.get(base).text)[:2]
    assert [row[1:] for row in places] == by_json_place and [row[1:] for row in days] == by_json_day
    assert [row[0] for row in places][:2] == ["Hermosillo", "Cajeme"]

    place_csv = _csv(client.get(f"{base}/municipios.csv").text)
    assert place_csv[0] == ["aspirante", "estado", "municipio", "nombre_municipio", *COLUMNS]
    assert [row[4:] for row in place_csv[1:]] == by_json_place
    day_csv = client.get(f"{base}/dias.csv")
    assert day_csv.headers["content-type"].startswith("text/csv")
    assert [row[2:] for row in _csv(day_csv.text)[1:]] == by_json_day
    assert client.get(f"{base}?formato=csv&tabla=dias").text == day_csv.text


def test_every_format_is_cacheable_sets_no_cookie_and_answers_304(client: TestClient, seeded: Seeded) -> None:
    base = f"/datos/procesos/{seeded.process_id}"
    for path in ("/datos", "/datos?formato=json", base, f"{base}.json", f"{base}/municipios.csv",
                 f"{base}/dias.csv"):
        first = client.get(path)
        assert first.status_code == 200, path
        assert first.headers["cache-control"] == "public, max-age=300", path
        assert "set-cookie" not in first.headers, path
        etag = first.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, path
        assert client.get(path, headers={"If-None-Match": '"otro"'}).status_code == 200, path
    assert client.cookies.get("registro_csrf") is None  # never handed out under /datos


def test_a_signed_in_visitor_gets_the_same_anonymous_page(client: TestClient, seeded: Seeded,
                                                          sign_in_with_role: SignInWithRole) -> None:
    anonymous = client.get(f"/datos/procesos/{seeded.process_id}")
    sign_in_with_role(client, Role.OPL_ADMIN)
    signed_in = client.get(f"/datos/procesos/{seeded.process_id}")
    assert signed_in.headers["cache-control"] == "public, max-age=300" and "set-cookie" not in signed_in.headers
    assert signed_in.headers["etag"] == anonymous.headers["etag"]
    assert "Salir" not in signed_in.text  # nothing of the person: a cache may hand this page to anybody


def test_no_format_publishes_personal_data(client: TestClient, seeded: Seeded) -> None:
    base = f"/datos/procesos/{seeded.process_id}"
    every = "".join(client.get(path).text for path in (
        "/datos", base, f"{base}.json", f"{base}/municipios.csv", f"{base}/dias.csv"))
    for person in seeded.people:
        assert person.clave_elector not in every and person.cic not in every and person.ocr not in every
    for private in ("MARIA", "LOPEZ", "PEREZ", "777000001", "RC-T"):
        assert private not in every


@pytest.mark.parametrize("path", [
    "/datos/procesos/999999", "/datos/procesos/99999999999999999999999", "/datos/procesos/1?formato=xml",
    "/datos/procesos/1/personas.csv", "/datos/procesos/1/municipios.xlsx", "/datos?formato=csv",
    "/datos/procesos/%00", "/datos/procesos/1?formato=csv&tabla=%00",
])
def test_hostile_addresses_are_not_found(client: TestClient, seeded: Seeded, path: str) -> None:
    answer = client.get(path.replace("/1", f"/{seeded.process_id}"))
    assert answer.status_code == 404 and "Traceback" not in answer.text


def test_the_page_explains_the_suppression_in_both_languages(client: TestClient, seeded: Seeded) -> None:
    spanish = client.get(f"/datos/procesos/{seeded.process_id}").text
    assert "Cómo leer estas cifras" in spanish and "&lt;5" in spanish and "Hermosillo" in spanish
    english = client.get(f"/datos/procesos/{seeded.process_id}", headers={"Accept-Language": "en"})
    assert "How to read these figures" in english.text
    assert english.headers["etag"] != client.get(f"/datos/procesos/{seeded.process_id}").headers["etag"]
    assert "Accept-Language" in english.headers["vary"]


@pytest.fixture
def limited_client(settings: Settings) -> Iterator[TestClient]:
    async def not_yet(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("the app is still being created")

    transport = httpx2.ASGITransport(app=not_yet, raise_app_exceptions=False)
    app = create_app(settings.model_copy(update={"rate_limits": {"open_data_ip": "2/minute"}}),
                     oauth_transport=transport)
    transport.app = app
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as client:
        yield client


def test_open_data_is_limited_per_ip(limited_client: TestClient, seeded: Seeded) -> None:
    assert [limited_client.get("/datos").status_code for _ in range(2)] == [200, 200]
    refused = limited_client.get("/datos")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
