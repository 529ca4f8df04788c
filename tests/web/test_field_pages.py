"""The field pages without JavaScript: the capture form in two online steps (the CIC read by the server is shown
for confirmation; an unreadable back falls back to typed identifiers, a captura manual), and the home page."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.models import Account
from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import Aspirant, Auxiliary, Opl, Process, StoredImage, Support
from registry.states import InvitationState
from tests.factories.accounts import make_account
from tests.factories.photos import flat_back, flat_identity, plain_photo, signature_png, unreadable_back
from tests.factories.processes import make_aspirant, make_auxiliary, make_field_auxiliary, make_process


@pytest.fixture
def auxiliary_id(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> int:
    with session_scope(app.state.engine) as db:
        auxiliary = make_field_auxiliary(db)
        self_id, account_id = auxiliary.id, auxiliary.account_id
    sign_in(client, account_id)
    return self_id


def _step_one(client: TestClient, back: bytes, **fields: str) -> Any:
    page = client.get("/campo/captura")
    aspirant = re.search(r'name="aspirante" value="(\d+)"', page.text)
    assert aspirant is not None
    files = {"reverso": ("r.jpg", back, "image/jpeg"), "frente": ("f.jpg", plain_photo(170), "image/jpeg"),
             "foto_viva": ("v.jpg", plain_photo(150), "image/jpeg"), "firma": ("s.png", signature_png(), "image/png")}
    return client.post("/campo/captura", data={"aspirante": aspirant.group(1), "manifestacion": "si", **fields},
                       files=files)


def _draft(page: str) -> str:
    found = re.search(r'name="borrador" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_capture_page_is_an_installable_offline_capable_form(client: TestClient, auxiliary_id: int) -> None:
    page = client.get("/campo/captura").text
    for needed in ('rel="manifest"', 'name="csrf-token"', 'name="registro-cuenta"', "data-field-queue",
                   'capture="environment"', 'capture="user"', "data-signature-pad", 'id="manifestacion"'):
        assert needed in page


def test_a_readable_back_is_confirmed_with_the_cic_then_stored_once(client: TestClient, app: Starlette,
                                                                    auxiliary_id: int) -> None:
    confirm = _step_one(client, flat_back(4))
    assert confirm.status_code == 200 and flat_identity(4).cic in confirm.text
    draft = _draft(confirm.text)
    first = client.post("/campo/captura/confirmar", data={"borrador": draft})
    again = client.post("/campo/captura/confirmar", data={"borrador": draft})  # a double tap
    folio = re.search(r"RC-[0-9A-Z]{10}", first.text)
    assert folio is not None and folio.group(0) in again.text and "ya estaba guardada" in again.text
    with Session(app.state.engine) as db:
        support = db.exec(select(Support)).one()
    assert (support.folio, support.cic, support.manual_capture) == (folio.group(0), flat_identity(4).cic, False)


def test_an_unreadable_back_asks_for_typed_identifiers_and_marks_the_capture_manual(
        client: TestClient, app: Starlette, auxiliary_id: int) -> None:
    confirm = _step_one(client, unreadable_back())
    assert "No se pudo leer el reverso" in confirm.text and 'id="cic"' in confirm.text
    draft = _draft(confirm.text)
    wrong = client.post("/campo/captura/confirmar", data={"borrador": draft, "cic": "12345"})
    assert wrong.status_code == 400 and 'id="cic-error"' in wrong.text and 'aria-invalid="true"' in wrong.text
    stored = client.post("/campo/captura/confirmar", data={"borrador": draft, "cic": "183 657 717"})
    assert "captura manual" in stored.text
    with Session(app.state.engine) as db:
        support = db.exec(select(Support)).one()
    assert support.manual_capture and support.cic == "183657717"


def test_missing_photos_and_statement_are_explained_on_the_form(client: TestClient, auxiliary_id: int) -> None:
    page = client.post("/campo/captura", data={"aspirante": "1"},
                       files={"reverso": ("r.jpg", flat_back(4), "image/jpeg")})
    assert page.status_code == 400
    for field in ("frente", "foto_viva", "firma", "manifestacion"):
        assert f'id="{field}-error"' in page.text


def test_a_forged_or_foreign_draft_is_refused(client: TestClient, app: Starlette, auxiliary_id: int,
                                              sign_in: Callable[..., Any]) -> None:
    draft = _draft(_step_one(client, flat_back(4)).text)
    assert client.post("/campo/captura/confirmar", data={"borrador": draft[:-3] + "xyz"}).status_code == 400
    with session_scope(app.state.engine) as db:
        other = make_account(db, role=Role.AUXILIARY).id
    sign_in(client, other)
    assert client.post("/campo/captura/confirmar", data={"borrador": draft}).status_code == 400
    with Session(app.state.engine) as db:
        assert db.exec(select(Support)).all() == []


def test_a_suspended_auxiliary_is_told_and_cannot_capture(client: TestClient, app: Starlette,
                                                          auxiliary_id: int) -> None:
    with session_scope(app.state.engine) as db:
        auxiliary = db.get(Auxiliary, auxiliary_id)
        assert auxiliary is not None
        auxiliary.state = InvitationState.SUSPENDED
    page = client.get("/campo/captura")
    assert "suspendido" in page.text and "data-field-queue" not in page.text
    assert "suspendido" in client.get("/campo").text


def test_home_lists_only_the_auxiliarys_own_captures(client: TestClient, app: Starlette, auxiliary_id: int) -> None:
    client.post("/campo/captura/confirmar", data={"borrador": _draft(_step_one(client, flat_back(4)).text)})
    with Session(app.state.engine) as db:
        mine = db.exec(select(Support)).one()
    page = client.get("/campo").text
    assert mine.folio in page and "Tus capturas recibidas" in page


def _join(app: Starlette, account_id: int | None = None, *, aspirant_name: str = "Aspirante Uno",
          **process: Any) -> int:
    """An auxiliary account on a new aspirant's team (of a process made with these fields); its account id."""
    with session_scope(app.state.engine) as db:
        aspirant = make_aspirant(db, process=make_process(db, **process), name=aspirant_name)
        account = db.get(Account, account_id) if account_id else make_account(db, role=Role.AUXILIARY)
        assert account is not None and account.id is not None
        make_auxiliary(db, aspirant=aspirant, account=account, email=f"aux{aspirant.id}@x.mx")
        return account.id


