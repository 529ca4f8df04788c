"""Field capture in Chromium at 390x844: an aspirant invites an auxiliary, who accepts by signing in, captures
three supports with no signal, closes and reopens the page (served by the service worker), and when the signal
returns all three arrive exactly once with folios. Then a batch whose second write fails on the server: that item
alone is undone, the phone retries it on its own and nothing is stored twice (a batch stored whose answer never
reached the phone: tests/browser/test_field_retry_after.py). Last, the queue outlives the browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select
from starlette.applications import Starlette

import registry.field
from auth.models import Account, RoleGrant
from auth.roles import Role
from core.db import session_scope
from registry.demo_supports import KEY_PREFIX as DEMO_KEY_PREFIX
from registry.field import record_capture
from registry.models import Auxiliary, Support
from registry.states import InvitationState
from registry.supports import SupportReceipt
from tests.browser.citizen_live import collect_script_errors, load_axe, serious_violations
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.delivered_mail import wait_for_delivery
from tests.factories.photos import flat_back, plain_photo, signature_png

pytestmark = pytest.mark.browser

SignInAs = Callable[[Any, Role], None]
AUXILIARY_EMAIL = "auxiliar@demo.registro.local"
QUEUE_ITEMS = "#cola-lista li[data-key]"


@pytest.fixture
def new_phone(browser: Any) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []

    def open_phone() -> Any:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


def _forget_demo_auxiliary(app: Starlette) -> None:
    """The demo auxiliary starts as a plain citizen, so the aspirant can invite that address."""
    with session_scope(app.state.engine) as db:
        account = db.exec(select(Account).where(Account.email == AUXILIARY_EMAIL)).one()
        # Its demo supports keep their auxiliary row: it is detached from the account and the address instead.
        for auxiliary in db.exec(select(Auxiliary).where(col(Auxiliary.account_id) == account.id)):
            auxiliary.account_id, auxiliary.email = None, f"antes-{auxiliary.id}@demo.registro.local"
            auxiliary.clave_elector = f"ANTESX90010126H{(auxiliary.id or 0) % 1000:03d}"
            auxiliary.state = InvitationState.REVOKED
            db.add(auxiliary)
        db.exec(delete(RoleGrant).where(col(RoleGrant.account_id) == account.id))  # type: ignore[call-overload]
        db.add(RoleGrant(account_id=account.id, role=Role.CITIZEN))


def _invitation_path(app: Starlette) -> str:
    text = wait_for_delivery(app.state.engine, app.state.settings.outbox_dir, AUXILIARY_EMAIL)
    found = re.search(r"/campo/invitacion/\S+", text)
    assert found is not None
    return found.group(0)


def _wait_for_service_worker(page: Any) -> None:
    """A page whose load raced the worker's activation can stay uncontrolled (clients.claim() passes over a page
    still loading); as on a phone, its next load is controlled."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if page.evaluate("() => navigator.serviceWorker.controller === null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def _capture(page: Any, seed: int) -> None:
    files = {"reverso": flat_back(seed), "frente": plain_photo(170), "foto_viva": plain_photo(150 + seed)}
    for field, data in files.items():
        page.set_input_files(f"#{field}", files=[{"name": f"{field}.jpg", "mimeType": "image/jpeg", "buffer": data}])
    page.set_input_files("#firma", files=[{"name": "firma.png", "mimeType": "image/png", "buffer": signature_png()}])
    page.check("#manifestacion")
    before = page.locator(QUEUE_ITEMS).count()
    page.locator("#captura button[type=submit]").click()  # "Guardar captura", in whichever language
    page.wait_for_function(f"() => document.querySelectorAll('{QUEUE_ITEMS}').length > {before}")


def _folios_on_phone(page: Any, count: int) -> list[str]:
    received = page.locator("#cola-lista li[data-state=received]")
    page.wait_for_function(f"() => document.querySelectorAll('#cola-lista li[data-state=received]').length === {count}",
                           timeout=30_000)
    return sorted(received.nth(n).get_attribute("data-folio") or "" for n in range(count))


def _stored_folios(app: Starlette) -> list[str]:
    """The folios captured in the test (the demo data's own supports left out)."""
    with Session(app.state.engine) as db:
        return sorted(db.exec(select(Support.folio).where(
            col(Support.idempotency_key).not_like(DEMO_KEY_PREFIX + "%"))).all())


