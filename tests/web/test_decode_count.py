"""Decode once: on every channel a support's back photo is decoded by the capture pipeline exactly once, every
photo is loaded (decoded into pixels) at most once, and one CredentialReading row stands behind the support.

The counters wrap the real functions (capture.pipeline.read_back and read_back_keeping, capture.intake.load_image)
wherever a module
imported them by name, so nothing is mocked: the real pipeline runs and its results are used."""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import capture.intake
import capture.pipeline
from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import CredentialReading, Support
from tests.conftest import SignIn
from tests.factories.accounts import make_account
from tests.factories.photos import back_photo, flat_back, plain_photo, signature_png, warm_up_reader
from tests.factories.processes import make_aspirant, make_field_auxiliary

_FLOW = re.compile(r'name="flujo" value="([^"]+)"')
_KEY = re.compile(r'name="clave_idempotencia" value="([^"]+)"')
_CODE = re.compile(r'id="codigo-activacion">([A-Z0-9-]+)<')
_DRAFT = re.compile(r'name="borrador" value="([^"]+)"')


class Counts:
    def __init__(self) -> None:
        self.decodes: Counter[str] = Counter()  # by the SHA-256 of the bytes decoded
        self.loads: Counter[str] = Counter()


def _wrap_everywhere(monkeypatch: pytest.MonkeyPatch, original: Callable[..., Any],
                     tally: Counter[str]) -> None:
    def counted(data: bytes, *args: Any, **kwargs: Any) -> Any:
        tally[hashlib.sha256(data).hexdigest()] += 1
        return original(data, *args, **kwargs)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        ours = name.split(".")[0] in {"capture", "registry", "web"}
        if ours and getattr(module, original.__name__, None) is original:
            monkeypatch.setattr(module, original.__name__, counted)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch, app: Starlette) -> Iterator[Counts]:
    warm_up_reader()
    tally = Counts()
    _wrap_everywhere(monkeypatch, capture.pipeline.read_back, tally.decodes)
    _wrap_everywhere(monkeypatch, capture.pipeline.read_back_keeping, tally.decodes)
    _wrap_everywhere(monkeypatch, capture.intake.load_image, tally.loads)
    yield tally


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _readings(app: Starlette) -> tuple[int, int]:
    with Session(app.state.engine) as db:
        supports = db.exec(select(func.count()).select_from(Support)).one()
        readings = db.exec(select(func.count()).select_from(CredentialReading)).one()
    return supports, readings


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match, text
    return match.group(1).replace("&#34;", '"').replace("&amp;", "&")


def _assert_once(counts: Counts, app: Starlette, photos: list[bytes], back: bytes) -> None:
    seen = (f"decodes of the back {counts.decodes[_sha(back)]}, loads of the back {counts.loads[_sha(back)]}, "
            f"loads of all {len(photos)} photos {counts.loads.total()}, (supports, readings) {_readings(app)}")
    assert counts.decodes == Counter({_sha(back): 1}), seen
    # At most once: a clean phone JPEG is kept as sent (checked by a scaled decode, registry/images.py), never
    # loaded into full pixels; whatever is loaded is loaded once.
    assert set(counts.loads) <= {_sha(photo) for photo in photos}, seen
    assert set(counts.loads.values()) <= {1}, seen
    assert _readings(app) == (1, 1), seen