def test_the_statement_names_the_aspirant_the_office_the_process_and_the_opl(
        client: TestClient, app: Starlette, auxiliary_id: int) -> None:
    with Session(app.state.engine) as db:
        aspirant = db.exec(select(Aspirant)).one()
        process = db.get(Process, aspirant.process_id)
        assert process is not None
        opl = db.get(Opl, process.opl_id)
        assert opl is not None
    page = BeautifulSoup(client.get("/campo/captura").text, "html.parser")
    chosen = f"#manifestacion-texto [data-statement-for='{aspirant.id}'] p#manifestacion-{aspirant.id}"
    statement = page.select_one(chosen)
    assert statement is not None
    assert statement.get_text() == (
        f"Manifiesto libremente mi voluntad de apoyar a {aspirant.full_name} para obtener su registro como "
        f"candidatura independiente a {process.office}, en el proceso «{process.name}» de {opl.name}.")
    checkbox = page.select_one("input#manifestacion")
    assert checkbox is not None and "manifestacion-texto" in str(checkbox["aria-describedby"]).split()


def test_each_candidacy_has_its_own_statement_when_there_are_several(client: TestClient, app: Starlette,
                                                                     sign_in: Callable[..., Any]) -> None:
    account_id = _join(app)
    _join(app, account_id, aspirant_name="Beatriz Dos", name="Diputación 2027")
    sign_in(client, account_id)
    page = BeautifulSoup(client.get("/campo/captura").text, "html.parser")
    options = [option["value"] for option in page.select("select#aspirante option") if option["value"]]
    statements = page.select("#manifestacion-texto [data-statement-for]")
    assert [s["data-statement-for"] for s in statements] == options and len(options) == 2
    assert "«Diputación 2027»" in statements[1].get_text()
    checkbox = page.select_one("input#manifestacion")
    assert checkbox is not None and "manifestacion-hint" in str(checkbox["aria-describedby"]).split()
    assert page.select_one("#manifestacion-hint") is not None


def test_the_online_form_refuses_a_capture_after_the_close_before_storing_photos(
        client: TestClient, app: Starlette, sign_in: Callable[..., Any]) -> None:
    now = utcnow()
    sign_in(client, _join(app, opens=now - timedelta(days=20), closes=now - timedelta(hours=1)))
    refused = _step_one(client, flat_back(4))
    assert refused.status_code == 409 and "El periodo para recabar apoyo ya terminó." in refused.text
    with Session(app.state.engine) as db:
        assert db.exec(select(StoredImage)).all() == [] and db.exec(select(Support)).all() == []
