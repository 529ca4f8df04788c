"""The user guides (/ayuda) kept true to the app: every screen a guide names is a page the app serves, every page
renders with its headings in order and a table of contents that matches its sections, and the guides are public,
cookieless and Spanish in every locale (the page around them follows the request's language)."""

from __future__ import annotations

import itertools
import re

import pytest
from bs4 import BeautifulSoup, Tag
from starlette.routing import Match, Route
from starlette.testclient import TestClient

from auth.roles import Role
from tests.conftest import TEST_ORIGIN, SignInWithRole
from web.routes import ALL_ROUTES
from web.routes.help_guides import guides

SLUGS = ["ciudadano", "auxiliar", "aspirante", "revisor", "opl", "sistema"]
# Each role's home page, which its guide must name, and the guide its home page links to.
HOMES = {"ciudadano": "/ciudadano", "auxiliar": "/campo", "aspirante": "/aspirante", "revisor": "/mesa",
         "opl": "/opl", "sistema": "/sistema"}
ROLES = {Role.CITIZEN: "ciudadano", Role.AUXILIARY: "auxiliar", Role.ASPIRANT: "aspirante",
         Role.REVIEWER: "revisor", Role.OPL_ADMIN: "opl", Role.SYSTEM_ADMIN: "sistema"}
PLACEHOLDER = re.compile(r"\{[^}/]+\}")


def page_route(path: str) -> Route | None:
    """The route of ALL_ROUTES that answers GET `path`; a {placeholder} (a process, a folio) stands for a sample
    value, as a reader would put the number of their own process there."""
    concrete = PLACEHOLDER.sub("1", path)
    for route in ALL_ROUTES:
        if isinstance(route, Route):
            match, _scope = route.matches({"type": "http", "path": concrete, "method": "GET"})
            if match is Match.FULL:
                return route
    return None


def _page(client: TestClient, path: str, **headers: str) -> BeautifulSoup:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, path
    return BeautifulSoup(response.text, "html.parser")


def _article(page: BeautifulSoup) -> Tag:
    article = page.find("article", class_="help-guide")
    assert isinstance(article, Tag)
    return article


def test_the_index_lists_every_guide(client: TestClient) -> None:
    page = _page(client, "/ayuda")
    assert [g.slug for g in guides()] == SLUGS
    links = [a["href"] for a in page.select("ul.help-index h2 a")]
    assert links == [f"/ayuda/{slug}" for slug in SLUGS]
    assert page.find("h1").get_text(strip=True) == "Ayuda: guías de uso"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_screen_a_guide_names_is_a_page_of_the_app(client: TestClient, slug: str) -> None:
    article = _article(_page(client, f"/ayuda/{slug}"))
    named = [str(element["data-screen"]) for element in article.select("[data-screen]")]
    assert HOMES[slug] in named, "a guide names its role's home page"
    assert [path for path in named if page_route(path) is None] == []
    # Links written by hand (not through screen()) would escape the check above: every link is a screen or an anchor.
    hrefs = [str(a["href"]) for a in article.find_all("a", href=True)]
    assert [h for h in hrefs if not h.startswith("#") and h not in named] == []
    # On paper, every screen prints its whole address.
    origins = {span.get_text() for span in article.select(".screen-path .screen-origin")}
    assert origins == {TEST_ORIGIN}
    assert len(article.select(".screen-path")) == len(named)
    # Nor may a path be written as plain text: every address in a guide goes through screen().
    for written in article.select(".screen-path, .help-colophon"):
        written.decompose()
    assert re.findall(r"(?:^|[\s(«])(/[a-z][\w./{}-]*)", article.get_text(" ")) == []


