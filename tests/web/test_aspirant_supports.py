"""The aspirant's garantía de audiencia pages: the supports that do not count, one support's detail and evidence,
and objections; nothing of another aspirant's is reachable, direct URLs included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.images import clean_image, store_image
from registry.models import Aspirant, Objection, Process, Support
from registry.states import ImageKind, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories.accounts import make_account
from tests.factories.objections import inconsistent_support, rejected_support, uphold, valid_support
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant

LIST = "/aspirante/apoyos"


class Campaign:
    """Two aspirants of one process, each with a rejected support; the first one's account signed in."""

    def __init__(self, app: Starlette) -> None:
        with session_scope(app.state.engine) as db:
            mine = make_aspirant(db, name="Carmen Aspirante")
            process = db.get(Process, mine.process_id)
            theirs = make_aspirant(db, process=process, name="Otro Aspirante")
            account = make_account(db, name="Carmen", role=Role.ASPIRANT, aspirant_id=mine.id)
            reviewer = make_account(db, name="Diana", role=Role.REVIEWER, opl_id=process.opl_id if process else None)
            self.mine = rejected_support(db, aspirant=mine, situacion=SituacionRegistral.BAJA)
            self.theirs = rejected_support(db, aspirant=theirs)
            self.copied = inconsistent_support(db, aspirant=mine, reviewer_account_id=reviewer.id or 0,
                                               comment="Se ve la trama de una fotocopia")
            self.aspirant_id, self.account_id, self.reviewer_id = mine.id, account.id, reviewer.id
            self.process_id = mine.process_id


