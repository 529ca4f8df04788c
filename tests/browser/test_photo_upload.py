"""Small uploads on slow networks (static/js/photo-shrink.js), in Chromium at 390x844: a 12 MP photo chosen on the
citizen's pages is shrunk on the phone before it is sent (the bytes on the wire are measured from the requests
themselves), a progress bar shows while it goes, the answer replaces the page as a plain post would (the redirect
to the confirmation, or the error page with its retry form still shrinking), and without JavaScript the same photo
still goes as chosen."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from starlette.applications import Starlette

from auth.roles import Role
from capture.specimens.corpus import make_sample
from capture.specimens.photo import Condition
from core.db import session_scope
from core.settings import Settings
from tests.browser.conftest import PHONE
from tests.browser.test_citizen_journey import (
    Citizen,
    draw_signature,
    enter_code,
    generate_code,
    signed_in_citizen,
    upload,
)
from tests.factories.photos import BackPhoto, warm_up_reader
from tests.factories.processes import make_aspirant, make_process

pytestmark = pytest.mark.browser

SignInAs = Callable[[Any, Role], None]
TWELVE_MP = (4000, 3000)
SHRUNK_MAX = 700_000  # one photo at 2000 px: about 0.4 MB, 7 s on a 750 kbps uplink
SUPPORT_MAX = 2_000_000  # every photo of a whole support: back, front, selfie and signature
# The page records the progress bar it shows in sessionStorage: the page it leads to can still tell.
PROGRESS_WATCH = """
new MutationObserver(() => {
  const bar = document.querySelector('.upload-progress progress');
  if (!bar) return;
  const label = document.querySelector(`label[for="${bar.id}"]`);
  const live = bar.closest('[aria-live]');
  sessionStorage.setItem('progress-seen', JSON.stringify({label: label ? label.textContent : '',
                                                          live: live ? live.getAttribute('aria-live') : ''}));
}).observe(document, {childList: true, subtree: true});
"""


def _as_from_a_phone(data: bytes, seed: int) -> bytes:
    """A 12 MP photo as a phone saves it: sensor noise and a high JPEG quality make it about 4 MB."""
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)
    noisy = pixels + np.random.default_rng(seed).normal(0, 6, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=93)
    return out.getvalue()


def _twelve_mp_back(index: int) -> BackPhoto:
    sample = make_sample(1414, Condition.NOMINAL, index, "H")
    return BackPhoto(data=_as_from_a_phone(sample.data, index), identity=sample.identity)


def _twelve_mp_selfie() -> bytes:
    image = Image.new("RGB", TWELVE_MP, (170, 150, 130))
    ImageDraw.Draw(image).ellipse((1200, 600, 2800, 2600), fill=(120, 85, 60))
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(3)).save(out, "JPEG", quality=95)
    return _as_from_a_phone(out.getvalue(), 99)


@pytest.fixture(scope="module")
def big_back() -> BackPhoto:
    warm_up_reader()
    return _twelve_mp_back(0)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The server reads the full 12 MP photo in the no-JavaScript test: on a busy 2-core machine that must not
    # run out of the decode budget, which is not what these tests are about.
    return settings.model_copy(update={"decode_budget_ms": 60_000})


@pytest.fixture
def citizen_app(live_server: Any) -> Starlette:
    app: Starlette = live_server.app
    with session_scope(app.state.engine) as db:
        make_aspirant(db, process=make_process(db), name="Ana Aspirante")
    return app


@dataclass
class Sent:
    """The multipart bodies the page posted, by path."""

    bodies: dict[str, list[int]]

    def sizes(self, path: str) -> list[int]:
        return self.bodies.get(path, [])


def record_posts(page: Any) -> Sent:
    """Playwright gives no post_data_buffer (nor a body size) for a body made of files: the Content-Length the
    browser sent, among the headers as they went on the wire, is the size."""
    sent = Sent(bodies={})

    def on_finished(request: Any) -> None:
        if request.method == "POST" and "multipart/form-data" in (request.headers.get("content-type") or ""):
            path = re.sub(r"^https?://[^/]+", "", request.url).split("?")[0]
            sent.bodies.setdefault(path, []).append(int(request.all_headers().get("content-length", 0)))

    page.on("requestfinished", on_finished)
    return sent


@pytest.fixture
def citizen(page: Any, live_server: Any, citizen_app: Starlette, sign_in_as: SignInAs) -> Citizen:
    page.context.add_init_script(script=PROGRESS_WATCH)
    return signed_in_citizen(page, live_server, citizen_app, sign_in_as)


def test_a_12_mp_back_is_shrunk_before_it_is_sent_and_reaches_the_confirmation(citizen: Citizen,
                                                                                big_back: BackPhoto) -> None:
    page, sent = citizen.page, record_posts(citizen.page)
    assert len(big_back.data) > 3_000_000
    citizen.go("/ciudadano/codigo")
    upload(page, "#reverso", "IMG_0001.jpg", _as_from_a_phone(_twelve_mp_selfie(), 5))  # no credential in it
    page.get_by_role("button", name="Leer mi credencial").click()
    page.locator("#errores").wait_for(timeout=60_000)  # the error page, shown in place
    assert page.evaluate("sessionStorage.getItem('progress-seen')") is not None

    page.evaluate("sessionStorage.removeItem('progress-seen')")
    upload(page, "#reverso", "IMG_0002.jpg", big_back.data)  # the retry form shrinks too
    page.get_by_role("button", name="Leer mi credencial").click()
    page.get_by_text(big_back.cic).wait_for()
    assert page.url.split("?")[0].endswith("/ciudadano/codigo/confirmar")

    sizes = sent.sizes("/ciudadano/codigo")
    assert len(sizes) == 2 and all(0 < size < SHRUNK_MAX for size in sizes), sizes
    seen = page.evaluate("sessionStorage.getItem('progress-seen')")
    assert seen and '"live":"polite"' in seen and "Envío de las fotos" in seen
    assert citizen.script_errors == []


def test_a_whole_support_sends_less_than_2_mb_of_photos(citizen: Citizen, big_back: BackPhoto) -> None:
    page, sent = citizen.page, record_posts(citizen.page)
    code = generate_code(citizen, big_back)
    enter_code(citizen, code)
    page.get_by_label(re.compile("Ana Aspirante")).check()
    page.get_by_role("button", name="Continuar").click()
    upload(page, "#frente", "IMG_0003.jpg", _twelve_mp_back(1).data)
    upload(page, "#foto_viva", "IMG_0004.jpg", _twelve_mp_selfie())
    page.get_by_role("button", name="Continuar").click()
    draw_signature(page)
    page.get_by_role("button", name="Continuar").click()
    page.get_by_label("Sí, es mi voluntad dar este apoyo").wait_for()

    photos = [*sent.sizes("/ciudadano/codigo"), *sent.sizes("/ciudadano/apoyo/fotos"),
              *sent.sizes("/ciudadano/apoyo/firma")]
    assert len(photos) == 3 and sum(photos) < SUPPORT_MAX, photos
    assert citizen.script_errors == []


@pytest.fixture
def page_without_javascript(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX",
                                  java_script_enabled=False)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_javascript_the_plain_upload_of_the_same_photo_still_works(
        page_without_javascript: Any, live_server: Any, citizen_app: Starlette, sign_in_as: SignInAs,
        big_back: BackPhoto) -> None:
    page = page_without_javascript
    sent = record_posts(page)
    sign_in_as(page, Role.CITIZEN)
    page.goto(live_server.path("/ciudadano/codigo"))
    upload(page, "#reverso", "IMG_0001.jpg", big_back.data)
    page.get_by_role("button", name="Leer mi credencial").click()
    page.get_by_text(big_back.cic).wait_for()
    assert sent.sizes("/ciudadano/codigo") and sent.sizes("/ciudadano/codigo")[0] > len(big_back.data)
