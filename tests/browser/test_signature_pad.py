"""The signature pad (static/js/signature.js on the vendored signature_pad) and the field queue (on the vendored idb)
in Chromium at 390x844, on the field capture page: «Deshacer» takes back the last stroke and the form field always
holds what the pad shows (empty once nothing is left), a pen's pressure widens its strokes, the libraries come from
/static/vendor and nothing from another origin, and a capture queued by the IndexedDB code before the move to idb
is still sent after it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from auth.roles import Role
from registry.demo_supports import KEY_PREFIX as DEMO_KEY_PREFIX
from registry.models import Support
from tests.browser.citizen_live import collect_script_errors
from tests.factories.photos import flat_back, plain_photo, signature_png

pytestmark = pytest.mark.browser

SignInAs = Callable[[Any, Role], None]
CANVAS = "canvas.signature-canvas"

# Inked pixels (alpha > 0) of the pad, and of the PNG the form would post (file input, or the data: URL fallback).
INK = """async () => {
    const count = (context, width, height) => {
        const pixels = context.getImageData(0, 0, width, height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
        return inked;
    };
    const canvas = document.querySelector('canvas.signature-canvas');
    const shown = count(canvas.getContext('2d'), canvas.width, canvas.height);
    const file = document.getElementById('firma').files[0];
    const url = document.getElementById('firma_datos').value;
    let posted = null;
    if (file || url) {
        const bitmap = await createImageBitmap(file || await (await fetch(url)).blob());
        const copy = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
        copy.drawImage(bitmap, 0, 0);
        posted = count(copy, bitmap.width, bitmap.height);
    }
    return {shown, posted};
}"""


def _open_pad(page: Any, live_server: Any, sign_in_as: SignInAs) -> None:
    sign_in_as(page, Role.AUXILIARY)
    page.goto(live_server.path("/campo/captura"))
    page.locator(CANVAS).wait_for()


def _canvas_box(page: Any) -> dict[str, float]:
    """Where the pad is in the viewport now (the pad sits below the photos: scrolled to first)."""
    page.wait_for_load_state("networkidle")  # the photo fields' scripts have added their buttons above it
    page.locator(CANVAS).scroll_into_view_if_needed()
    box: dict[str, float] = page.locator(CANVAS).bounding_box()
    return box


def _stroke(page: Any, points: list[tuple[int, int]]) -> None:
    box = _canvas_box(page)
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()


def _settled_ink(page: Any) -> int:
    """The pad's ink once the posted PNG shows exactly what the pad shows (the PNG is made asynchronously)."""
    # wait_for_function does not await a promise: each poll starts a count and checks the last one finished. A
    # count started before this call (a new "round") is not trusted: it may predate the last stroke.
    page.evaluate("() => { window.inkRound = (window.inkRound || 0) + 1; window.inkDone = null; }")
    settled = page.wait_for_function(f"""() => {{
        if (!window.inkCount) {{
            const round = window.inkRound;
            window.inkCount = ({INK})().then((ink) => {{
                window.inkCount = null;
                if (round === window.inkRound) window.inkDone = ink;
            }});
        }}
        const ink = window.inkDone;
        window.inkDone = null;
        return ink && ink.shown > 0 && ink.posted === ink.shown ? ink.shown : false;
    }}""", polling=100)
    return int(settled.json_value())


def test_undo_takes_back_the_last_stroke_and_the_form_posts_what_the_pad_shows(
        page: Any, live_server: Any, sign_in_as: SignInAs) -> None:
    errors = collect_script_errors(page)
    _open_pad(page, live_server, sign_in_as)
    undo = page.get_by_role("button", name="Deshacer el último trazo")
    assert undo.is_disabled()  # nothing to undo yet
    _stroke(page, [(20, 40), (60, 120), (100, 50), (140, 130)])
    one = _settled_ink(page)
    _stroke(page, [(200, 40), (240, 130), (290, 60), (340, 120)])
    two = _settled_ink(page)
    assert two > one

    undo.click()
    after_undo = _settled_ink(page)  # the file input was rewritten with the pad as it is now
    assert after_undo < two and abs(after_undo - one) <= one * 0.05

    undo.click()
    page.wait_for_function("() => document.getElementById('firma').files.length === 0")
    assert page.evaluate(INK) == {"shown": 0, "posted": None}
    assert page.input_value("#firma_datos") == "" and undo.is_disabled()
    assert errors == []


def test_the_clear_button_and_a_form_reset_empty_the_pad_and_its_field(
        page: Any, live_server: Any, sign_in_as: SignInAs) -> None:
    _open_pad(page, live_server, sign_in_as)
    _stroke(page, [(20, 40), (60, 120), (100, 50), (140, 130)])
    _settled_ink(page)
    page.get_by_role("button", name="Borrar y firmar de nuevo").click()
    assert page.evaluate(INK) == {"shown": 0, "posted": None}
    _stroke(page, [(20, 40), (60, 120), (100, 50), (140, 130)])
    _settled_ink(page)
    page.evaluate("() => document.getElementById('captura').reset()")
    assert page.evaluate(INK) == {"shown": 0, "posted": None}


def _pen_stroke(page: Any, cdp: Any, pressure: float, top: int) -> None:
    """A real (trusted) pen stroke through the DevTools protocol, which carries the pen's pressure."""
    box = _canvas_box(page)

    def send(kind: str, x: float, force: float, buttons: int) -> None:
        cdp.send("Input.dispatchMouseEvent", {
            "type": kind, "x": box["x"] + x, "y": box["y"] + top + (x % 40) / 4, "button": "left",
            "buttons": buttons, "clickCount": 1, "pointerType": "pen", "force": force})

    send("mousePressed", 20, pressure, 1)
    for step in range(1, 31):
        send("mouseMoved", 20 + step * 10, pressure, 1)
        page.wait_for_timeout(20)  # pace the pen like a hand: signature_pad samples at most every 16 ms
    send("mouseReleased", 320, 0, 0)


def test_a_pen_pressing_harder_draws_a_wider_stroke(page: Any, live_server: Any, sign_in_as: SignInAs) -> None:
    _open_pad(page, live_server, sign_in_as)
    cdp = page.context.new_cdp_session(page)
    _pen_stroke(page, cdp, 0.1, 50)
    light = _settled_ink(page)
    page.get_by_role("button", name="Borrar y firmar de nuevo").click()
    _pen_stroke(page, cdp, 0.9, 50)
    firm = _settled_ink(page)
    assert firm > light * 1.4  # widths scale from 0.6x to 1.4x: about twice the ink


def test_the_libraries_come_from_static_vendor_and_nothing_from_another_origin(
        page: Any, live_server: Any, sign_in_as: SignInAs) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    _open_pad(page, live_server, sign_in_as)
    page.wait_for_function("() => document.getElementById('cola') && !document.getElementById('cola').hidden")
    assert live_server.path("/static/vendor/signature_pad/signature_pad.js") in requested
    assert live_server.path("/static/vendor/idb/index.js") in requested
    assert [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))] == []


