"""«Verifica tu apoyo» over HTTP: a public form (POST only), an answer with nothing but aspirant, process, day and
standing, the same page for a clave that exists and one that doesn't, clear messages for hostile input, limits
per IP and per clave, and «No di este apoyo» through a signed token."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from bs4 import BeautifulSoup
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.audit import AuditEvent
from core.db import session_scope
from core.settings import Settings
from registry.models import Auxiliary, Support, SupportFlag
from registry.states import Channel, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.conftest import TEST_ORIGIN
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.factories.roll import Citizen, citizen, place_support
from web.app import create_app
from web.security import CSRF_FIELD

MakeClient = Callable[..., TestClient]
_numbers = itertools.count(1)


def _person() -> Citizen:
    """A citizen of the roll whose clave de elector is well formed (a real birth date), as the form requires."""
    n = next(_numbers)
    return citizen(clave_elector=f"GOVAMA80{n % 12 + 1:02d}{n % 28 + 1:02d}26M{n % 1000:03d}")


@pytest.fixture
def limited(settings: Settings) -> Iterator[MakeClient]:
    """A client of an app whose named limits are overridden, as an operator would (REGISTRO_RATE_LIMITS)."""
    clients: list[TestClient] = []

    async def not_yet(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("the app is still being created")

    def make(**limits: str) -> TestClient:
        transport = httpx2.ASGITransport(app=not_yet, raise_app_exceptions=False)
        app: Starlette = create_app(settings.model_copy(update={"rate_limits": limits}), oauth_transport=transport)
        transport.app = app
        client = TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _given_support(engine: Any, person: Citizen, status: SupportStatus = SupportStatus.VALID) -> int:
    """A support for «Rosa Aspirante» captured by an auxiliary with both identifiers, in `status`."""
    with session_scope(engine) as db:
        aspirant = make_aspirant(db, name="Rosa Aspirante")
        auxiliary = make_auxiliary(db, aspirant=aspirant)
        assert aspirant.id is not None
        support = place_support(db, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=person.cic,
                                clave_elector=person.clave_elector, channel=Channel.AUXILIARY)
        support.auxiliary_id = auxiliary.id
        if status is not SupportStatus.RECEIVED:
            record_transition(session=db, support=support, to_status=status,
                              situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="prueba",
                              actor_account_id=None, now=support.received_at)
        assert support.id is not None
        return support.id


def _csrf(client: TestClient) -> str:
    page = BeautifulSoup(client.get("/verifica").text, "html.parser")
    field = page.find("input", attrs={"name": CSRF_FIELD})
    assert field is not None
    return str(field["value"])


def _ask(client: TestClient, clave: str, cic: str) -> Any:
    return client.post("/verifica", data={CSRF_FIELD: _csrf(client), "clave_elector": clave, "cic": cic})


def _flagged(engine: Any, support_id: int) -> tuple[SupportStatus, bool, int]:
    with session_scope(engine) as db:
        support = db.get(Support, support_id)
        assert support is not None
        audits = db.exec(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action == "support_disowned")).one()
        return support.status, db.get(SupportFlag, (support_id, ReviewFlag.DISOWNED)) is not None, audits


def test_the_form_is_public_posts_its_data_and_explains_where_the_cic_is(client: TestClient) -> None:
    page = client.get("/verifica")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    form = BeautifulSoup(page.text, "html.parser").find("form", action="/verifica")
    assert form is not None and form["method"] == "post"
    assert {field["name"] for field in form.find_all("input")} == {CSRF_FIELD, "clave_elector", "cic"}
    assert "IDMEX" in page.text and "reverso" in page.text
    english = client.get("/verifica?lang=en")
    assert "Check your support" in english.text and "IDMEX" in english.text


def test_the_holder_sees_the_aspirant_process_day_and_standing_and_nothing_else(client: TestClient,
                                                                              engine: Any) -> None:
    person = _person()
    support_id = _given_support(engine, person)
    with session_scope(engine) as db:
        support = db.get(Support, support_id)
        assert support is not None
        folio = support.folio
        auxiliary = db.get(Auxiliary, support.auxiliary_id)
        assert auxiliary is not None
        auxiliary_name = auxiliary.full_name
    answer = _ask(client, person.clave_elector, person.cic)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert "Rosa Aspirante" in answer.text and "Gubernatura 2027" in answer.text
    assert "Cuenta para la persona aspirante" in answer.text
    for private in (folio, auxiliary_name, person.clave_elector, person.cic, person.ocr):
        assert private not in answer.text
    assert "?" not in str(answer.url)  # nothing of the input in the address


def test_a_well_formed_pair_gets_the_same_page_whether_or_not_the_clave_exists(client: TestClient,
                                                                            engine: Any) -> None:
    person = _person()
    _given_support(engine, person)
    known_clave_wrong_cic = _ask(client, person.clave_elector, "123456789")
    unknown_clave = _ask(client, _person().clave_elector, "123456789")
    assert known_clave_wrong_cic.status_code == unknown_clave.status_code == 200
    assert known_clave_wrong_cic.text == unknown_clave.text
    assert sorted(known_clave_wrong_cic.headers.keys()) == sorted(unknown_clave.headers.keys())
    assert "No encontramos ningún apoyo" in unknown_clave.text


@pytest.mark.parametrize(("clave", "cic", "message"), [
    ("A" * 5000, "123456789", "La clave de elector tiene 18 caracteres"),
    ("LOPEMA900101\x0026H001", "123456789", "La clave de elector tiene 18 caracteres"),
    ("", "123456789", "Escribe tu clave de elector"),
    ("LOPEMA90010126H001", "", "Escribe el CIC"),
    ("LOPEMA90010126H001", "12345\x00789", "El CIC son los 9 números"),
    ("LOPEMA90010126H001", "9" * 5000, "El CIC son los 9 números"),
])
def test_hostile_input_gets_a_clear_message_not_a_500(client: TestClient, clave: str, cic: str,
                                                      message: str) -> None:
    answer = _ask(client, clave, cic)
    assert answer.status_code == 400 and message in answer.text
    assert "\x00" not in answer.text and "A" * 41 not in answer.text


def test_lower_case_and_spaces_are_forgiven(client: TestClient, engine: Any) -> None:
    person = _person()
    _given_support(engine, person)
    spaced = " ".join([person.clave_elector[:6].lower(), person.clave_elector[6:]]) + "  "
    answer = _ask(client, spaced, f" {person.cic[:4]} {person.cic[4:]} ")
    assert answer.status_code == 200 and "Rosa Aspirante" in answer.text


def test_no_di_este_apoyo_flags_it_once_and_a_replayed_token_changes_nothing(client: TestClient,
                                                                            engine: Any) -> None:
    person = _person()
    support_id = _given_support(engine, person)
    answer = BeautifulSoup(_ask(client, person.clave_elector, person.cic).text, "html.parser")
    form = answer.find("form", action="/verifica/no-lo-di")
    assert form is not None and form["method"] == "post"
    fields = {field["name"]: str(field["value"]) for field in form.find_all("input")}
    assert set(fields) == {CSRF_FIELD, "token"} and str(support_id) != fields["token"]

    assert client.post("/verifica/no-lo-di", data={"token": fields["token"]}).status_code == 403  # no CSRF
    assert _flagged(engine, support_id) == (SupportStatus.VALID, False, 0)
    done = client.post("/verifica/no-lo-di", data=fields)
    assert done.url.path == "/verifica" and done.url.query == b"hecho=informado"
    assert "Recibimos tu aviso" in done.text
    assert _flagged(engine, support_id) == (SupportStatus.IN_REVIEW, True, 1)
    again = client.post("/verifica/no-lo-di", data=fields)  # replayed
    assert again.status_code == 200 and _flagged(engine, support_id) == (SupportStatus.IN_REVIEW, True, 1)
    shown_again = _ask(client, person.clave_elector, person.cic).text
    assert "Ya se informó que este apoyo no se dio" in shown_again and "/verifica/no-lo-di" not in shown_again


def test_a_forged_token_or_a_folio_is_refused(client: TestClient, engine: Any) -> None:
    person = _person()
    support_id = _given_support(engine, person)
    with session_scope(engine) as db:
        support = db.get(Support, support_id)
        assert support is not None
        folio = support.folio
    csrf = _csrf(client)
    for token in (folio, str(support_id), "eyJhcG95byI6MSwiaGFzdGEiOjk5OTk5OTk5OTl9.forged", "", "\x00" * 10):
        refused = client.post("/verifica/no-lo-di", data={CSRF_FIELD: csrf, "token": token})
        assert refused.status_code == 400 and "No pudimos recibir tu aviso" in refused.text
    assert _flagged(engine, support_id) == (SupportStatus.VALID, False, 0)


def test_checks_are_limited_per_clave_and_per_ip(limited: MakeClient) -> None:
    per_clave = limited(verify_clave="2/hour")
    person, other = _person(), _person()
    assert [_ask(per_clave, person.clave_elector, cic).status_code for cic in ("111111111", "222222222")] == [200,
                                                                                                         200]
    blocked = _ask(per_clave, person.clave_elector, "333333333")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert _ask(per_clave, other.clave_elector, "111111111").status_code == 200  # another clave goes on

    per_ip = limited(verify_ip="2/hour")
    assert [_ask(per_ip, _person().clave_elector, "111111111").status_code for _ in range(2)] == [200, 200]
    assert _ask(per_ip, _person().clave_elector, "111111111").status_code == 429


def test_neither_identifier_reaches_the_logs(client: TestClient, engine: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    person = _person()
    _given_support(engine, person)
    with caplog.at_level(logging.DEBUG):
        _ask(client, person.clave_elector, person.cic)
        _ask(client, "A" * 5000, person.cic)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert person.clave_elector not in logged and person.cic not in logged
