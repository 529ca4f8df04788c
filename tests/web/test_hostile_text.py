"""Hostile text at the edge: NUL, control and bidi characters in names and typed data, and integers too long for
Python to parse in the field batch. Every one gets a clear answer, never a 500 (NUL used to give a 500 on
PostgreSQL and be stored on SQLite). Run on SQLite and on PostgreSQL."""

import json
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.accounts import create_citizen
from auth.models import Account
from auth.oauth import graph_identity, openid_identity
from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.codes import issue_code
from registry.models import ActivationCode, Auxiliary, CredentialReading
from registry.states import ReadingSource
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_field_auxiliary, make_process

NEW = "/aspirante/auxiliares"
GOOD = {"nombre": "Rosa Pérez Gómez", "clave_elector": "PEGORO90010126M100", "correo": "rosa@ejemplo.mx",
        "telefono": "662 123 4567"}
NAME_REFUSED = "El nombre tiene caracteres no permitidos"
HOSTILE = ["\x00", "\x1b[31m", "\u202e", "\u2066", "\u200b", "\x7f"]
HUGE = "9" * 5001  # more digits than Python's int() accepts from text (4,300)


@pytest.fixture
def aspirant_id(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> int:
    with session_scope(app.state.engine) as db:
        aspirant = make_aspirant(db, name="Carmen Aspirante")
        account = make_account(db, name="Carmen", role=Role.ASPIRANT, aspirant_id=aspirant.id)
        made, account_id = aspirant.id, account.id
    assert made is not None
    sign_in(client, account_id)
    return made


def _auxiliaries(app: Starlette) -> list[Auxiliary]:
    with Session(app.state.engine) as db:
        return list(db.exec(select(Auxiliary)).all())


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_name_with_control_or_bidi_characters_is_refused_with_a_message(
        client: TestClient, app: Starlette, aspirant_id: int, bad: str) -> None:
    page = client.post(NEW, data={**GOOD, "nombre": f"Rosa{bad} Pérez"})
    assert page.status_code == 400
    assert NAME_REFUSED in unescape(page.text) and _auxiliaries(app) == []


def test_an_email_with_a_nul_is_refused_with_a_message(client: TestClient, app: Starlette,
                                                       aspirant_id: int) -> None:
    page = client.post(NEW, data={**GOOD, "correo": "rosa\x00@ejemplo.mx"})
    assert page.status_code == 400
    assert "Escribe un correo electrónico válido" in unescape(page.text) and _auxiliaries(app) == []


def test_ordinary_spanish_names_are_registered_as_typed(client: TestClient, app: Starlette,
                                                        aspirant_id: int) -> None:
    name = "María José Núñez-O'Higgins Güemes"
    response = client.post(NEW, data={**GOOD, "nombre": name}, follow_redirects=False)
    assert response.status_code == 303
    assert [auxiliary.full_name for auxiliary in _auxiliaries(app)] == [name]


def test_a_csv_row_with_a_nul_in_the_name_is_refused_by_line(client: TestClient, app: Starlette,
                                                            aspirant_id: int) -> None:
    data = ("nombre,clave de elector,correo,teléfono\n"
            "Rosa Pérez Gómez,PEGORO90010126M100,rosa@ejemplo.mx,6621234567\n"
            "Luis\x00 Soto,SOLULU90010126H100,luis@ejemplo.mx,6621234568\n").encode()
    page = client.post(f"{NEW}/csv", files={"archivo": ("equipo.csv", data, "text/csv")})
    assert page.status_code == 400
    assert f"Renglón 3: {NAME_REFUSED}" in unescape(page.text) and _auxiliaries(app) == []


# ---------------------------------------------------------------- sign-in profile names


def test_a_providers_profile_name_loses_nul_and_bidi_and_the_account_is_stored(session: Session) -> None:
    identity = openid_identity("local", {"sub": "9", "name": "\u202eAna\x00 López\u200b", "email": "ana@x.mx"})
    graph = graph_identity("facebook", {"id": "8", "name": "Beto\x00\u2066 Ruiz", "email": "be\x00to@x.mx"})
    assert (identity.display_name, graph.display_name, graph.email) == ("Ana López", "Beto Ruiz", None)
    account = create_citizen(session=session, identity=identity, now=utcnow())
    session.commit()
    session.expire_all()
    stored = session.get(Account, account.id)
    assert stored is not None and stored.display_name == "Ana López"


# ---------------------------------------------------------------- the field batch


@pytest.fixture
def auxiliary(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> int:
    with session_scope(app.state.engine) as db:
        auxiliary = make_field_auxiliary(db)
        made, account_id = auxiliary.aspirant_id, auxiliary.account_id
    assert made is not None
    sign_in(client, account_id)
    return made


def _item(key: str, aspirant: str) -> str:
    return (f'{{"key": "{key}", "aspirant_id": {aspirant}, "captured_at": "{utcnow().isoformat()}", '
            '"images": {}}')


def test_a_5001_digit_integer_spoils_only_its_own_item(client: TestClient, auxiliary: int) -> None:
    body = f'{{"items": [{_item("clave-enorme-1", HUGE)}, {_item("clave-normal-2", str(auxiliary))}]}}'
    response = client.post("/api/campo/lote", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    huge, normal = response.json()["items"]
    assert (huge["key"], huge["status"], huge["code"], huge["detail"]) == ("clave-enorme-1", "error", "malformed",
                                                                           "aspirant_id")
    assert huge["message"] == "La captura llegó incompleta o dañada. Captúrala de nuevo."
    assert normal["key"] == "clave-normal-2" and normal["detail"] != "aspirant_id"  # judged on its own merits


def test_a_5001_digit_integer_in_a_multipart_batch_is_no_500(client: TestClient, auxiliary: int) -> None:
    lote = f'{{"items": [{_item("clave-enorme-1", HUGE)}], "extra": -{HUGE}}}'
    response = client.post("/api/campo/lote", files={"lote": (None, lote)})
    assert response.status_code == 200
    assert [answer["code"] for answer in response.json()["items"]] == ["malformed"]


def test_a_batch_with_a_huge_integer_outside_any_item_list_is_a_400(client: TestClient, auxiliary: int) -> None:
    response = client.post("/api/campo/lote", content=json.dumps({"items": 1}).replace("1", HUGE),
                           headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (400, "malformed")


@pytest.mark.parametrize("bad", ["\x00", "\u202e"])
def test_nul_or_bidi_in_typed_identifiers_is_an_answer_not_a_500(client: TestClient, auxiliary: int,
                                                                 bad: str) -> None:
    item = json.loads(_item("clave-tecleada-1", str(auxiliary)))
    item["identifiers"] = {"cic": f"12345{bad}6789", "clave_elector": f"PEGORO{bad}90010126M100", "ocr": bad}
    response = client.post("/api/campo/lote", json={"items": [item]})
    assert response.status_code == 200 and response.json()["items"][0]["status"] != "received"


# ---------------------------------------------------------------- the citizen's typed code


@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u200b", "\u00ad"])
def test_invisible_characters_in_a_pasted_code_neither_break_it_nor_cost_a_try(
        client: TestClient, app: Starlette, sign_in: Callable[..., Any], bad: str) -> None:
    with session_scope(app.state.engine) as db:
        make_process(db)
        account_id = make_account(db, name="Carmen Ciudadana", role=Role.CITIZEN).id
        reading = CredentialReading(source=ReadingSource.PIPELINE, cic="760901471",
                                    qr_text="http://qr.ine.mx/000000000000000000000001/20200101/P/000001")
        db.add(reading)
        db.flush()
        assert account_id is not None and reading.id is not None
        issued = issue_code(session=db, account_id=account_id, reading_id=reading.id,
                            secret_key=app.state.settings.secret_key, now=utcnow()).issued
    assert issued is not None
    sign_in(client, account_id)
    pasted = issued.code[:4] + bad + issued.code[4:]
    response = client.post("/ciudadano/apoyo", data={"codigo": pasted}, follow_redirects=False)
    assert response.status_code == 303 and "/ciudadano/apoyo/aspirante" in response.headers["location"]
    with Session(app.state.engine) as db:
        assert db.exec(select(ActivationCode.failed_attempts)).one() == 0


# ---------------------------------------------------------------- row numbers in forms and queries


@pytest.mark.parametrize("chosen", ["²", HUGE])
def test_a_superscript_or_huge_aspirant_number_in_the_aspirants_pages_is_no_500(
        client: TestClient, aspirant_id: int, chosen: str) -> None:
    page = client.get("/aspirante/auxiliares/nuevo", params={"aspirante": chosen})
    assert page.status_code == 200  # falls back to the aspirant's own record


@pytest.mark.parametrize("chosen", ["²", HUGE])
def test_a_superscript_or_huge_aspirant_number_in_the_field_form_is_a_message(
        client: TestClient, auxiliary: int, chosen: str) -> None:
    page = client.post("/campo/captura", data={"aspirante": chosen, "manifestacion": "si"})
    assert page.status_code == 400 and "Revisa los datos marcados." in unescape(page.text)
