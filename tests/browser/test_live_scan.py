"""Scan, don't photograph (issue 15): Chromium's fake camera plays a credential back that comes into the frame
blurred, then holds sharp. With no shutter button pressed, the page reads the small QR live (zxing-wasm), keeps the
sharpest still and sends it: the citizen lands on the confirmation page with the card's CIC, read again by the
server. On the field page the same scan works with the network off (the .wasm comes from the service worker) and
the capture is queued on the phone, then arrives with a folio."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auth.roles import Role
from capture.specimens import SpecimenIdentity
from tests.browser.citizen_live import collect_script_errors
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.browser.fake_camera import fake_camera_args, scan_identity, write_card_video
from tests.factories.photos import plain_photo, signature_png, warm_up_reader

pytestmark = pytest.mark.browser

SignInAs = Callable[[Any, Role], None]
SCAN_BUTTON = "Escanear con la cámara"
SCAN_TIMEOUT_MS = 60_000  # 2 cores shared by the page's WebAssembly, the fake camera and the server's decoder
# Keeps every text the scanner's live hint (aria-live) showed, in order, for the test to read afterwards.
RECORD_HINTS = """
window.liveScanHints = [];
new MutationObserver(() => {
  for (const hint of document.querySelectorAll('.live-scan-hint')) {
    if (window.liveScanHints.at(-1) !== hint.textContent) window.liveScanHints.push(hint.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> tuple[SpecimenIdentity, Path]:
    identity = scan_identity(7)
    return identity, write_card_video(identity, tmp_path_factory.mktemp("camara") / "reverso.y4m")


def _phone_filming(browser: Any, video: Path) -> Iterator[Any]:
    """A phone whose rear camera films `video` (a browser of its own: the fake camera is a launch flag)."""
    chromium = browser.browser_type.launch(executable_path=str(CHROMIUM),
                                           args=[*CHROMIUM_ARGS, *fake_camera_args(video)])
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX",
                                   permissions=["camera"])
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
        chromium.close()


@pytest.fixture
def camera_phone(browser: Any, card: tuple[SpecimenIdentity, Path]) -> Iterator[Any]:
    warm_up_reader()  # the server's first read loads the OCR model: not inside the page's wait
    yield from _phone_filming(browser, card[1])


@pytest.fixture
def glare_phone(browser: Any, tmp_path: Path) -> Iterator[Any]:
    yield from _phone_filming(browser, write_card_video(scan_identity(8), tmp_path / "reflejo.y4m", glare=True))


def _scan(page: Any) -> None:
    """Open the camera; the scan ends on its own (no shutter button exists to press)."""
    page.get_by_role("button", name=SCAN_BUTTON).click()
    assert page.get_by_role("button", name=re.compile("Tomar la foto")).count() == 0
    page.get_by_role("button", name="Cancelar el escaneo").wait_for()


def test_the_citizen_scans_the_back_and_reaches_the_confirmation_without_a_shutter(
        live_server: Any, sign_in_as: SignInAs, camera_phone: Any, card: tuple[SpecimenIdentity, Path]) -> None:
    page = camera_phone
    errors = collect_script_errors(page)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in_as(page, Role.CITIZEN)
    response = page.goto(live_server.path("/ciudadano/codigo"))
    assert "'wasm-unsafe-eval'" in response.headers["content-security-policy"]
    _scan(page)
    page.wait_for_url(re.compile(r"/ciudadano/codigo/confirmar"), timeout=SCAN_TIMEOUT_MS)
    assert page.locator("dd.identifier").inner_text() == card[0].cic
    assert errors == [] and violations == []


def _wait_for_service_worker(page: Any) -> None:
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if page.evaluate("() => navigator.serviceWorker.controller === null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def _rest_of_the_capture(page: Any) -> None:
    for field, data in {"frente": plain_photo(170), "foto_viva": plain_photo(155)}.items():
        page.set_input_files(f"#{field}", files=[{"name": f"{field}.jpg", "mimeType": "image/jpeg", "buffer": data}])
    page.set_input_files("#firma", files=[{"name": "firma.png", "mimeType": "image/png", "buffer": signature_png()}])
    page.check("#manifestacion")
    page.locator("#captura button[type=submit]").click()


def test_the_field_page_scans_offline_and_queues_the_capture(
        live_server: Any, sign_in_as: SignInAs, camera_phone: Any) -> None:
    page = camera_phone
    errors = collect_script_errors(page)
    page.add_init_script(RECORD_HINTS)
    sign_in_as(page, Role.AUXILIARY)
    page.goto(live_server.path("/campo/captura"))
    _wait_for_service_worker(page)
    page.context.set_offline(True)
    page.reload()  # no network: the page, live-scan.js, zxing-wasm and its .wasm come from the service worker
    _scan(page)
    page.wait_for_function("() => document.getElementById('reverso').files.length === 1", timeout=SCAN_TIMEOUT_MS)
    assert "Sin conexión" in page.locator("#lectura").inner_text()
    assert "Mantén firme" in page.evaluate("() => window.liveScanHints")  # the QR was seen: hold still
    _rest_of_the_capture(page)
    page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=pending]').length === 1")

    page.context.set_offline(False)  # the still goes with the queue; the server reads it and decides
    page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=received]').length === 1",
                           timeout=SCAN_TIMEOUT_MS)
    assert page.locator("#cola-lista li[data-state=received]").get_attribute("data-folio", timeout=0)
    assert errors == []


def test_a_reflection_over_the_qr_gets_a_hint_and_nothing_is_sent_until_the_scan_is_cancelled(
        live_server: Any, sign_in_as: SignInAs, glare_phone: Any) -> None:
    page = glare_phone
    errors = collect_script_errors(page)
    sign_in_as(page, Role.CITIZEN)
    page.goto(live_server.path("/ciudadano/codigo"))
    _scan(page)
    page.get_by_role("status").filter(has_text="Evita reflejos").wait_for(timeout=SCAN_TIMEOUT_MS)
    assert page.evaluate("() => document.getElementById('reverso').files.length") == 0
    page.get_by_role("button", name="Cancelar el escaneo").click()
    assert page.locator("video").count() == 0  # the camera is closed, not left running behind the page
    assert page.evaluate("() => document.activeElement.textContent") == SCAN_BUTTON
    assert page.url.endswith("/ciudadano/codigo") and errors == []
