"""The citizen's photos step end to end: a phone photo is stored as sent minus its metadata (the GPS position never
reaches the store), a cut-off one is refused with the same clear message as before, and the photo gate's default
lets the many cheap photo requests of a busy server through."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from registry.models import StoredImage
from registry.states import ImageKind
from tests.conftest import SignedIn
from tests.factories.accounts import make_account
from tests.factories.phone_jpegs import SECRETS, phone_jpeg, pixels
from tests.factories.processes import make_aspirant, make_process
from tests.web.citizen_pages import Journey, hidden, jpeg, one, quick_code, step
from web.image_work import ImageGate, ImageWorkBusy


def test_a_phone_photo_is_stored_without_metadata_and_a_cut_off_one_is_refused_clearly(
        app: Starlette, client: TestClient, sign_in: Callable[..., SignedIn]) -> None:
    with session_scope(app.state.engine) as db:
        aspirant_id = make_aspirant(db, process=make_process(db), name="Ana Aspirante").id
        account_id = make_account(db, name="Carmen Ciudadana", role=Role.CITIZEN).id
    assert aspirant_id is not None and account_id is not None
    sign_in(client, account_id)
    journey = Journey(client)
    photos = journey.choose(journey.type_code(quick_code(app, account_id)), aspirant_id)
    front = phone_jpeg((1600, 1200))
    selfie = phone_jpeg((1200, 1600), progressive=True, trailer=False)
    sent = client.post("/ciudadano/apoyo/fotos", data={"flujo": hidden(photos, "flujo")},
                       files={"frente": jpeg("frente.jpg", front),
                              "foto_viva": jpeg("selfie.jpg", selfie[:len(selfie) * 3 // 4])})
    assert sent.status_code == 400 and step(sent) == "photos"
    assert "La foto llegó incompleta. Envíala de nuevo." in one(sent, "#errores").get_text()
    with session_scope(app.state.engine) as db:
        (stored,) = db.exec(select(StoredImage)).all()  # the front only: nothing kept of the cut-off selfie
    assert stored.kind is ImageKind.FRONT and (stored.width, stored.height) == (1600, 1200)
    kept = app.state.image_store.get(stored.storage_key)
    assert not [secret for secret in SECRETS if secret in kept] and pixels(kept) == pixels(front)


def test_the_default_photo_gate_takes_sixteen_accounts_photos_at_once(app: Starlette) -> None:
    gate: ImageGate = app.state.image_gate  # built from the default settings
    for account_id in range(16):
        gate.enter(account_id)  # a plain phone JPEG costs ~10 ms of CPU: 4 at once turned most into 429s
    with pytest.raises(ImageWorkBusy) as busy:
        gate.enter(99)
    assert not busy.value.per_account
