"""Bad input never gets a 500: arbitrary text in every form field of the citizen's and the auxiliary's capture and
support steps, and arbitrary JSON in every key of the field batch, is answered 2xx, 3xx or 4xx.

Each step starts from a genuine request (signed step state, stored photos, a real code) and has some of its
fields replaced, so the odd value reaches the handler's own parsing, not only the first check that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.field_online import Draft
from registry.images import clean_image, store_image
from registry.models import ActivationCode
from registry.states import ImageKind, SignatureMethod
from tests.conftest import TEST_ORIGIN, SignIn
from tests.factories.accounts import make_account
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.web.citizen_pages import quick_code
from web.routes.citizen_flow import Flow, sign_flow
from web.routes.field import seal_draft

# Values that broke parsers before: digits str.isdigit() takes and int() refuses, huge numbers, NUL, bidi.
NASTY = ["²", "٣", "9" * 5000, "-1", "\x00", "\u202e"]
ODD = st.one_of(
    st.sampled_from([*NASTY, "0", "9" * 40, "si", "reclamar", " ", "[]", "data:image/png;base64,AAAA",
                     "data:image/png;base64,!!"]),
    st.text(max_size=60),
    st.text(alphabet="0123456789", min_size=1, max_size=12),
)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ODD,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3),
                          max_leaves=6)
EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@dataclass
class World:
    app: Starlette
    citizen: TestClient
    auxiliary: TestClient
    forms: dict[str, dict[str, str]]
    item: dict[str, Any]


def _stored(app: Starlette, kind: ImageKind, shade: int) -> int:
    limits = app.state.settings
    clean = clean_image(plain_photo(shade), kind=kind, max_bytes=limits.upload_max_bytes,
                        max_pixels=limits.upload_max_pixels)
    with session_scope(app.state.engine) as db:
        row = store_image(session=db, store=app.state.image_store, image=clean)
        assert row.id is not None
        return row.id


def _as(app: Starlette, account_id: int) -> Any:
    return SimpleNamespace(app=app, state=SimpleNamespace(principal=SimpleNamespace(account_id=account_id)))


@pytest.fixture
def world(app: Starlette, sign_in: SignIn) -> Iterator[World]:
    with session_scope(app.state.engine) as db:
        aspirant = make_aspirant(db)
        citizen = make_account(db, email="c@correo.mx", role=Role.CITIZEN)
        field = make_account(db, name="Auxiliar", role=Role.AUXILIARY, aspirant_id=aspirant.id)
        make_auxiliary(db, aspirant=aspirant, account=field)
        ids = aspirant.id, citizen.id, field.id
    aspirant_id, citizen_id, field_id = ids
    assert aspirant_id is not None and citizen_id is not None and field_id is not None
    code = quick_code(app, citizen_id)
    front, live = _stored(app, ImageKind.FRONT, 140), _stored(app, ImageKind.LIVE_PHOTO, 170)
    with session_scope(app.state.engine) as db:
        code_id = db.exec(select(ActivationCode)).one().id  # the one code just issued
    flow = Flow(account_id=citizen_id, code_id=code_id, aspirant_id=aspirant_id, front_image_id=front,
                live_photo_id=live, signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE.value)
    token = sign_flow(_as(app, citizen_id), flow)
    draft = Draft(client_key="clave-propiedad-0001", aspirant_id=aspirant_id, captured_at=utcnow(),
                  signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE,
                  image_ids={ImageKind.FRONT: front, ImageKind.LIVE_PHOTO: live}, reading=None)
    forms = {
        "/ciudadano/codigo": {"reverso": ""},
        "/ciudadano/codigo/confirmar": {"flujo": token, "accion": "reclamar", "es_mia": "si"},
        "/ciudadano/apoyo": {"codigo": code},
        "/ciudadano/apoyo/continuar": {"codigo_ref": ""},
        "/ciudadano/apoyo/aspirante": {"flujo": token, "aspirante": str(aspirant_id)},
        "/ciudadano/apoyo/fotos": {"flujo": token, "frente": "", "foto_viva": ""},
        "/ciudadano/apoyo/firma": {"flujo": token, "alternativa": "si", "firma": "", "firma_datos": ""},
        "/ciudadano/apoyo/confirmar": {"flujo": token, "clave_idempotencia": "k" * 32, "manifiesto": "si",
                                       "privacidad": "si", "entiendo_primero": "si"},
        "/campo/captura": {"aspirante": str(aspirant_id), "manifestacion": "si", "alternativa": "si", "cic": "",
                           "clave_elector": "", "ocr": "", "reverso": "", "frente": "", "foto_viva": "",
                           "firma": "", "firma_datos": ""},
        "/campo/captura/confirmar": {"borrador": seal_draft(_as(app, field_id), draft), "cic": "183657717",
                                     "clave_elector": "", "ocr": ""},
        "/api/campo/leer": {"reverso": ""},
    }
    item = {"key": "clave-propiedad-0002", "aspirant_id": aspirant_id, "signature_method": "drawn",
            "captured_at": (utcnow() - timedelta(minutes=1)).isoformat(),
            "identifiers": {"cic": "183657717", "clave_elector": "", "ocr": ""},
            "images": {"back": "", "front": "", "live_photo": "", "signature": ""}}
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as citizen_client, \
            TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as field_client:
        sign_in(citizen_client, citizen_id)
        sign_in(field_client, field_id)
        yield World(app, citizen_client, field_client, forms, item)


def _client(world: World, path: str) -> TestClient:
    return world.citizen if path.startswith("/ciudadano") else world.auxiliary


FORM_PATHS = ["/ciudadano/codigo", "/ciudadano/codigo/confirmar", "/ciudadano/apoyo", "/ciudadano/apoyo/continuar",
              "/ciudadano/apoyo/aspirante", "/ciudadano/apoyo/fotos", "/ciudadano/apoyo/firma",
              "/ciudadano/apoyo/confirmar", "/campo/captura", "/campo/captura/confirmar", "/api/campo/leer"]


def _post(world: World, path: str, changed: dict[str, str]) -> int:
    response = _client(world, path).post(path, data={**world.forms[path], **changed}, follow_redirects=False)
    return response.status_code


@pytest.mark.parametrize("path", FORM_PATHS)
def test_no_form_field_gets_a_500_for_the_values_that_once_did(world: World, path: str) -> None:
    for name in sorted(world.forms[path]):
        for value in NASTY:
            assert _post(world, path, {name: value}) < 500, (path, name, ascii(value)[:20])


@pytest.mark.parametrize("path", FORM_PATHS)
@EXAMPLES
@given(data=st.data())
def test_no_form_field_value_gets_a_500(world: World, path: str, data: st.DataObject) -> None:
    names = sorted(world.forms[path])
    one = data.draw(st.sampled_from(names).flatmap(lambda name: st.fixed_dictionaries({name: ODD})), label="one")
    more = data.draw(st.dictionaries(st.sampled_from(names), ODD, max_size=len(names)), label="more")
    assert _post(world, path, {**more, **one}) < 500, (path, sorted({**more, **one}))


@pytest.mark.parametrize("path", ["/ciudadano/codigo/confirmar", "/ciudadano/apoyo/aspirante",
                                  "/ciudadano/apoyo/fotos", "/ciudadano/apoyo/firma", "/ciudadano/apoyo/confirmar"])
@EXAMPLES
@given(value=ODD)
def test_no_step_address_gets_a_500(world: World, path: str, value: str) -> None:
    response = world.citizen.get(path, params={"flujo": value}, follow_redirects=False)
    assert response.status_code < 500, path


ITEM_KEYS = ["key", "aspirant_id", "signature_method", "captured_at", "identifiers", "identifiers.cic",
             "identifiers.clave_elector", "identifiers.ocr", "images", "images.back", "images.front",
             "images.live_photo", "images.signature"]


def _with(item: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(item))
    head, _dot, tail = dotted.partition(".")
    if tail and isinstance(changed.get(head), dict):
        changed[head][tail] = value
    else:
        changed[head] = value
    return changed


@EXAMPLES
@given(data=st.data())
def test_no_batch_json_value_gets_a_500(world: World, data: st.DataObject) -> None:
    changes = data.draw(st.dictionaries(st.sampled_from(ITEM_KEYS), JSON_VALUE, min_size=1), label="changed")
    item = world.item
    for dotted, value in changes.items():
        item = _with(item, dotted, value)
    response = world.auxiliary.post("/api/campo/lote", content=json.dumps({"items": [item]}),
                                    headers={"content-type": "application/json"})
    assert response.status_code < 500, sorted(changes)
    multipart = world.auxiliary.post("/api/campo/lote", data={"lote": json.dumps({"items": [item]})},
                                     files={"nada": ("n.bin", b"x", "application/octet-stream")})
    assert multipart.status_code < 500, sorted(changes)
