"""Registro Ciudadano in Chromium at 390x844, as a citizen would use it: sign in through the local provider,
photograph the back of the credential (a generated specimen), read the code from the mail outbox, give support,
and find it in "Mis apoyos"; then the failure paths. Every citizen page is checked with axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from auth.roles import Role
from core.db import session_scope
from tests.browser.citizen_live import (
    MovableClock,
    axe_script,
    collect_script_errors,
    load_axe,
    mail_files,
    movable_clock,
    serious_violations,
    skip_or_fail,
    wait_for_code_mail,
    wait_for_mail,
)
from tests.factories.photos import BackPhoto, plain_photo, ready_back
from tests.factories.processes import make_aspirant, make_process

pytestmark = pytest.mark.browser

SignInAs = Callable[[Any, Role], None]


@pytest.fixture(scope="module")
def good_back() -> BackPhoto:
    return ready_back(10)


@pytest.fixture
def citizen_app(live_server: Any) -> Starlette:
    """The live app (demo data, clean database) plus one open process with two aspirants for the same office."""
    app: Starlette = live_server.app
    with session_scope(app.state.engine) as db:
        process = make_process(db)
        make_aspirant(db, process=process, name="Ana Aspirante")
        make_aspirant(db, process=process, name="Beto Aspirante")
    return app


@pytest.fixture
def clock(citizen_app: Starlette) -> MovableClock:
    return movable_clock(citizen_app)


class Audit:
    """axe-core on every page visited; a no-op when axe-core is not installed (its own test says so)."""

    def __init__(self, page: Any) -> None:
        self.page, self.enabled = page, load_axe(page)
        self.violations: list[str] = []

    def __call__(self) -> None:
        if self.enabled:
            self.violations.extend(serious_violations(self.page))


@dataclass
class Citizen:
    page: Any
    url: str
    app: Starlette
    audit: Audit
    script_errors: list[str]

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)


@pytest.fixture
def citizen(page: Any, live_server: Any, citizen_app: Starlette, sign_in_as: SignInAs) -> Citizen:
    return signed_in_citizen(page, live_server, citizen_app, sign_in_as)


def signed_in_citizen(page: Any, live_server: Any, app: Starlette, sign_in_as: SignInAs) -> Citizen:
    """The phone (axe-core loaded on every page, script errors collected), signed in as the demo citizen."""
    someone = Citizen(page=page, url=live_server.url, app=app, audit=Audit(page),
                      script_errors=collect_script_errors(page))
    sign_in_as(page, Role.CITIZEN)
    return someone


def upload(page: Any, selector: str, name: str, data: bytes) -> None:
    page.set_input_files(selector, files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])


def generate_code(citizen: Citizen, photo: BackPhoto, *, audit: bool = False) -> str:
    """Generar código with the back photo; returns the code as mailed (and checks it is the one shown)."""
    page = citizen.page
    citizen.go("/ciudadano/codigo")
    upload(page, "#reverso", "reverso.jpg", photo.data)
    page.get_by_role("button", name="Leer mi credencial").click()
    page.get_by_text(photo.cic).wait_for()
    if audit:
        citizen.audit()
    mails = len(mail_files(citizen.app))
    page.get_by_role("button", name=re.compile("Sí, es mi credencial")).click()
    shown = page.locator("#codigo-activacion").inner_text()
    mailed = wait_for_code_mail(citizen.app, mails)
    assert shown == mailed
    return mailed


def wait_for_focus(page: Any, element_id: str) -> None:
    """Until the element with that id has the focus (errors.js runs once the page has been parsed)."""
    page.wait_for_function("(id) => document.activeElement && document.activeElement.id === id", arg=element_id)


def enter_code(citizen: Citizen, code: str) -> None:
    citizen.go("/ciudadano/apoyo")
    citizen.page.get_by_label("Código de activación").fill(code)
    citizen.page.get_by_role("button", name="Continuar").click()


def draw_signature(page: Any) -> None:
    box = page.locator("canvas.signature-canvas").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 120)
    page.mouse.down()
    for x, y in ((90, 40), (150, 130), (220, 50), (300, 110)):
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()
    page.wait_for_function("() => document.getElementById('firma').files.length === 1")


def give_support(citizen: Citizen, aspirant: str, *, accessible: bool = False) -> str:
    """From the aspirant step to the receipt; returns the folio."""
    page, audit = citizen.page, citizen.audit
    page.get_by_label(re.compile(aspirant)).check()
    page.get_by_role("button", name="Continuar").click()
    audit()
    upload(page, "#frente", "frente.jpg", plain_photo(140))
    upload(page, "#foto_viva", "selfie.jpg", plain_photo(175))
    page.get_by_role("button", name="Continuar").click()
    audit()
    if accessible:
        page.get_by_label(re.compile("No puedo trazar una firma")).check()
    else:
        draw_signature(page)
    page.get_by_role("button", name="Continuar").click()
    page.get_by_text(f"Manifiesto libremente mi voluntad de apoyar a {aspirant}").wait_for()
    audit()
    page.get_by_label("Sí, es mi voluntad dar este apoyo").check()
    page.get_by_label("Leí el aviso de privacidad").check()
    page.get_by_role("button", name="Dar mi apoyo", exact=True).click()
    return str(page.locator("#folio").inner_text())


def test_a_citizen_gives_support_from_their_phone(citizen: Citizen, good_back: BackPhoto) -> None:
    page, audit = citizen.page, citizen.audit
    audit()
    page.get_by_role("link", name="Generar código").click()
    audit()
    code = generate_code(citizen, good_back, audit=True)
    audit()
    assert page.locator("#paso").inner_text().startswith("Paso 3 de 7")  # one counter for code and support
    mails = len(mail_files(citizen.app))
    page.get_by_role("button", name="Dar mi apoyo ahora").click()  # the code goes on with her: no retyping
    page.get_by_role("heading", name="¿A quién quieres apoyar?").wait_for()
    assert code not in page.url and page.locator("#paso").inner_text().startswith("Paso 4 de 7")
    audit()
    page.get_by_role("link", name="English").click()  # switching language mid-flow keeps the step
    page.get_by_role("heading", name="Whom do you want to support?").wait_for()
    audit()
    page.get_by_role("link", name="Español").click()
    page.get_by_role("heading", name="¿A quién quieres apoyar?").wait_for()
    folio = give_support(citizen, "Ana Aspirante")
    assert "hora del centro de México" in page.content()
    audit()
    receipt = wait_for_mail(citizen.app, mails)
    assert folio in receipt and "Ana Aspirante" in receipt and good_back.cic not in receipt
    page.get_by_role("link", name="Mis apoyos").click()
    page.get_by_role("link", name=folio, exact=True).wait_for()
    assert "Recibido" in page.locator(".support-item", has_text=folio).inner_text()
    audit()
    assert citizen.script_errors == []
    assert audit.violations == []


def test_the_failure_paths_each_say_what_to_do(citizen: Citizen, clock: MovableClock, sign_in_as: SignInAs,
                                               good_back: BackPhoto) -> None:
    page, audit = citizen.page, citizen.audit
    citizen.go("/ciudadano/codigo")
    upload(page, "#reverso", "borrosa.jpg", plain_photo())
    page.get_by_role("button", name="Leer mi credencial").click()
    page.locator("#errores").get_by_text("No encontramos el código QR").wait_for()
    wait_for_focus(page, "errores")  # the error summary takes the focus, so it is read first
    audit()
    first = generate_code(citizen, good_back)  # the retry form was right there

    for _ in range(4):
        enter_code(citizen, "ZZZZ-ZZZZ")
        page.locator("#errores").get_by_text("El código no es correcto").wait_for()
    audit()
    wait_for_focus(page, "errores")
    page.locator("#errores a").click()  # the summary's link takes her to the field
    wait_for_focus(page, "codigo")
    enter_code(citizen, "ZZZZ-ZZZZ")
    page.locator("#errores").get_by_text("demasiadas veces").wait_for()
    enter_code(citizen, first)
    page.locator("#errores").get_by_text("demasiadas veces").wait_for()  # locked: the right code no longer works

    enter_code(citizen, generate_code(citizen, good_back))
    give_support(citizen, "Ana Aspirante", accessible=True)

    unused = generate_code(citizen, good_back)
    enter_code(citizen, unused)
    page.get_by_label(re.compile("Ana Aspirante")).check()
    page.get_by_role("button", name="Continuar").click()
    page.locator("#errores").get_by_text("Ya diste tu apoyo a esta persona").wait_for()
    audit()

    clock.offset = timedelta(hours=24, minutes=5)
    sign_in_as(page, Role.CITIZEN)  # the session itself ended long before the code did
    enter_code(citizen, unused)
    page.locator("#errores").get_by_text("Tu código venció").wait_for()
    assert citizen.script_errors == []
    assert audit.violations == []


def test_axe_core_is_there_to_check_the_pages() -> None:
    path = axe_script()
    if path is None:
        skip_or_fail("axe-core not found: npm install --prefix . --no-save axe-core (node_modules/ is git-ignored)")
    assert path is not None and path.stat().st_size > 100_000