@pytest.fixture
def campaign(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> Campaign:
    made = Campaign(app)
    sign_in(client, made.account_id)
    return made


def _soup(text: str) -> BeautifulSoup:
    return BeautifulSoup(text, "html.parser")


def _with_photo(app: Starlette, support_id: int, shade: int) -> bytes:
    settings = app.state.settings
    clean = clean_image(plain_photo(shade), kind=ImageKind.LIVE_PHOTO, max_bytes=settings.upload_max_bytes,
                        max_pixels=settings.upload_max_pixels)
    with session_scope(app.state.engine) as db:
        image = store_image(session=db, store=app.state.image_store, image=clean)
        support = db.get(Support, support_id)
        assert support is not None
        support.live_photo_id = image.id
        db.add(support)
    return app.state.image_store.get(image.storage_key)


def _objections(app: Starlette) -> list[Objection]:
    with Session(app.state.engine) as db:
        return list(db.exec(select(Objection)).all())


def _status(app: Starlette, support_id: int | None) -> SupportStatus:
    with Session(app.state.engine) as db:
        support = db.get(Support, support_id)
        assert support is not None
        return support.status


def test_the_list_shows_my_rejected_supports_with_their_reason_and_comment_only(client: TestClient,
                                                                                 campaign: Campaign) -> None:
    page = client.get(LIST)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    items = _soup(page.text).select(".support-item")
    text = " ".join(item.get_text(" ", strip=True) for item in items)
    assert campaign.mine.folio in text and campaign.copied.folio in text and campaign.theirs.folio not in text
    assert "Fotocopia de la credencial" in text and "Se ve la trama de una fotocopia" in text
    assert "Baja del padrón" in text


def test_the_list_in_english_names_the_inconsistency_in_english(client: TestClient, campaign: Campaign) -> None:
    page = client.get(LIST + "?lang=en")
    assert "Photocopy of the credential" in page.text and "Supports that do not count" in page.text


def test_filters_show_counts_per_value_and_narrow_the_list(client: TestClient, campaign: Campaign) -> None:
    soup = _soup(client.get(LIST + "?categoria=baja").text)
    options = {o["value"]: o.get_text(strip=True) for o in soup.select("#categoria option")}
    assert options["baja"].endswith("(1)") and options["con_inconsistencia"].endswith("(1)")
    assert [h.get_text(strip=True) for h in soup.select(".support-item h3")] == [campaign.mine.folio]
    assert client.get(LIST + "?categoria=%00&canal=nada&antes=%C2%B2").status_code == 200


def test_another_aspirants_support_detail_and_evidence_are_not_found(app: Starlette, client: TestClient,
                                                                    campaign: Campaign) -> None:
    _with_photo(app, campaign.theirs.id or 0, 90)
    assert client.get(f"{LIST}/{campaign.theirs.id}").status_code == 404
    assert client.get(f"{LIST}/{campaign.theirs.id}/imagen/live_photo").status_code == 404
    assert client.get(f"{LIST}/99999/imagen/live_photo").status_code == 404


def test_my_evidence_is_served_no_store_and_a_kind_it_lacks_is_not_found(app: Starlette, client: TestClient,
                                                                        campaign: Campaign) -> None:
    stored = _with_photo(app, campaign.mine.id or 0, 120)
    image = client.get(f"{LIST}/{campaign.mine.id}/imagen/live_photo")
    assert image.status_code == 200 and image.content == stored
    assert image.headers["cache-control"] == "no-store"
    assert client.get(f"{LIST}/{campaign.mine.id}/imagen/signature").status_code == 404
    assert client.get(f"{LIST}/{campaign.mine.id}/imagen/otra").status_code == 404
    detail = _soup(client.get(f"{LIST}/{campaign.mine.id}").text)
    assert detail.select_one(f'img[src="{LIST}/{campaign.mine.id}/imagen/live_photo"]') is not None


def test_the_detail_shows_the_captured_data_history_and_the_form(client: TestClient, campaign: Campaign) -> None:
    page = client.get(f"{LIST}/{campaign.mine.id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    soup = _soup(page.text)
    assert "123456789" in soup.select_one("#datos").find_parent("section").get_text()  # type: ignore[union-attr]
    assert "Compulsa con la Lista Nominal" in page.text
    assert soup.select_one(f'form[action="{LIST}/{campaign.mine.id}/objecion"] textarea#argumento') is not None


def test_filing_an_objection_contests_the_support_and_filing_again_is_refused(app: Starlette, client: TestClient,
                                                                              campaign: Campaign) -> None:
    url = f"{LIST}/{campaign.mine.id}/objecion"
    response = client.post(url, data={"argumento": "La credencial sigue vigente."}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, f"{LIST}/{campaign.mine.id}?hecho=objecion")
    assert _status(app, campaign.mine.id) is SupportStatus.CONTESTED
    page = client.get(f"{LIST}/{campaign.mine.id}")
    assert "En objeción" in _soup(page.text).select_one("#estado").get_text()  # type: ignore[union-attr]
    again = client.post(url, data={"argumento": "Otra vez."})
    assert again.status_code == 400 and "Ya presentaste una objeción" in again.text
    assert len(_objections(app)) == 1


def test_filing_on_another_aspirants_support_is_not_found(app: Starlette, client: TestClient,
                                                          campaign: Campaign) -> None:
    response = client.post(f"{LIST}/{campaign.theirs.id}/objecion", data={"argumento": "Mío."})
    assert response.status_code == 404 and _objections(app) == []
    selection = client.post(f"{LIST}/objeciones", data={"apoyo": [str(campaign.theirs.id)], "argumento": "Mío."})
    assert selection.status_code == 400 and campaign.theirs.folio not in selection.text
    assert _objections(app) == [] and _status(app, campaign.theirs.id) is SupportStatus.INVALID


def test_a_selection_with_one_ineligible_support_files_none_and_names_it(app: Starlette, client: TestClient,
                                                                         campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        aspirant = db.get(Aspirant, campaign.aspirant_id)
        assert aspirant is not None
        counting = valid_support(db, aspirant=aspirant)
        counting_id, counting_folio = counting.id, counting.folio
    chosen = [str(campaign.mine.id), str(counting_id), str(campaign.copied.id)]
    response = client.post(f"{LIST}/objeciones", data={"apoyo": chosen, "argumento": "Todos son válidos."})
    assert response.status_code == 400
    alert = _soup(response.text).select_one('[role="alert"]')
    assert alert is not None and counting_folio in alert.get_text() and campaign.mine.folio not in alert.get_text()
    assert _objections(app) == []
    boxes = _soup(response.text).select('input[name="apoyo"][checked]')
    assert {box["value"] for box in boxes} == {str(campaign.mine.id), str(campaign.copied.id)}


def test_a_selection_files_every_support_ticked(app: Starlette, client: TestClient, campaign: Campaign) -> None:
    chosen = [str(campaign.mine.id), str(campaign.copied.id)]
    response = client.post(f"{LIST}/objeciones", data={"apoyo": chosen, "argumento": "Todos son válidos.",
                                                      "aspirante": str(campaign.aspirant_id)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert {o.support_id for o in _objections(app)} == {campaign.mine.id, campaign.copied.id}


def test_filing_outside_the_period_is_refused_with_the_dates(app: Starlette, client: TestClient,
                                                             campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        process = db.get(Process, campaign.process_id)
        assert process is not None
        process.objections_open_at = utcnow() - timedelta(days=10)
        process.objections_close_at = utcnow() - timedelta(days=3)
        db.add(process)
        closes = (process.objections_close_at - timedelta(hours=6)).strftime("%d/%m/%Y %H:%M")  # Mexico City
    response = client.post(f"{LIST}/{campaign.mine.id}/objecion", data={"argumento": "A tiempo."})
    assert response.status_code == 400 and "ya terminó" in response.text and closes in response.text
    assert _objections(app) == []
    assert "ya terminó" in client.get(f"{LIST}/{campaign.mine.id}").text  # said before anyone types


@pytest.mark.parametrize(("argument", "said"), [("", "Escribe por qué"), ("vigente\x00", "carácter nulo"),
                                                ("x" * 4001, "máximo 4000")])
def test_a_bad_argument_is_answered_in_words(app: Starlette, client: TestClient, campaign: Campaign,
                                             argument: str, said: str) -> None:
    response = client.post(f"{LIST}/{campaign.mine.id}/objecion", data={"argumento": argument})
    assert response.status_code == 400 and said in response.text
    assert _soup(response.text).select_one('#argumento[aria-invalid="true"]') is not None
    assert _objections(app) == []


def test_an_upheld_objection_moves_the_home_counts(app: Starlette, client: TestClient, campaign: Campaign) -> None:
    def counts() -> dict[str, str]:
        soup = _soup(client.get("/aspirante").text)
        return {d.dt.get_text(strip=True): d.dd.get_text(strip=True)  # type: ignore[union-attr]
                for d in soup.select(".aspirant-process .progress-totals div")}

    assert (counts()["Cuentan"], counts()["No cuentan"], counts()["En objeción"]) == ("0", "2", "0")
    client.post(f"{LIST}/{campaign.mine.id}/objecion", data={"argumento": "Vigente."})
    assert (counts()["Cuentan"], counts()["No cuentan"], counts()["En objeción"]) == ("0", "2", "1")
    with session_scope(app.state.engine) as db:
        support = db.get(Support, campaign.mine.id)
        assert support is not None
        uphold(db, support=support, reviewer_account_id=campaign.reviewer_id or 0, resolution="Está vigente.")
    assert (counts()["Cuentan"], counts()["No cuentan"], counts()["En objeción"]) == ("1", "1", "0")
    detail = client.get(f"{LIST}/{campaign.mine.id}").text
    assert "Objeción procedente" in detail and "Está vigente." in detail


def test_the_citizens_own_report_is_not_quoted_to_the_aspirant(app: Starlette, client: TestClient,
                                                               campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        citizen = make_account(db, role=Role.CITIZEN)
        support = db.get(Support, campaign.mine.id)
        assert support is not None
        support.citizen_account_id = citizen.id
        record_transition(session=db, support=support, to_status=SupportStatus.INVALID,
                          situacion=support.situacion_registral, actor_account_id=citizen.id, now=utcnow(),
                          reason="la persona ciudadana informa que no dio este apoyo")
    page = client.get(f"{LIST}/{campaign.mine.id}").text
    assert "informa que no dio" not in page and "enviado a la mesa de control" in page


def test_another_role_cannot_open_the_pages(client: TestClient, app: Starlette, campaign: Campaign,
                                            sign_in_with_role: Callable[..., Any]) -> None:
    sign_in_with_role(client, Role.CITIZEN)
    assert client.get(LIST).status_code in (403, 404)
    assert client.get(f"{LIST}/{campaign.mine.id}").status_code in (403, 404)


ODD = st.one_of(st.sampled_from(["²", "٣", "9" * 5000, "-1", "\x00", "\u202e", "0", " ", "baja", "paper"]),
                st.text(max_size=60))


@given(category=ODD, channel=ODD, before=ODD, aspirant=ODD, support=ODD, argument=ODD)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_odd_values_in_every_field_never_get_a_500(client: TestClient, campaign: Campaign, category: str,
                                                   channel: str, before: str, aspirant: str, support: str,
                                                   argument: str) -> None:
    listing = client.get(LIST, params={"categoria": category, "canal": channel, "antes": before,
                                       "aspirante": aspirant})
    filed = client.post(f"{LIST}/objeciones", data={"apoyo": [support, str(campaign.theirs.id)],
                                                   "argumento": argument, "aspirante": aspirant})
    one = client.post(f"{LIST}/{campaign.theirs.id}/objecion", data={"argumento": argument})
    image = client.get(f"{LIST}/{campaign.mine.id}/imagen/{quote(support, safe='') or 'x'}")
    assert all(r.status_code < 500 for r in (listing, filed, one, image))


def test_the_chosen_filter_stays_selected_and_both_pages_show_the_totals(client: TestClient,
                                                                         campaign: Campaign) -> None:
    soup = _soup(client.get(LIST + "?categoria=baja").text)
    assert [o["value"] for o in soup.select("#categoria option[selected]")] == ["baja"]
    channels = [o["value"] for o in soup.select("#canal option")]
    assert channels[0] == "" and len(channels) > 1 and not soup.select("#canal option[selected]")
    totals = [d.get_text(strip=True) for d in soup.select(".progress-totals dt")]
    assert totals == ["Cuentan", "No cuentan", "En objeción", "En proceso"]
    home = _soup(client.get("/aspirante").text)
    assert [d.get_text(strip=True) for d in home.select(".aspirant-process .progress-totals dt")] == [
        "Apoyos recibidos", *totals]