# The IndexedDB code field-queue.js had before idb, verbatim in what it stores: database, version, stores, item.
OLD_QUEUE = """async ({account, aspirant, images}) => {
    const blob = (data, type) => new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], {type});
    const db = await new Promise((resolve, reject) => {
        const opening = indexedDB.open('registro-campo', 1);
        opening.onupgradeneeded = () => {
            opening.result.createObjectStore('capturas', {keyPath: 'key'});
            opening.result.createObjectStore('recibos', {keyPath: 'key'});
        };
        opening.onsuccess = () => resolve(opening.result);
        opening.onerror = () => reject(opening.error);
    });
    const transaction = db.transaction('capturas', 'readwrite');
    transaction.objectStore('capturas').put({
        key: crypto.randomUUID(), account, aspirant_id: aspirant, captured_at: new Date().toISOString(),
        created: Date.now(), signature_method: 'drawn', identifiers: {cic: '', clave_elector: '', ocr: ''},
        images: {back: blob(images.back, 'image/jpeg'), front: blob(images.front, 'image/jpeg'),
                 live_photo: blob(images.live_photo, 'image/jpeg'), signature: blob(images.signature, 'image/png')},
        state: 'pending', attempts: 0, next_attempt: 0, code: '', message: '',
    });
    await new Promise((resolve, reject) => { transaction.oncomplete = resolve; transaction.onerror = reject; });
    db.close();
}"""


def test_a_capture_queued_before_the_move_to_idb_is_still_sent(page: Any, live_server: Any,
                                                               sign_in_as: SignInAs) -> None:
    _open_pad(page, live_server, sign_in_as)
    account = int(page.get_attribute('meta[name="registro-cuenta"]', "content") or 0)
    aspirant = int(page.evaluate("""() => {
        const field = document.querySelector('#captura [name=aspirante]');  // hidden with one team, else a list
        return field.value || field.querySelector('option[value]:not([value=""])').value;
    }"""))
    page.goto(live_server.path("/static/manifest.webmanifest"))  # same origin, no queue code running
    page.evaluate("""() => new Promise((resolve, reject) => {
        const deleting = indexedDB.deleteDatabase('registro-campo');
        deleting.onsuccess = resolve; deleting.onerror = reject;
    })""")
    images = {"back": flat_back(71), "front": plain_photo(170), "live_photo": plain_photo(221),
              "signature": signature_png()}
    page.evaluate(OLD_QUEUE, {"account": account, "aspirant": aspirant,
                              "images": {k: base64.b64encode(v).decode() for k, v in images.items()}})
    page.goto(live_server.path("/campo/captura"))
    received = page.locator("#cola-lista li[data-state=received]")
    received.first.wait_for(timeout=30_000)
    with Session(live_server.app.state.engine) as db:
        stored = db.exec(select(Support.folio).where(
            col(Support.idempotency_key).not_like(DEMO_KEY_PREFIX + "%"))).all()
    assert [received.first.get_attribute("data-folio")] == list(stored)
