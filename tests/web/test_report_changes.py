"""The «¿Qué cambió?» page: for OPL staff (their OPL's processes only) and for the aspirant (their own supports
only), the cell's count at both moments, the net change and each support that moved with the events that moved
it; folios, never names or claves; typed-in parameters never break it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.disown import flag_disowned
from registry.models import SupportFlag
from registry.reports.categories import Category
from registry.reports.places import PlaceKey
from registry.review.decisions import Verdict, decide
from registry.review.queue import QueueFilters, claim_first_level
from registry.states import ReviewFlag
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll, place_support
from web.routes.report_changes import changes_url

ZONE = ZoneInfo("America/Mexico_City")
T0 = utcnow().replace(microsecond=0) - timedelta(hours=6)  # inside the page's default window (the last 24 hours)
HERMOSILLO = 30


@dataclass(frozen=True)
class Scene:
    opl_id: int
    process_id: int
    mine: int  # Carmen's aspirant id
    theirs: int
    reviewed: str  # Carmen's support the mesa de control validated (out of «en mesa de control»)
    disowned: str  # Carmen's support its citizen reported as never given
    other_folio: str  # the other aspirant's support
    other_opl_process: int


def _scene(app: Starlette) -> Scene:
    with session_scope(app.state.engine) as db:  # type: ignore[attr-defined]
        opl = make_opl(db, state_code=26)
        process = make_process(db, opl=opl)
        carmen, other = make_aspirant(db, process=process, name="Carmen Aspirante"), make_aspirant(
            db, process=process, name="Otro Aspirante")
        reviewer = make_account(db, name="Revisora Ruiz", role=Role.REVIEWER, opl_id=opl.id)
        people = [citizen(municipality=HERMOSILLO) for _ in range(3)]
        make_roll(db, opl=opl, citizens=people)
        supports = [place_support(db, aspirant_id=aspirant.id or 0, process_id=process.id or 0, cic=person.cic,
                                  received_at=T0 + timedelta(minutes=n))
                    for n, (aspirant, person) in enumerate(zip((carmen, carmen, other), people, strict=True))]
        add(db, SupportFlag(support_id=supports[0].id or 0, flag=ReviewFlag.MANUAL_CAPTURE, detail="-"))
        verify_process(session=db, process_id=process.id or 0, now=T0 + timedelta(hours=1))
        db.expire_all()  # the compulsa wrote the supports with SQL: read them again
        assert opl.id is not None and reviewer.id is not None
        held = claim_first_level(session=db, process_id=process.id or 0, opl_ids={opl.id},
                                 reviewer_account_id=reviewer.id, filters=QueueFilters(), now=T0 + timedelta(hours=2))
        decide(session=db, support_id=held or 0, opl_ids={opl.id}, reviewer_account_id=reviewer.id,
               verdict=Verdict(valid=True), now=T0 + timedelta(hours=2))
        flag_disowned(session=db, support=supports[1], actor_account_id=None, now=T0 + timedelta(hours=3))
        other_opl_process = make_process(db, opl=make_opl(db))
        return Scene(opl.id, process.id or 0, carmen.id or 0, other.id or 0, supports[0].folio, supports[1].folio,
                     supports[2].folio, other_opl_process.id or 0)


def _local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def _figures(page: BeautifulSoup) -> dict[str, str]:
    return {dd["data-cifra"]: dd.get_text(strip=True) for dd in page.select("#cambios-resumen dd")}


def _folios(page: BeautifulSoup, key: str) -> set[str]:
    return {item["data-folio"] for item in page.select(f"#lista-{key} > li")}  # type: ignore[misc]


def _soup(client: TestClient, url: str) -> BeautifulSoup:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text[:500]
    return BeautifulSoup(answer.text, "html.parser")


@pytest.fixture
def scene(app: Starlette) -> Scene:
    return _scene(app)


def test_the_opl_sees_the_cells_counts_and_each_move_with_who_made_it(app: Starlette, client: TestClient,
                                                                         sign_in_with_role: object,
                                                                         scene: Scene) -> None:
    sign_in_with_role(client, Role.REVIEWER, opl_id=scene.opl_id)  # type: ignore[operator]
    url = (f"/reportes/cambios?proceso={scene.process_id}&categoria=en_mesa_de_control"
           f"&desde={_local(T0 + timedelta(minutes=90))}&hasta={_local(T0 + timedelta(hours=4))}")
    page = _soup(client, url)
    assert _figures(page) == {"antes": "1", "despues": "1", "neto": "+0", "entraron": "1", "salieron": "1"}
    assert _folios(page, "salieron") == {scene.reviewed} and _folios(page, "entraron") == {scene.disowned}
    moved_out = page.select_one(f'#lista-salieron li[data-folio="{scene.reviewed}"]')
    assert moved_out is not None
    text = moved_out.get_text(" ", strip=True)
    assert "Mesa de control: Revisora Ruiz" in text and "Carmen Aspirante" in text
    assert "Estado 26" in text  # the OPL sees where the support stands
    disowned = page.select_one(f'#lista-entraron li[data-folio="{scene.disowned}"]').get_text(" ", strip=True)  # type: ignore[union-attr]
    assert "Persona ciudadana" in disowned and "no dio este apoyo" in disowned
    assert "LOPEMA" not in page.text and "MARIA" not in page.text  # no claves, no citizens' names


def test_the_aspirant_sees_only_their_own_supports_without_places_or_the_citizens_report(
        app: Starlette, client: TestClient, sign_in_with_role: object, scene: Scene) -> None:
    sign_in_with_role(client, Role.ASPIRANT, aspirant_id=scene.mine)  # type: ignore[operator]
    page = _soup(client, f"/aspirante/avance/cambios?aspirante={scene.theirs}&desde={_local(T0 - timedelta(hours=1))}")
    listed = _folios(page, "entraron")
    assert scene.other_folio not in listed and {scene.reviewed, scene.disowned} <= listed
    assert "Otro Aspirante" not in page.text and "Estado 26" not in page.text
    assert "no dio este apoyo" not in page.text and "Persona ciudadana" not in page.text
    assert "Enviado a revisión de la mesa de control" in page.text
    assert "Revisora Ruiz" not in page.text


def test_another_opls_process_is_not_found_and_no_process_means_the_first(
        app: Starlette, client: TestClient, sign_in_with_role: object, scene: Scene) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=scene.opl_id)  # type: ignore[operator]
    assert client.get(f"/reportes/cambios?proceso={scene.other_opl_process}").status_code == 404
    assert client.get("/reportes/cambios?proceso=987654").status_code == 404
    assert client.get("/reportes/cambios?proceso=abc").status_code == 404
    page = _soup(client, "/reportes/cambios")
    assert _figures(page)["despues"] == "3"  # every support of the OPL's process, received in the last 24 hours


@pytest.mark.parametrize("query", [
    "categoria=nada", "situacion=%00", "desde=ayer", "hasta=" + "9" * 5000, "desde=0001-01-01",
    "desde=2026-13-45T99:99", "municipio=abc", "estado=99999999999", "seccion=%C2%B2", "aspirante=-1",
    "municipio=" + "0" * 5000 + "1",
    "desde=2026-11-30T10:00&hasta=2026-11-29T10:00", "aspirante=987654",
])
def test_typed_in_parameters_are_explained_never_a_500(app: Starlette, client: TestClient,
                                                        sign_in_with_role: object, scene: Scene, query: str) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=scene.opl_id)  # type: ignore[operator]
    answer = client.get(f"/reportes/cambios?proceso={scene.process_id}&{query}")
    assert answer.status_code == 200
    if query not in ("aspirante=-1",):
        assert BeautifulSoup(answer.text, "html.parser").select(".message-warning li"), query


def test_a_date_alone_as_the_end_includes_that_whole_day(app: Starlette, client: TestClient,
                                                          sign_in_with_role: object, scene: Scene) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=scene.opl_id)  # type: ignore[operator]
    day = (T0 - timedelta(days=2)).astimezone(ZONE).date()
    page = _soup(client, f"/reportes/cambios?proceso={scene.process_id}&desde={day}&hasta={day}")
    assert page.select_one("#desde")["value"] == f"{day}T00:00"  # type: ignore[index]
    assert page.select_one("#hasta")["value"] == f"{day + timedelta(days=1)}T00:00"  # type: ignore[index]
    assert _figures(page)["despues"] == "0"  # two days before the scene: nothing yet


def test_changes_url_links_to_the_cell(app: Starlette, client: TestClient, sign_in_with_role: object,
                                       scene: Scene) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=scene.opl_id)  # type: ignore[operator]

    class Request:  # what changes_url reads of a request: the app, for its routes
        def __init__(self, app: Starlette) -> None:
            self.app = app

    url = changes_url(Request(app), audience="opl", process_id=scene.process_id,  # type: ignore[arg-type]
                      category=Category.EN_LISTA_NOMINAL, place=PlaceKey(26, 0, HERMOSILLO, 0),
                      since=(T0 - timedelta(hours=1)).astimezone(ZONE).replace(tzinfo=None))
    assert url.startswith("/reportes/cambios?proceso=") and "municipio=30" in url and "distrito" not in url
    page = _soup(client, url)
    assert page.select_one("#categoria option[selected]")["value"] == "en_lista_nominal"  # type: ignore[index]
    assert _folios(page, "entraron") == {scene.reviewed, scene.other_folio}  # the disowned one left for the desk
    nowhere = changes_url(Request(app), audience="aspirant", place=PlaceKey(0, 0, 0, 0))  # type: ignore[arg-type]
    assert nowhere == "/aspirante/avance/cambios?estado=0"


def test_the_page_speaks_english(app: Starlette, client: TestClient, sign_in_with_role: object,
                                 scene: Scene) -> None:
    sign_in_with_role(client, Role.ASPIRANT, aspirant_id=scene.mine)  # type: ignore[operator]
    page = _soup(client, "/aspirante/avance/cambios?lang=en")
    assert page.h1 is not None and page.h1.get_text(strip=True) == "What changed?"


def test_who_may_see_it(client: TestClient, sign_in_with_role: object, scene: Scene) -> None:
    assert client.get("/reportes/cambios", follow_redirects=False).status_code == 303  # to sign in
    sign_in_with_role(client, Role.CITIZEN)  # type: ignore[operator]
    assert client.get("/reportes/cambios").status_code == 403
    assert client.get("/aspirante/avance/cambios").status_code == 403


def test_an_aspirant_account_with_no_candidacy_is_told_so(client: TestClient, sign_in_with_role: object) -> None:
    sign_in_with_role(client, Role.ASPIRANT, aspirant_id=None)  # type: ignore[operator]
    assert client.get("/aspirante/avance/cambios").status_code == 200