@pytest.mark.parametrize("slug", SLUGS)
def test_every_guide_has_one_title_headings_in_order_and_a_matching_table_of_contents(
        client: TestClient, slug: str) -> None:
    page = _page(client, f"/ayuda/{slug}")
    article = _article(page)
    assert article["lang"] == "es-MX"
    levels = [int(h.name[1]) for h in page.find("main").find_all(re.compile(r"^h[1-6]$"))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(after <= before + 1 for before, after in itertools.pairwise(levels)), levels
    toc = article.find("nav", class_="help-toc")
    entries = [(a["href"], a.get_text(strip=True)) for a in toc.select("ol a")]
    sections = [(f"#{s['id']}", s.find("h2").get_text(strip=True)) for s in article.select("section.help-section")]
    assert entries == sections and len(entries) >= 4
    ids = [element["id"] for element in page.find_all(id=True)]
    assert len(ids) == len(set(ids))
    assert sections[-1] == ("#que-hacer-si", "Qué hacer si…")


def test_the_check_finds_a_screen_the_app_does_not_have() -> None:
    assert page_route("/aspirante/avance") is not None
    assert page_route("/opl/procesos/{proceso}/reportes") is not None
    assert page_route("/aspirante/progreso") is None
    assert page_route("/opl/procesos/{proceso}/informes") is None
    assert page_route("/mesa/apoyos/{apoyo}/decidir") is None  # POST only: not a screen


def test_the_citizens_guide_says_what_the_citizen_needs_to_know(client: TestClient) -> None:
    text = _article(_page(client, "/ayuda/ciudadano")).get_text(" ", strip=True)
    for words in ("dura 24 horas", "modelos D, E, F, G o H", "Mis apoyos", "Verifica tu apoyo", "Yo no di este apoyo",
                  "LGIPE, artículo 385", "INE/CG688/2020"):
        assert words in text


def test_an_unknown_guide_is_a_spanish_404(client: TestClient) -> None:
    response = client.get("/ayuda/nadie")
    assert response.status_code == 404
    assert "No encontramos esta página" in response.text


def test_guides_are_public_cookieless_and_cacheable(client: TestClient, sign_in_with_role: SignInWithRole) -> None:
    for path in ("/ayuda", "/ayuda/aspirante"):
        anonymous = client.get(path)
        assert "set-cookie" not in anonymous.headers
        assert anonymous.headers["cache-control"] == "public, max-age=3600"
    sign_in_with_role(client, Role.ASPIRANT)
    signed_in = client.get("/ayuda/aspirante")
    # No session is read there: the page is the same for everybody, and says nothing about who asks.
    assert signed_in.headers["cache-control"] == "public, max-age=3600"
    assert "Salir" not in signed_in.text


def test_in_english_the_page_is_english_and_the_guide_stays_spanish(client: TestClient) -> None:
    page = _page(client, "/ayuda/ciudadano", **{"Accept-Language": "en-US,en;q=0.9"})
    assert page.find("html")["lang"] == "en"
    assert page.find(id="imprimir").get_text(strip=True) == "Print"
    assert "This guide is in Spanish" in page.find(id="guia-idioma").get_text()
    assert _article(page)["lang"] == "es-MX"
    assert _article(page).find("h1").get_text(strip=True).startswith("Guía para la ciudadanía")
    index = _page(client, "/ayuda", **{"Accept-Language": "en"})
    assert index.select_one("ul.help-index h2 a").get_text(strip=True) == "Citizen"
    spanish = _page(client, "/ayuda/ciudadano", **{"Accept-Language": "es-MX"})
    assert spanish.find(id="guia-idioma") is None


def test_every_page_links_to_the_help_in_its_footer(client: TestClient) -> None:
    footer = _page(client, "/").find("footer")
    assert [a["href"] for a in footer.find_all("a") if a.get_text(strip=True) == "Ayuda"] == ["/ayuda"]


@pytest.mark.parametrize("role", list(ROLES), ids=str)
def test_each_roles_home_links_to_its_guide(client: TestClient, sign_in_with_role: SignInWithRole,
                                            role: Role) -> None:
    sign_in_with_role(client, role)
    slug = ROLES[role]
    main = _page(client, HOMES[slug]).find("main")
    assert f"/ayuda/{slug}" in [a["href"] for a in main.find_all("a", href=True)]
