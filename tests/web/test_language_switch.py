"""The header's language link keeps the page's step: on every step of the citizen journey (code and support),
on a step shown again with its errors (the answer to a form, whose own address has no query), and on the field
capture and its confirmation (whose draft holds a CIC, so it waits in an encrypted cookie, never in the address)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.db import session_scope
from tests.factories import photos as made_photos
from tests.factories.accounts import citizen_account_id
from tests.factories.photos import BackPhoto, ready_back
from tests.factories.processes import make_field_auxiliary, open_aspirant_id
from tests.web.citizen_pages import Journey, Page, hidden, one, quick_code, step, switch_language, tree


@pytest.fixture(scope="module")
def good_back() -> BackPhoto:
    return ready_back(21)


@pytest.fixture
def aspirant_id(app: Starlette) -> int:
    return open_aspirant_id(app.state.engine)


@pytest.fixture
def citizen_id(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> int:
    account_id = citizen_account_id(app.state.engine)
    sign_in(client, account_id)
    return account_id


@pytest.fixture
def journey(client: TestClient, citizen_id: int) -> Journey:
    return Journey(client)


def assert_same_step_in_both_languages(client: TestClient, page: Page, *, state: str | None = "flujo") -> Page:
    """English and back to Spanish through the header link: same step, same form, the step state still there
    (and no "start again")."""
    assert page.status_code in (200, 400), page.text
    before_step, before_form = step(page), one(page, "main form")["action"]
    english = switch_language(client, page)
    spanish = switch_language(client, english)
    for switched, lang in ((english, "en"), (spanish, "es-MX")):
        assert switched.status_code == 200, switched.text
        assert one(switched, "html")["lang"] == lang
        assert step(switched) == before_step and one(switched, "main form")["action"] == before_form
        if state:
            assert hidden(switched, state)
    return english


def test_every_citizen_step_keeps_its_state_across_a_language_switch(journey: Journey, aspirant_id: int,
                                                                     good_back: BackPhoto) -> None:
    client = journey.client
    assert_same_step_in_both_languages(client, client.get("/ciudadano/codigo"), state=None)
    confirm = journey.back_photo(good_back)
    english = assert_same_step_in_both_languages(client, confirm)
    assert one(english, "dd.identifier").get_text() == good_back.cic  # the reading, not a new start

    ready = journey.confirm_credential(confirm)
    code = one(ready, "#codigo-activacion").get_text()
    english = assert_same_step_in_both_languages(client, ready, state="codigo_ref")
    assert one(english, "#codigo-activacion").get_text() == code

    aspirants = journey.continue_with_shown_code(ready)
    assert_same_step_in_both_languages(client, aspirants)
    photos = journey.choose(aspirants, aspirant_id)
    assert_same_step_in_both_languages(client, photos)
    signature = journey.photos(photos)
    assert_same_step_in_both_languages(client, signature)
    statement = journey.sign(signature)
    english = assert_same_step_in_both_languages(client, statement)
    assert "Ana Aspirante" in one(english, "#manifiesto-texto").get_text()
    assert client.get("/ciudadano/apoyo/confirmar?lang=es_MX").status_code == 400  # the state was needed


def test_a_step_shown_again_with_its_errors_keeps_its_state(journey: Journey, app: Starlette, citizen_id: int,
                                                           aspirant_id: int) -> None:
    client = journey.client
    typed = assert_same_step_in_both_languages(client, journey.type_code("ZZZZ-ZZZZ"), state=None)
    assert step(typed) == "code"
    aspirants = journey.type_code(quick_code(app, citizen_id))
    photos = journey.choose(aspirants, aspirant_id)
    half = journey.photos(photos, live=False)  # the front is kept, the selfie is missing
    assert half.status_code == 400 and one(half, "#foto_viva-error")
    english = switch_language(client, half)
    assert step(english) == "photos" and one(english, "#frente-kept")  # the front photo is still on file
    assert not tree(english).select("#errores")  # no "start again"


@pytest.fixture
def auxiliary(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> None:
    with session_scope(app.state.engine) as db:
        account_id = make_field_auxiliary(db).account_id
    sign_in(client, account_id)


def _field_step_one(client: TestClient, back: bytes) -> Page:
    page = client.get("/campo/captura")
    files = {"reverso": ("r.jpg", back, "image/jpeg"),
             "frente": ("f.jpg", made_photos.plain_photo(170), "image/jpeg"),
             "foto_viva": ("v.jpg", made_photos.plain_photo(150), "image/jpeg"),
             "firma": ("s.png", made_photos.signature_png(), "image/png")}
    data = {"aspirante": hidden(page, "aspirante"), "manifestacion": "si"}
    return client.post("/campo/captura", data=data, files=files)


def test_the_field_confirmation_keeps_its_draft_across_a_language_switch(client: TestClient,
                                                                         auxiliary: None) -> None:
    english_capture = switch_language(client, client.get("/campo/captura"))
    assert one(english_capture, "html")["lang"] == "en" and one(english_capture, "form#captura")
    switch_language(client, english_capture)  # back to Spanish
    cic = made_photos.flat_identity(4).cic
    confirm = _field_step_one(client, made_photos.flat_back(4))
    assert confirm.url.path == "/campo/captura/confirmar" and cic not in str(confirm.url)
    english = switch_language(client, confirm)
    assert one(english, "html")["lang"] == "en"
    assert one(english, ".confirm-cic strong").get_text() == cic and hidden(english, "borrador")
    stored = client.post("/campo/captura/confirmar", data={"borrador": hidden(english, "borrador")})
    assert stored.status_code == 200 and one(stored, ".receipt-folio strong")
    again = switch_language(client, stored)  # the draft is spent: a fresh capture form, not the old draft
    assert again.url.path == "/campo/captura" and one(again, "form#captura")


def test_a_field_confirmation_with_errors_keeps_its_draft_across_a_language_switch(client: TestClient,
                                                                                    auxiliary: None) -> None:
    confirm = _field_step_one(client, made_photos.unreadable_back())
    wrong = client.post("/campo/captura/confirmar", data={"borrador": hidden(confirm, "borrador"), "cic": "12345"})
    assert wrong.status_code == 400 and one(wrong, "#cic-error")
    english = switch_language(client, wrong)
    assert english.url.path == "/campo/captura/confirmar" and one(english, "html")["lang"] == "en"
    assert hidden(english, "borrador") and one(english, "input#cic")


@pytest.mark.parametrize("path", ["/ayuda/%00", "/ayuda/%22%3E%3Cx%3E", "/datos/a%20b%25"])
def test_the_language_link_of_a_strange_address_is_the_same_address_encoded(client: TestClient, path: str) -> None:
    """A page answered for any address (a 404 among them) links to itself in the other language: the decoded path
    must not come back raw (a NUL or a quote in an href), but encoded as it came."""
    page = client.get(path)
    links = [link["href"] for link in tree(page).select("header nav.lang-switch a")]
    assert links, page.text[:300]
    for href in links:
        assert href.startswith(f"{path}?lang="), href
        assert "\x00" not in href and '"' not in href and " " not in href
