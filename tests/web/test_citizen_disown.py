"""«Yo no di este apoyo» on the citizen's own supports page: a link, a confirmation page, a plain POST form with
its CSRF token (no script), and the page then says the report was received."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from sqlmodel import select
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from registry.models import Support, SupportFlag
from registry.states import ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.conftest import SignIn
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant
from tests.factories.roll import place_support
from web.security import CSRF_FIELD, CSRF_HEADER


def _citizen_with_valid_support(engine: Any) -> tuple[int, str]:
    with session_scope(engine) as db:
        account = make_account(db, name="Carmen Ciudadana", role=Role.CITIZEN)
        aspirant = make_aspirant(db, name="Ana Aspirante")
        assert aspirant.id is not None
        support = place_support(db, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic="300000009")
        support.citizen_account_id = account.id
        record_transition(session=db, support=support, to_status=SupportStatus.VALID,
                          situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="prueba", actor_account_id=None,
                          now=support.received_at)
        assert account.id is not None
        return account.id, support.folio


def _status(engine: Any, folio: str) -> tuple[SupportStatus, bool]:
    with session_scope(engine) as db:
        support = db.exec(select(Support).where(Support.folio == folio)).one()
        flagged = db.get(SupportFlag, (support.id, ReviewFlag.DISOWNED)) is not None
        return support.status, flagged


def test_a_citizen_reports_a_support_they_never_gave(client: TestClient, engine: Any, sign_in: SignIn) -> None:
    account_id, folio = _citizen_with_valid_support(engine)
    sign_in(client, account_id)
    listing = BeautifulSoup(client.get("/ciudadano/apoyos").text, "html.parser")
    link = listing.find("a", href=f"/ciudadano/apoyos/{folio}/no-lo-di")
    assert link is not None and "Yo no di este apoyo" in link.get_text()

    confirm = client.get(str(link["href"]))
    assert confirm.status_code == 200 and confirm.headers["cache-control"] == "no-store"
    assert _status(engine, folio) == (SupportStatus.VALID, False)  # looking is not reporting
    form = BeautifulSoup(confirm.text, "html.parser").find("form", action=f"/ciudadano/apoyos/{folio}/no-lo-di")
    assert form is not None and form["method"] == "post"
    token = form.find("input", attrs={"name": CSRF_FIELD})
    assert token is not None

    del client.headers[CSRF_HEADER]  # a plain HTML form sends the token as a field, not a header
    assert client.post(str(form["action"]), data={}, follow_redirects=False).status_code == 403
    assert _status(engine, folio) == (SupportStatus.VALID, False)
    answer = client.post(str(form["action"]), data={CSRF_FIELD: str(token["value"])})
    assert answer.url.path == "/ciudadano/apoyos" and answer.url.query == b"hecho=informado"
    assert "Recibimos tu aviso" in answer.text and "Informaste que no diste este apoyo" in answer.text
    assert f"/ciudadano/apoyos/{folio}/no-lo-di" not in answer.text  # reported once: no second button
    assert _status(engine, folio) == (SupportStatus.IN_REVIEW, True)

    english = client.get("/ciudadano/apoyos?hecho=informado&lang=en")
    assert "We received your report" in english.text


def test_another_citizens_folio_is_not_found(client: TestClient, engine: Any, sign_in: SignIn) -> None:
    _owner, folio = _citizen_with_valid_support(engine)
    with session_scope(engine) as db:
        other = make_account(db, name="Otra Persona", role=Role.CITIZEN)
        other_id = other.id
    assert other_id is not None
    sign_in(client, other_id)
    assert client.get(f"/ciudadano/apoyos/{folio}/no-lo-di").status_code == 404
    assert client.post(f"/ciudadano/apoyos/{folio}/no-lo-di", follow_redirects=False).status_code == 404
    assert client.post("/ciudadano/apoyos/RC-NOEXISTE00/no-lo-di", follow_redirects=False).status_code == 404
    assert _status(engine, folio) == (SupportStatus.VALID, False)


def test_a_hostile_folio_is_not_found_not_a_500(client: TestClient, engine: Any, sign_in: SignIn) -> None:
    account_id, _folio = _citizen_with_valid_support(engine)
    sign_in(client, account_id)
    for folio in ("RC-%00", "RC-%E2%80%AE", "RC-" + "9" * 5000):
        assert client.get(f"/ciudadano/apoyos/{folio}/no-lo-di").status_code == 404
        assert client.post(f"/ciudadano/apoyos/{folio}/no-lo-di", follow_redirects=False).status_code == 404
