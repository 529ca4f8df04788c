"""The phone's field queue honours Retry-After: a batch answered 503 (server overloaded) with Retry-After: 120 is
sent again no sooner than 120 seconds later and within the bounded jitter after it, with the capture kept on the
phone meanwhile, and then it arrives once. Chromium's clock is moved forward (page.clock), never waited for;
the 503 comes from the network layer (page.route), so the queue's JavaScript sees a real HTTP answer. And a batch
the server stored whose answer was lost on the way back (the connection reset) is sent again and stored once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from auth.roles import Role
from registry.demo_supports import KEY_PREFIX as DEMO_KEY_PREFIX
from registry.models import Support
from tests.browser.conftest import SignInAs, phone_page
from tests.factories.photos import flat_back, plain_photo, signature_png

pytestmark = pytest.mark.browser

RETRY_AFTER_SECONDS = 120
JITTER_AT_MOST = 0.25  # static/js/field-queue.js RETRY_JITTER
# Each call to the batch API, at the page's (fake) clock: the times the queue chose to send.
RECORD_BATCH_TIMES = """
window.batchTimes = [];
const originalFetch = window.fetch.bind(window);
window.fetch = (url, options) => {
  if (String(url).includes("/api/campo/lote")) window.batchTimes.push(Date.now());
  return originalFetch(url, options);
};
"""


def _capture(page: Any) -> None:
    files = {"reverso": flat_back(41), "frente": plain_photo(170), "foto_viva": plain_photo(190)}
    for field, data in files.items():
        page.set_input_files(f"#{field}", files=[{"name": f"{field}.jpg", "mimeType": "image/jpeg", "buffer": data}])
    page.set_input_files("#firma", files=[{"name": "firma.png", "mimeType": "image/png", "buffer": signature_png()}])
    page.check("#manifestacion")
    page.locator("#captura button[type=submit]").click()


def _stored_folios(app: Starlette) -> list[str]:
    with Session(app.state.engine) as db:
        return sorted(db.exec(select(Support.folio).where(
            col(Support.idempotency_key).not_like(DEMO_KEY_PREFIX + "%"))).all())


def test_a_batch_answered_503_waits_for_its_retry_after_and_the_capture_stays_queued(
        live_server: Any, sign_in_as: SignInAs, browser: Any) -> None:
    # No service worker: the page's own requests go through page.route (the worker sends /api/ straight on anyway).
    answered: list[int] = []

    def overloaded_once(route: Any) -> None:
        if not answered:
            answered.append(503)
            route.fulfill(status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
                          content_type="application/json", body='{"error": "overloaded", "retry_after": 120}')
        else:
            answered.append(0)
            route.continue_()

    with phone_page(browser, service_workers="block") as page:
        page.add_init_script(RECORD_BATCH_TIMES)
        page.route("**/api/campo/lote", overloaded_once)
        page.clock.install()  # the queue's timers are moved forward instead of waited for
        sign_in_as(page, Role.AUXILIARY)
        page.goto(live_server.path("/campo/captura"))
        with page.expect_request("**/api/campo/lote"):
            _capture(page)
        # The 503 is handled (no item is "sending" any more) and the capture is still on the phone.
        page.wait_for_function("() => window.batchTimes.length === 1 && "
                               "!document.querySelector('#cola-lista li[data-state=sending]') && "
                               "document.querySelectorAll('#cola-lista li[data-state=pending]').length === 1")
        page.clock.run_for(60_000)
        assert page.locator("#cola-lista li[data-state=pending]").count() == 1
        page.clock.run_for(int(RETRY_AFTER_SECONDS * (1 + JITTER_AT_MOST) * 1000) - 60_000 + 1_000)
        page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=received]').length === 1",
                               timeout=30_000)
        # Sent again once the pause was over (the clock only went that far), and not before (the old back-off
        # retried after 10 s).
        first, second = page.evaluate("window.batchTimes")
        assert (second - first) / 1000 >= RETRY_AFTER_SECONDS
        assert answered == [503, 0]
        folio = page.locator("#cola-lista li[data-state=received]").get_attribute("data-folio")
        assert _stored_folios(live_server.app) == [folio]


def test_a_batch_stored_whose_answer_never_reached_the_phone_is_sent_again_and_stored_once(
        live_server: Any, sign_in_as: SignInAs, browser: Any) -> None:
    # The signal drops while the answer travels back: the server has stored the support, the phone heard nothing.
    answered: list[int] = []

    def answer_lost_once(route: Any) -> None:
        if not answered:
            answered.append(route.fetch().status)  # the request reaches the server and is answered...
            route.abort("connectionreset")  # ...but the answer never reaches the phone
        else:
            answered.append(0)
            route.continue_()

    with phone_page(browser, service_workers="block") as page:
        page.route("**/api/campo/lote", answer_lost_once)
        page.clock.install()
        sign_in_as(page, Role.AUXILIARY)
        page.goto(live_server.path("/campo/captura"))
        with page.expect_request("**/api/campo/lote"):
            _capture(page)
        page.wait_for_function("() => !document.querySelector('#cola-lista li[data-state=sending]') && "
                               "document.querySelectorAll('#cola-lista li[data-state=pending]').length === 1")
        stored = _stored_folios(live_server.app)
        assert answered == [200] and len(stored) == 1  # stored, though the phone still holds it as pending
        page.clock.run_for(120_000)
        page.wait_for_function("() => document.querySelectorAll('#cola-lista li[data-state=received]').length === 1",
                               timeout=30_000)
        folio = page.locator("#cola-lista li[data-state=received]").get_attribute("data-folio")
        assert answered == [200, 0] and _stored_folios(live_server.app) == stored == [folio]
