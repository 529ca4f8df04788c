"""The citizen journey without friction: one step counter from the back photo to the support, the code just shown
carried over to the support steps (only for the same account in the same session), errors summarised in an alert
with links to their fields, the code e-mail's link back, the receipt e-mail, and one 24-hour time format."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from tests.conftest import SignedIn
from tests.factories.accounts import citizen_account_id, make_account
from tests.factories.photos import BackPhoto, ready_back
from tests.factories.processes import open_aspirant_id
from tests.web.citizen_pages import (
    Journey,
    body_of,
    hidden,
    one,
    outbox,
    quick_code,
    step,
    step_numbers,
    switch_language,
    tree,
)
from web.templating import local_time

URL = re.compile(r"https?://\S+")
TIME_24H = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b")


@pytest.fixture(scope="module")
def good_back() -> BackPhoto:
    return ready_back(22)


@pytest.fixture
def aspirant_id(app: Starlette) -> int:
    return open_aspirant_id(app.state.engine)


@pytest.fixture
def citizen(app: Starlette, client: TestClient, sign_in: Callable[..., SignedIn]) -> SignedIn:
    account_id = citizen_account_id(app.state.engine)
    return sign_in(client, account_id)


@pytest.fixture
def journey(client: TestClient, citizen: SignedIn) -> Journey:
    return Journey(client)


def test_one_step_counter_runs_from_the_back_photo_to_the_support(journey: Journey, app: Starlette,
                                                                  citizen: SignedIn, aspirant_id: int,
                                                                  good_back: BackPhoto) -> None:
    pages = [journey.client.get("/ciudadano/codigo")]
    pages.append(journey.back_photo(good_back))
    pages.append(journey.confirm_credential(pages[-1]))
    pages.append(journey.continue_with_shown_code(pages[-1]))
    pages.append(journey.choose(pages[-1], aspirant_id))
    pages.append(journey.photos(pages[-1]))
    pages.append(journey.sign(pages[-1]))
    assert [step(page) for page in pages] == ["photo", "confirm", "code", "aspirant", "photos", "signature",
                                              "statement"]
    assert [step_numbers(page) for page in pages] == [(n, 7) for n in range(1, 8)]
    typing = journey.client.get("/ciudadano/apoyo")  # who comes back with the e-mailed code joins at step 3
    assert step_numbers(typing) == (3, 7) and step(typing) == "code"


def test_the_code_just_shown_goes_on_without_retyping(journey: Journey, app: Starlette, good_back: BackPhoto,
                                                      aspirant_id: int) -> None:
    ready = journey.confirm_credential(journey.back_photo(good_back))
    code = one(ready, "#codigo-activacion").get_text()
    reference = hidden(ready, "codigo_ref")
    assert code not in reference and code.replace("-", "") not in reference
    assert one(ready, "main form")["method"] == "post"  # the reference never rides in an address
    aspirants = journey.continue_with_shown_code(ready)
    assert aspirants.url.path == "/ciudadano/apoyo/aspirante" and step(aspirants) == "aspirant"
    assert code not in str(aspirants.url)
    photos = journey.choose(aspirants, aspirant_id)
    assert step(photos) == "photos"


def test_the_carried_code_is_only_for_the_same_account_in_the_same_session(
        journey: Journey, app: Starlette, citizen: SignedIn, sign_in: Callable[..., SignedIn],
        good_back: BackPhoto, aspirant_id: int) -> None:
    client = journey.client
    ready = journey.confirm_credential(journey.back_photo(good_back))
    code = one(ready, "#codigo-activacion").get_text()
    sign_in(client, citizen.account_id)  # signed in again (a shared phone, a later visit): a new session
    refused = journey.continue_with_shown_code(ready)
    assert refused.status_code == 400 and refused.url.path == "/ciudadano/apoyo/continuar"
    assert step(refused) == "code" and one(refused, '#errores a[href="#codigo"]')
    with session_scope(app.state.engine) as db:
        other = make_account(db, name="Otra Persona", role=Role.CITIZEN).id
    assert other is not None
    sign_in(client, other)
    assert journey.continue_with_shown_code(ready).status_code == 400
    sign_in(client, citizen.account_id)
    typed = journey.type_code(code)  # typing the code from the e-mail still works
    assert typed.url.path == "/ciudadano/apoyo/aspirante" and step(typed) == "aspirant"


def test_errors_are_summarised_in_an_alert_linked_to_their_fields(journey: Journey, app: Starlette,
                                                                  citizen: SignedIn, aspirant_id: int) -> None:
    fine = journey.client.get("/ciudadano/apoyo")
    assert not tree(fine).select("#errores") and not tree(fine).select('script[src$="errors.js"]')
    wrong = journey.type_code("ZZZZ-ZZZZ")
    summary = one(wrong, "main #errores")
    assert summary["role"] == "alert" and summary["tabindex"] == "-1"
    assert [a["href"] for a in summary.select("a")] == ["#codigo"]
    assert one(wrong, "#codigo")["aria-invalid"] == "true" and one(wrong, '#codigo-error')
    assert one(wrong, 'script[type="module"][src="/static/js/errors.js"]')
    first_after_heading = one(wrong, "main h1").find_next_sibling(lambda tag: tag.name != "p")
    assert first_after_heading is not None and first_after_heading.get("id") == "errores"

    photos = journey.choose(journey.type_code(quick_code(app, citizen.account_id)), aspirant_id)
    missing = journey.client.post("/ciudadano/apoyo/fotos", data={"flujo": hidden(photos, "flujo")})
    assert [a["href"] for a in one(missing, "#errores").select("a")] == ["#frente", "#foto_viva"]
    statement = journey.sign(journey.photos(photos))
    unticked = journey.give(statement)
    assert [a["href"] for a in one(unticked, "#errores").select("a")] == ["#manifiesto", "#privacidad"]


def links_in(text: str) -> list[str]:
    return URL.findall(text)


def test_the_code_mail_links_back_to_the_support_step(journey: Journey, app: Starlette, aspirant_id: int,
                                                      good_back: BackPhoto) -> None:
    ready = journey.confirm_credential(journey.back_photo(good_back))
    code = one(ready, "#codigo-activacion").get_text()
    (mail,) = outbox(app)
    body = body_of(mail)
    assert code in body
    assert links_in(body) == [app.state.settings.base_url.rstrip("/") + "/ciudadano/apoyo"]
    assert code not in links_in(body)[0] and good_back.cic not in body
    until = TIME_24H.search(body)
    assert until and one(ready, "main").get_text().count(until.group(0)) == 1  # as the page writes it


def test_a_receipt_mail_follows_the_support_once(journey: Journey, app: Starlette, citizen: SignedIn,
                                                 aspirant_id: int) -> None:
    cic = "760901471"
    statement = journey.sign(journey.photos(journey.choose(journey.type_code(quick_code(app, citizen.account_id,
                                                                                       cic=cic)), aspirant_id)))
    answers = {"manifiesto": "si", "privacidad": "si"}
    receipt = journey.give(statement, **answers)
    folio = one(receipt, "#folio").get_text()
    journey.give(statement, **answers)  # a double tap: the same support, no second mail
    (mail,) = outbox(app)
    body = body_of(mail)
    assert mail["To"] == "carmen@correo.mx" and folio in str(mail["Subject"])
    assert folio in body and "Ana Aspirante" in body and "Gubernatura" in body
    shown = one(receipt, "main dl").get_text()
    moment = TIME_24H.search(body)
    assert moment and moment.group(0) in shown  # the same moment, written the same way as on the page
    assert cic not in body and cic[-4:] not in body
    assert links_in(body) == [app.state.settings.base_url.rstrip("/") + "/ciudadano/apoyos"]
    assert "Si tú no diste este apoyo" in body


def test_the_receipt_mail_speaks_the_citizens_language(journey: Journey, app: Starlette, citizen: SignedIn,
                                                       aspirant_id: int) -> None:
    switch_language(journey.client, journey.client.get("/ciudadano/apoyo"))  # to English
    statement = journey.sign(journey.photos(journey.choose(journey.type_code(quick_code(app, citizen.account_id)),
                                                           aspirant_id)))
    journey.give(statement, manifiesto="si", privacidad="si")
    (mail,) = outbox(app)
    assert str(mail["Subject"]).startswith("We received your citizen support")
    assert "If you did not give this support" in body_of(mail)


def test_times_are_central_mexico_24_hour_in_every_language() -> None:
    afternoon = datetime(2026, 11, 30, 20, 7, tzinfo=UTC)
    assert local_time(afternoon) == "30/11/2026 14:07"
    assert local_time(afternoon.replace(tzinfo=None)) == "30/11/2026 14:07"  # SQLite's naive UTC
    assert local_time(None) == ""


def test_no_page_or_mail_formats_a_time_by_itself() -> None:
    """One helper (web.templating.local_time, the `local_time` filter) writes every time the server shows."""
    web = Path(__file__).resolve().parents[2] / "web"
    formatting = [str(path.relative_to(web)) for path in web.rglob("*.py")
                  if path.name != "templating.py" and "strftime(" in path.read_text(encoding="utf-8")]
    templates = [str(path.relative_to(web)) for path in (web / "templates").rglob("*.html")
                 if re.search(r"strftime|isoformat|format_datetime", path.read_text(encoding="utf-8"))]
    assert formatting == [] and templates == []


def test_pages_show_times_the_same_way_in_english(journey: Journey, app: Starlette, citizen: SignedIn,
                                                  aspirant_id: int) -> None:
    aspirants = journey.type_code(quick_code(app, citizen.account_id))
    spanish = one(aspirants, ".choice-detail:last-child").get_text()
    english = one(switch_language(journey.client, aspirants), ".choice-detail:last-child").get_text()
    until = TIME_24H.search(spanish)
    assert until and until.group(0) in english