def test_a_citizen_support_decodes_and_loads_each_photo_once(app: Starlette, client: TestClient, sign_in: SignIn,
                                                             counts: Counts) -> None:
    with session_scope(app.state.engine) as db:
        aspirant_id = make_aspirant(db).id
        account_id = make_account(db, email="c@correo.mx", role=Role.CITIZEN).id
    assert account_id is not None and aspirant_id is not None
    sign_in(client, account_id)
    back, front, live = back_photo(1).data, plain_photo(140), plain_photo(170)
    sent = client.post("/ciudadano/codigo", files={"reverso": ("r.jpg", back, "image/jpeg")})
    ready = client.post("/ciudadano/codigo/confirmar", data={"flujo": _found(_FLOW, sent.text)})
    entered = client.post("/ciudadano/apoyo", data={"codigo": _found(_CODE, ready.text)})
    photos = client.post("/ciudadano/apoyo/aspirante", data={"flujo": _found(_FLOW, entered.text),
                                                             "aspirante": str(aspirant_id)})
    signature = client.post("/ciudadano/apoyo/fotos", data={"flujo": _found(_FLOW, photos.text)},
                            files={"frente": ("f.jpg", front, "image/jpeg"),
                                   "foto_viva": ("v.jpg", live, "image/jpeg")})
    confirm = client.post("/ciudadano/apoyo/firma", data={"flujo": _found(_FLOW, signature.text)},
                          files={"firma": ("s.png", signature_png(), "image/png")})
    given = client.post("/ciudadano/apoyo/confirmar", data={
        "flujo": _found(_FLOW, confirm.text), "clave_idempotencia": _found(_KEY, confirm.text),
        "manifiesto": "si", "privacidad": "si"})
    assert given.status_code == 200 and "/ciudadano/apoyos/" in str(given.url), given.text
    _assert_once(counts, app, [back, front, live, signature_png()], back)


@pytest.fixture
def auxiliary(app: Starlette, client: TestClient, sign_in: SignIn) -> int:
    with session_scope(app.state.engine) as db:
        auxiliary = make_field_auxiliary(db)
        aspirant_id, account_id = auxiliary.aspirant_id, auxiliary.account_id
    assert aspirant_id is not None and account_id is not None
    sign_in(client, account_id)
    return aspirant_id


def test_the_online_field_form_decodes_and_loads_each_photo_once(app: Starlette, client: TestClient,
                                                                auxiliary: int, counts: Counts) -> None:
    back, front, live = flat_back(5), plain_photo(170), plain_photo(150)
    files = {"reverso": ("r.jpg", back, "image/jpeg"), "frente": ("f.jpg", front, "image/jpeg"),
             "foto_viva": ("v.jpg", live, "image/jpeg"), "firma": ("s.png", signature_png(), "image/png")}
    confirm = client.post("/campo/captura", data={"aspirante": str(auxiliary), "manifestacion": "si"}, files=files)
    stored = client.post("/campo/captura/confirmar", data={"borrador": _found(_DRAFT, confirm.text)})
    assert stored.status_code == 200 and re.search(r"RC-[0-9A-Z]{10}", stored.text), stored.text
    _assert_once(counts, app, [back, front, live, signature_png()], back)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _send_batch_of_one(client: TestClient, key: str, aspirant_id: int, back: bytes, front: bytes,
                       live: bytes) -> dict[str, Any]:
    item = {"key": key, "aspirant_id": aspirant_id, "signature_method": "drawn",
            "captured_at": (utcnow() - timedelta(minutes=2)).isoformat(),
            "images": {"back": _b64(back), "front": _b64(front), "live_photo": _b64(live),
                       "signature": _b64(signature_png())}}
    answer: dict[str, Any] = client.post("/api/campo/lote", json={"items": [item]}).json()["items"][0]
    return answer


def test_the_instant_read_and_the_batch_that_follows_decode_and_load_once(app: Starlette, client: TestClient,
                                                                         auxiliary: int, counts: Counts) -> None:
    back, front, live = flat_back(6), plain_photo(171), plain_photo(151)
    read = client.post("/api/campo/leer", files={"reverso": ("r.jpg", back, "image/jpeg")})
    assert read.status_code == 200 and read.json()["ok"], read.text
    answer = _send_batch_of_one(client, "clave-conteo-0001", auxiliary, back, front, live)
    assert answer["status"] == "received", answer
    _assert_once(counts, app, [back, front, live, signature_png()], back)


def test_a_batch_sent_without_an_instant_read_decodes_and_loads_once(app: Starlette, client: TestClient,
                                                                    auxiliary: int, counts: Counts) -> None:
    back, front, live = flat_back(7), plain_photo(172), plain_photo(152)
    answer = _send_batch_of_one(client, "clave-conteo-0002", auxiliary, back, front, live)
    assert answer["status"] == "received", answer
    _assert_once(counts, app, [back, front, live, signature_png()], back)