def test_invited_auxiliary_captures_offline_and_every_capture_arrives_once(
        live_server: Any, sign_in_as: SignInAs, new_phone: Callable[[], Any]) -> None:
    app: Starlette = live_server.app
    _forget_demo_auxiliary(app)
    aspirant = new_phone()
    audited = load_axe(aspirant)
    sign_in_as(aspirant, Role.ASPIRANT)
    aspirant.goto(live_server.path("/aspirante/auxiliares/nuevo"))
    violations = serious_violations(aspirant) if audited else []
    aspirant.fill("#nombre", "Beto Auxiliar Demo")
    aspirant.fill("#clave_elector", "AUDEBE90010126H100")
    aspirant.fill("#correo", AUXILIARY_EMAIL)
    aspirant.fill("#telefono", "6620000000")
    aspirant.get_by_role("button", name="Registrar e invitar").click()
    aspirant.wait_for_url(re.compile(r"/aspirante\?hecho=registrado$"))
    assert "Invitado" in aspirant.locator(".team-member", has_text=AUXILIARY_EMAIL).inner_text()
    violations += serious_violations(aspirant) if audited else []

    phone = new_phone()
    errors = collect_script_errors(phone)
    load_axe(phone)
    sign_in_as(phone, Role.AUXILIARY)
    phone.goto(live_server.path(_invitation_path(app)))
    violations += serious_violations(phone) if audited else []
    phone.get_by_role("button", name="Aceptar la invitación").click()
    phone.wait_for_url(re.compile(r"/campo\?bienvenida=1$"))
    violations += serious_violations(phone) if audited else []
    phone.goto(live_server.path("/campo/captura"))
    _wait_for_service_worker(phone)
    violations += serious_violations(phone) if audited else []

    phone.context.set_offline(True)
    for seed in (21, 22, 23):
        _capture(phone, seed)
    assert phone.locator("#cola-lista li[data-state=pending]").count() == 3
    assert "Sin conexión" in phone.locator("#conexion").inner_text()

    context = phone.context
    phone.close()
    phone = context.new_page()
    errors += collect_script_errors(phone)
    phone.goto(live_server.path("/campo/captura"))  # no network: the service worker's copy
    phone.wait_for_function(f"() => document.querySelectorAll('{QUEUE_ITEMS}').length === 3")
    assert _stored_folios(app) == []

    context.set_offline(False)
    folios = _folios_on_phone(phone, 3)
    assert folios == _stored_folios(app) and all(f.startswith("RC-") for f in folios)
    assert errors == [] and violations == []


def test_a_write_failing_mid_batch_is_retried_by_the_phone_and_stored_once(
        live_server: Any, sign_in_as: SignInAs, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app: Starlette = live_server.app
    seen: list[str] = []
    broken = [True]  # until the phone shows the failed item pending: each write of it fails, however often tried

    def fails_while_broken(**kwargs: Any) -> SupportReceipt:
        """The second item's write fails after its rows are made: only that item is undone; the phone keeps it."""
        key = kwargs["capture"].client_key
        seen.extend([key] if key not in seen else [])
        receipt = record_capture(**kwargs)
        if broken[0] and seen.index(key) == 1:
            raise ConnectionResetError("the database connection dropped mid-write")
        return receipt

    monkeypatch.setattr(registry.field, "record_capture", fails_while_broken)
    page.clock.install()  # the phone's retry timer is moved forward instead of waited for
    sign_in_as(page, Role.AUXILIARY)
    page.goto(live_server.path("/campo/captura"))
    _wait_for_service_worker(page)
    page.context.set_offline(True)
    for seed in (31, 32, 33):
        _capture(page, seed)
    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=received]').length === 2",
                           timeout=30_000)
    assert page.locator("#cola-lista li[data-state=pending]").count() == 1
    assert len(_stored_folios(app)) == 2  # the failed item left nothing behind
    broken[0] = False
    page.clock.run_for(60_000)
    folios = _folios_on_phone(page, 3)
    assert folios == _stored_folios(app)


def test_the_queue_outlives_closing_the_whole_browser(live_server: Any, sign_in_as: SignInAs, browser: Any,
                                                      tmp_path: Any) -> None:
    profile = tmp_path / "telefono"

    def start_phone() -> Any:
        context = browser.browser_type.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, viewport=PHONE, is_mobile=True,
            has_touch=True, locale="es-MX")
        context.set_default_timeout(15_000)
        return context

    phone = start_phone()
    try:
        page = phone.new_page()
        sign_in_as(page, Role.AUXILIARY)
        page.goto(live_server.path("/campo/captura"))
        _wait_for_service_worker(page)
        phone.set_offline(True)
        _capture(page, 41)
    finally:
        phone.close()
    phone = start_phone()
    try:
        phone.set_offline(True)
        page = phone.new_page()
        page.goto(live_server.path("/campo/captura"))
        page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=pending]').length === 1")
        phone.set_offline(False)
        assert _folios_on_phone(page, 1) == _stored_folios(live_server.app)
    finally:
        phone.close()


@pytest.mark.parametrize(("lang", "shown"), [("es_MX", "30/11/2026, 00:07"), ("en", "11/30/2026, 00:07")])
def test_the_queue_shows_capture_times_on_a_24_hour_clock(live_server: Any, sign_in_as: SignInAs, browser: Any,
                                                          lang: str, shown: str) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX",
                                  timezone_id="America/Mexico_City")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.clock.set_fixed_time(datetime(2026, 11, 30, 6, 7, tzinfo=UTC))  # seven past midnight in CDMX
        sign_in_as(page, Role.AUXILIARY)
        page.goto(live_server.path(f"/campo/captura?lang={lang}"))  # the page's language picks the format
        assert page.get_attribute("html", "lang") == ("es-MX" if lang == "es_MX" else "en")
        context.set_offline(True)  # the capture stays in the queue, with the time the phone gave it
        _capture(page, 51)
        moment = page.locator("#cola-lista li[data-state=pending] .queue-when").inner_text()
        assert shown in moment and not re.search(r"[ap]\.?\s?m\.?", moment, re.IGNORECASE)
    finally:
        context.close()
