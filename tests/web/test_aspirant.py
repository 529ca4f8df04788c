import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, RoleGrant
from auth.roles import Role
from core.audit import OutboxMessage
from core.db import session_scope
from registry.models import Aspirant, Auxiliary
from registry.states import InvitationState
from tests.delivered_mail import delivered_text
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_auxiliary

NEW = "/aspirante/auxiliares"
GOOD = {"nombre": "Rosa Pérez Gómez", "clave_elector": "PEGORO90010126M100", "correo": "rosa@ejemplo.mx",
        "telefono": "662 123 4567"}


class Campaign:
    def __init__(self, app: Starlette) -> None:
        with session_scope(app.state.engine) as db:
            aspirant = make_aspirant(db, name="Carmen Aspirante")
            account = make_account(db, name="Carmen", role=Role.ASPIRANT, aspirant_id=aspirant.id)
            self.aspirant_id, self.account_id = aspirant.id, account.id


@pytest.fixture
def campaign(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> Campaign:
    made = Campaign(app)
    sign_in(client, made.account_id)
    return made


def _auxiliaries(app: Starlette) -> list[Auxiliary]:
    with Session(app.state.engine) as db:
        return list(db.exec(select(Auxiliary)).all())


def test_the_home_page_shows_the_process_and_each_auxiliarys_progress(client: TestClient, app: Starlette,
                                                                       campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        aspirant = db.get(Aspirant, campaign.aspirant_id)
        assert aspirant is not None
        make_auxiliary(db, aspirant=aspirant, email="beto@ejemplo.mx")
    page = client.get("/aspirante")
    assert page.status_code == 200
    assert "Gubernatura 2027" in page.text and "Auxiliar Prueba" in page.text and "Activo" in page.text


def test_registering_an_auxiliary_invites_them_by_mail(client: TestClient, app: Starlette,
                                                       campaign: Campaign) -> None:
    response = client.post(NEW, data=GOOD, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/aspirante?hecho=registrado")
    [auxiliary] = _auxiliaries(app)
    assert (auxiliary.clave_elector, auxiliary.phone, auxiliary.state) == ("PEGORO90010126M100", "6621234567",
                                                                          InvitationState.INVITED)
    with Session(app.state.engine) as db:
        mail = db.exec(select(OutboxMessage)).one()
    assert mail.to_address == "rosa@ejemplo.mx" and mail.sent_at is not None  # delivered after the commit
    assert re.search(r"https://[^/\s]+/campo/invitacion/\d+-[\w-]{20,}",
                     delivered_text(app.state.settings.outbox_dir, mail.id))
    assert mail.body == ""  # the live link is not kept once sent
    assert "Registramos a tu auxiliar" in client.get(response.headers["location"]).text


def test_bad_fields_are_explained_next_to_each_field_and_nothing_is_stored(client: TestClient, app: Starlette,
                                                                           campaign: Campaign) -> None:
    page = client.post(NEW, data={**GOOD, "clave_elector": "PEGORO", "telefono": "12"})
    assert page.status_code == 400
    assert 'id="clave_elector-error"' in page.text and 'aria-describedby="clave_elector-hint clave_elector-error"' \
        in page.text and 'id="telefono-error"' in page.text
    assert 'value="Rosa Pérez Gómez"' in page.text and _auxiliaries(app) == []


def test_a_csv_file_with_errors_names_the_lines_and_registers_nobody(client: TestClient, app: Starlette,
                                                                      campaign: Campaign) -> None:
    data = ("nombre,clave de elector,correo,telefono\n"
            "Rosa Pérez,PEGORO90010126M100,rosa@ejemplo.mx,6621234567\n"
            "Luis Díaz,CLAVE-MALA,luis@ejemplo.mx,6627654321\n").encode()
    page = client.post(f"{NEW}/csv", files={"archivo": ("equipo.csv", data, "text/csv")})
    assert page.status_code == 400 and "Renglón 3" in page.text and _auxiliaries(app) == []
    fixed = data.replace(b"CLAVE-MALA", b"DILULU85020326H200")
    response = client.post(f"{NEW}/csv", files={"archivo": ("equipo.csv", fixed, "text/csv")},
                           follow_redirects=False)
    assert response.status_code == 303 and len(_auxiliaries(app)) == 2


def test_suspend_reactivate_and_resend(client: TestClient, app: Starlette, campaign: Campaign) -> None:
    client.post(NEW, data=GOOD)
    [auxiliary] = _auxiliaries(app)
    assert client.post(f"{NEW}/{auxiliary.id}/reenviar", follow_redirects=False).status_code == 303
    client.post(f"{NEW}/{auxiliary.id}/suspender")
    assert _auxiliaries(app)[0].state is InvitationState.SUSPENDED
    again = client.post(f"{NEW}/{auxiliary.id}/suspender")  # a second click: nothing to do, no error page
    assert again.status_code == 200 and "ya no aplica" in again.text
    client.post(f"{NEW}/{auxiliary.id}/reactivar")
    assert _auxiliaries(app)[0].state is InvitationState.INVITED  # never accepted: back to invited


def test_another_aspirants_auxiliary_cannot_be_touched(client: TestClient, app: Starlette,
                                                        campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        auxiliary = make_auxiliary(db, aspirant=make_aspirant(db, name="Otro Aspirante"))
        auxiliary_id = auxiliary.id
    assert client.post(f"{NEW}/{auxiliary_id}/suspender").status_code == 404
    assert _auxiliaries(app)[0].state is InvitationState.ACTIVE



def test_an_auxiliary_id_no_row_can_have_is_a_404_not_a_500(client: TestClient, app: Starlette,
                                                             campaign: Campaign) -> None:
    for number in ("99999999999999999999", "2147483648", "9" * 5000):
        assert client.post(f"{NEW}/{number}/suspender").status_code == 404


def test_an_aspirant_account_without_a_candidacy_gets_an_explanation(client: TestClient, app: Starlette,
                                                                      sign_in: Callable[..., Any]) -> None:
    with session_scope(app.state.engine) as db:
        account_id = make_account(db, role=Role.ASPIRANT).id
    sign_in(client, account_id)
    assert "no está ligada a una candidatura" in client.get("/aspirante").text
    assert client.get("/aspirante/auxiliares/nuevo").status_code == 404


def test_the_invited_person_accepts_by_signing_in_with_that_address(client: TestClient, app: Starlette,
                                                                    campaign: Campaign,
                                                                    sign_in: Callable[..., Any]) -> None:
    client.post(NEW, data=GOOD)
    with Session(app.state.engine) as db:
        sent = db.exec(select(OutboxMessage)).one()
    link = re.search(r"/campo/invitacion/\S+", delivered_text(app.state.settings.outbox_dir, sent.id))
    assert link is not None
    with session_scope(app.state.engine) as db:
        stranger = make_account(db, name="Otra", email="otra@ejemplo.mx").id
        rosa = make_account(db, name="Rosa", email=None).id
        db.add(OAuthIdentity(account_id=rosa, provider="local", subject="rosa", email="ROSA@ejemplo.mx"))
    with TestClient(app, base_url=str(client.base_url)) as anonymous:
        page = anonymous.get(link.group(0))
        assert "Carmen Aspirante" in page.text and "r***@ejemplo.mx" in page.text and "/entrar?siguiente=" in page.text
    sign_in(client, stranger)
    refused = client.post(link.group(0))
    assert refused.status_code == 400 and "correo distinto" in refused.text
    sign_in(client, rosa)
    accepted = client.post(link.group(0), follow_redirects=False)
    assert accepted.headers["location"] == "/campo?bienvenida=1"
    with Session(app.state.engine) as db:
        grant = db.exec(select(RoleGrant).where(RoleGrant.account_id == rosa, RoleGrant.role == Role.AUXILIARY)).one()
    assert grant.aspirant_id == campaign.aspirant_id
    assert "Ya eres auxiliar" in client.get("/campo?bienvenida=1").text


def test_out_of_range_ids_in_urls_are_not_found_not_errors(client: TestClient, campaign: Campaign) -> None:
    assert client.post(f"{NEW}/{2**40}/suspender").status_code == 404
    assert client.get(f"/campo/invitacion/{2**40}-abc").status_code == 400
