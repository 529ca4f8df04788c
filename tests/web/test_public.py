from html.parser import HTMLParser

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def test_landing_page_is_spanish_and_speaks_to_every_audience(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    tags = _elements(response.text)
    assert ("html", {"lang": "es-MX"}) in tags
    assert [attrs.get("id") for tag, attrs in tags if tag == "h2"] == [
        "para-ciudadania", "para-aspirantes", "para-auxiliares", "para-opl",
    ]
    assert "Apoya una candidatura independiente" in response.text


def test_english_is_chosen_by_accept_language(client: TestClient) -> None:
    response = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert ("html", {"lang": "en"}) in _elements(response.text)
    assert "Support an independent candidacy" in response.text


def test_language_switch_is_remembered(client: TestClient) -> None:
    switched = client.get("/?lang=en", headers={"Accept-Language": "es-MX"})
    assert "lang=en" in switched.headers["set-cookie"]
    again = client.get("/", headers={"Accept-Language": "es-MX"})
    assert ("html", {"lang": "en"}) in _elements(again.text)


def test_no_asset_comes_from_a_cdn(client: TestClient) -> None:
    for tag, attrs in _elements(client.get("/").text):
        source = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
        if source:
            assert source.startswith("/"), source


def test_unknown_page_gets_a_spanish_404(client: TestClient) -> None:
    response = client.get("/no-existe")
    assert response.status_code == 404
    assert "No encontramos esta página" in response.text


def test_a_crash_gets_a_spanish_500_without_a_traceback(app: Starlette, client: TestClient) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("secret internals CURP=XXXX")

    app.router.routes.append(Route("/roto", broken))
    response = client.get("/roto")
    assert response.status_code == 500
    assert "Algo salió mal" in response.text
    assert "Traceback" not in response.text and "secret internals" not in response.text


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_health(client: TestClient) -> None:
    assert client.get("/salud").text == "ok"
