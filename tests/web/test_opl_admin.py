"""The OPL admin's pages: processes (create, edit, filter, from a file), aspirants, reviewers and the catalogue;
one OPL's admin never reaches another OPL's rows (direct URLs: 404); hostile input gets field messages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from auth.models import RoleGrant
from auth.roles import Role
from core.audit import AuditEvent, OutboxMessage
from core.db import session_scope
from registry.catalogue import catalogue
from registry.models import Aspirant, InconsistencyType, Job, Opl, PaperExceptionMunicipality, Process
from registry.states import JobKind
from tests.conftest import TEST_ORIGIN, SignIn, SignInWithRole
from tests.delivered_mail import delivered_text
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll

GOOD = {"nombre": "Presidencia municipal de Lerdo 2027", "cargo": "Presidencia municipal", "ambito": "municipio",
        "municipio": "12", "inicio": "2027-01-10T08:00", "fin": "2027-02-08T23:59", "umbral_porcentaje": "3",
        "municipios_papel": "4, 12, 30", "muestra_revision_porcentaje": "5", "ritmo_captura_segundos": "30",
        "objeciones_inicio": "2027-02-10T09:00", "objeciones_fin": "2027-02-20T18:00"}


@pytest.fixture
def opls(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        mine, theirs = make_opl(session, short_name="IEPC Durango", state_code=10), make_opl(session)
        assert mine.id is not None and theirs.id is not None
        return mine.id, theirs.id


@pytest.fixture
def admin(client: TestClient, sign_in_with_role: SignInWithRole, opls: tuple[int, int]) -> TestClient:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opls[0])
    return client


def _process_of(engine: Engine, name: str) -> Process:
    with session_scope(engine) as session:
        found = session.exec(select(Process).where(Process.name == name)).one()
        session.expunge(found)
        return found


def test_an_admin_creates_a_process_with_its_paper_municipalities_and_objection_period(
        admin: TestClient, engine: Engine, opls: tuple[int, int]) -> None:
    answer = admin.post("/opl/procesos", data=GOOD, follow_redirects=False)
    assert answer.status_code == 303
    process = _process_of(engine, GOOD["nombre"])
    assert process.opl_id == opls[0] and process.scope_state == 10 and process.scope_municipality == 12
    assert process.starts_at.hour == 14  # 08:00 in Mexico City is 14:00 UTC
    assert process.objections_close_at is not None and process.review_sample_percent == 5
    with session_scope(engine) as session:
        paper = set(session.exec(select(PaperExceptionMunicipality.municipality)
                                 .where(PaperExceptionMunicipality.process_id == process.id)))
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "process_created")).one()
    assert paper == {4, 12, 30}
    assert "Lerdo" not in audited.after_summary
    home = admin.get(answer.headers["location"])
    assert GOOD["nombre"] in home.text and "4, 12, 30" in home.text


def test_editing_a_process_shows_local_times_and_saves_changes(admin: TestClient, engine: Engine) -> None:
    admin.post("/opl/procesos", data=GOOD)
    process = _process_of(engine, GOOD["nombre"])
    page = admin.get(f"/opl/procesos/{process.id}")
    assert 'value="2027-01-10T08:00"' in page.text and 'value="4, 12, 30"' in page.text
    changed = {**GOOD, "municipios_papel": "12", "fin": "2027-02-09T23:59"}
    assert admin.post(f"/opl/procesos/{process.id}", data=changed, follow_redirects=False).status_code == 303
    with session_scope(engine) as session:
        assert set(session.exec(select(PaperExceptionMunicipality.municipality))) == {12}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("umbral_porcentaje", "9" * 5000, "porcentaje mayor que 0"),
    ("lista_nominal", "99999999999999999999", "Lista Nominal como número entero"),
    ("nombre", "Gubernatura\x00", "caracteres no permitidos"),
    ("inicio", "99999-01-01T00:00", "fecha y hora válidas"),
    ("fin", "1900-01-01T00:00", "fecha y hora válidas"),
    ("municipio", "²", "número de municipio"),
    ("municipios_papel", "4, 12, 9999", "números de municipio"),
    ("ritmo_captura_segundos", "-1", "número entero de segundos"),
    ("muestra_revision_porcentaje", "101", "porcentaje entero de 0 a 100"),
])
def test_hostile_input_gets_a_clear_field_message(admin: TestClient, engine: Engine, field: str, value: str,
                                                   message: str) -> None:
    answer = admin.post("/opl/procesos", data={**GOOD, field: value})
    assert answer.status_code == 400
    assert message in answer.text and f'href="#{field}"' in answer.text
    with session_scope(engine) as session:
        assert session.exec(select(Process)).first() is None


def test_end_before_start_and_missing_scope_number_are_named(admin: TestClient) -> None:
    answer = admin.post("/opl/procesos", data={**GOOD, "fin": "2027-01-01T00:00", "municipio": ""})
    assert answer.status_code == 400
    assert "posterior a su inicio" in answer.text and "número de municipio" in answer.text


def test_an_admin_of_one_opl_cannot_reach_another_opls_rows(admin: TestClient, engine: Engine,
                                                            opls: tuple[int, int]) -> None:
    with session_scope(engine) as session:
        other = session.get(Opl, opls[1])
        process = make_process(session, opl=other, name="Proceso ajeno")
        aspirant = make_aspirant(session, process=process, name="Ajena Persona")
        reviewer = make_account(session, role=Role.REVIEWER, opl_id=opls[1], name="Revisor Ajeno")
        foreign_type = catalogue(session=session, opl_id=opls[1])[0]
        ids = process.id, aspirant.id, reviewer.id, foreign_type.id
    pid, aid, rid, tid = ids
    assert "Proceso ajeno" not in admin.get("/opl").text
    assert "Proceso ajeno" not in admin.get(f"/opl?proceso={pid}").text
    assert "Revisor Ajeno" not in admin.get("/opl/revisores").text
    assert admin.get(f"/opl/procesos/{pid}").status_code == 404
    assert admin.post(f"/opl/procesos/{pid}", data=GOOD).status_code == 404
    assert admin.get(f"/opl/procesos/{pid}/aspirantes").status_code == 404
    assert admin.post(f"/opl/procesos/{pid}/aspirantes", data={"nombre": "X Y", "correo": "x@y.mx"}).status_code == 404
    assert admin.post(f"/opl/aspirantes/{aid}/desactivar").status_code == 404
    assert admin.post(f"/opl/revisores/{rid}/quitar").status_code == 404
    assert admin.post(f"/opl/catalogo/{tid}", data={"etiqueta_es": "x", "etiqueta_en": "x"}).status_code == 404
    assert admin.post(f"/opl/catalogo/{tid}/borrar").status_code == 404
    assert admin.get("/opl/procesos/99999999999999999999").status_code == 404
    with session_scope(engine) as session:
        assert session.get(Aspirant, aid).is_active  # type: ignore[union-attr]
        assert session.exec(select(RoleGrant).where(RoleGrant.account_id == rid)).first() is not None
        assert session.get(InconsistencyType, tid) is not None
        assert session.get(Process, pid).name == "Proceso ajeno"  # type: ignore[union-attr]


def test_a_reviewer_cannot_use_the_admin_pages(client: TestClient, sign_in_with_role: SignInWithRole,
                                               opls: tuple[int, int]) -> None:
    sign_in_with_role(client, Role.REVIEWER, opl_id=opls[0])
    assert client.get("/opl/procesos/nuevo").status_code == 403
    assert client.post("/opl/procesos", data=GOOD).status_code == 403


def _link(app: Any, to: str) -> str:
    with session_scope(app.state.engine) as session:
        message_id = session.exec(select(OutboxMessage.id).where(OutboxMessage.to_address == to)).one()
    found = re.search(r"https://testserver(/opl/invitacion/\S+)", delivered_text(app.state.settings.outbox_dir,
                                                                               message_id))
    assert found is not None
    return found.group(1)


def test_an_aspirant_is_registered_invited_and_accepts_with_the_invited_address(
        admin: TestClient, app: Any, engine: Engine, sign_in_with_role: SignInWithRole, sign_in: SignIn) -> None:
    admin.post("/opl/procesos", data=GOOD)
    process = _process_of(engine, GOOD["nombre"])
    answer = admin.post(f"/opl/procesos/{process.id}/aspirantes",
                        data={"nombre": "Rosa Aspirante", "correo": "Rosa@Example.mx"}, follow_redirects=False)
    assert answer.status_code == 303
    link = _link(app, "rosa@example.mx")
    with TestClient(app, base_url=TEST_ORIGIN) as stranger:
        sign_in_with_role(stranger, Role.CITIZEN)  # an account without the invited address
        assert "correo distinto" in stranger.post(link).text
    with session_scope(engine) as session:
        account_id = make_account(session, email="rosa@example.mx", name="Rosa").id
    assert account_id is not None
    with TestClient(app, base_url=TEST_ORIGIN) as rosa:
        sign_in(rosa, account_id)
        accepted = rosa.post(link, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/aspirante"
    with session_scope(engine) as session:
        aspirant = session.exec(select(Aspirant).where(Aspirant.process_id == process.id)).one()
        assert aspirant.account_id == account_id
        assert session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id,
                                                    RoleGrant.role == Role.ASPIRANT)).one()
    deactivated = admin.post(f"/opl/aspirantes/{aspirant.id}/desactivar", follow_redirects=False)
    assert deactivated.status_code == 303
    with session_scope(engine) as session:
        assert not session.get(Aspirant, aspirant.id).is_active  # type: ignore[union-attr]


def test_a_reviewer_is_invited_then_removed_with_the_grant_and_the_old_link_void(
        admin: TestClient, app: Any, engine: Engine, sign_in: SignIn) -> None:
    assert admin.post("/opl/revisores", data={"correo": "luis@example.mx"}, follow_redirects=False).status_code == 303
    link = _link(app, "luis@example.mx")
    with session_scope(engine) as session:
        account_id = make_account(session, email="luis@example.mx", name="Luis Revisor").id
    assert account_id is not None
    with TestClient(app, base_url=TEST_ORIGIN) as luis:
        sign_in(luis, account_id)
        assert luis.post(link, follow_redirects=False).headers["location"] == "/mesa"
        assert "Luis Revisor" in admin.get("/opl/revisores").text
        assert admin.post(f"/opl/revisores/{account_id}/quitar", follow_redirects=False).status_code == 303
        with session_scope(engine) as session:
            assert session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id,
                                                        RoleGrant.role == Role.REVIEWER)).first() is None
        assert "ya no está vigente" in luis.post(link).text  # the old link does not bring the role back
    with session_scope(engine) as session:
        assert session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id,
                                                    RoleGrant.role == Role.REVIEWER)).first() is None


def test_a_tampered_or_odd_invitation_link_is_refused_cleanly(client: TestClient) -> None:
    for token in ("r1-1-" + "0" * 64, "a99999999999-1-x", "\u202e", "9" * 5000):
        answer = client.get(f"/opl/invitacion/{token}")
        assert answer.status_code in (400, 404)


def test_the_catalogue_is_edited_a_type_added_and_an_unused_one_deleted(admin: TestClient, engine: Engine,
                                                                          opls: tuple[int, int]) -> None:
    page = admin.get("/opl/catalogo")
    assert page.status_code == 200 and "Fotocopia de la credencial" in page.text
    with session_scope(engine) as session:
        photocopy = session.exec(select(InconsistencyType).where(InconsistencyType.opl_id == opls[0],
                                                                  InconsistencyType.code == "fotocopia")).one()
    edited = admin.post(f"/opl/catalogo/{photocopy.id}", data={
        "etiqueta_es": "Fotocopia", "etiqueta_en": "Photocopy", "doble": "si", "activo": "si", "orden": "3"},
        follow_redirects=False)
    assert edited.status_code == 303
    added = admin.post("/opl/catalogo", data={"etiqueta_es": "Credencial dañada", "etiqueta_en": "Damaged card",
                                              "activo": "si", "orden": "50"}, follow_redirects=False)
    assert added.status_code == 303
    assert admin.post("/opl/catalogo", data={"etiqueta_es": "Credencial dañada", "etiqueta_en": "x",
                                             "orden": "1"}).status_code == 400
    with session_scope(engine) as session:
        row = session.get(InconsistencyType, photocopy.id)
        assert row is not None and row.double_check and not row.requires_comment and row.sort_order == 3
        new = session.exec(select(InconsistencyType).where(InconsistencyType.code == "credencial_danada")).one()
    assert admin.post(f"/opl/catalogo/{new.id}/borrar", follow_redirects=False).status_code == 303
    with session_scope(engine) as session:
        assert session.get(InconsistencyType, new.id) is None


NASTY = ["²", "٣", "9" * 5000, "-1", "\x00", "\u202e", "1e400", "NaN", "2027-13-45T25:61", "0", " ", "%", "%(x)s"]
ODD = st.one_of(st.sampled_from(NASTY), st.text(max_size=60), st.text(alphabet="0123456789.,-T: ", max_size=20))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from([*sorted(GOOD), "unidad_dispersion", "dispersion_minima_porcentaje",
                               "dispersion_porcentaje_por_unidad", "lista_nominal", "distrito"]), value=ODD)
def test_any_text_in_any_process_field_is_answered_without_a_server_error(admin: TestClient, field: str,
                                                                          value: str) -> None:
    assert admin.post("/opl/procesos", data={**GOOD, field: value}, follow_redirects=False).status_code in (303, 400)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=ODD, data=st.binary(max_size=300))
def test_any_people_catalogue_or_file_input_is_answered_without_a_server_error(admin: TestClient, value: str,
                                                                               data: bytes) -> None:
    answers = [
        admin.post("/opl/revisores", data={"correo": value}, follow_redirects=False),
        admin.post("/opl/catalogo", data={"etiqueta_es": value, "etiqueta_en": value, "orden": value,
                                          "codigo": value}, follow_redirects=False),
        admin.post("/opl/procesos/archivo", files={"archivo": ("p.csv", data)}, data={"accion": "importar"}),
        admin.get("/opl", params={"proceso": value}),
        admin.get(f"/opl/invitacion/{quote(value, safe='') or 'x'}"),
    ]
    assert all(answer.status_code < 500 for answer in answers), [a.status_code for a in answers]


def test_the_home_filters_by_process_and_verify_now_queues_the_compulsa(admin: TestClient, engine: Engine,
                                                                        opls: tuple[int, int]) -> None:
    admin.post("/opl/procesos", data=GOOD)
    admin.post("/opl/procesos", data={**GOOD, "nombre": "Presidencia municipal de Gómez Palacio 2027",
                                      "municipio": "7"})
    lerdo = _process_of(engine, GOOD["nombre"])
    everything, one = admin.get("/opl").text, admin.get(f"/opl?proceso={lerdo.id}").text
    assert "Gómez Palacio" in everything and "Lerdo" in everything
    assert "Lerdo" in one and "Gómez Palacio 2027</h3>" not in one
    assert f'action="/opl/procesos/{lerdo.id}/verificar"' in one
    with session_scope(engine) as session:
        make_roll(session, opl=session.get(Opl, opls[0]), citizens=[citizen()])  # type: ignore[arg-type]
    queued = admin.post(f"/opl/procesos/{lerdo.id}/verificar", follow_redirects=False)
    assert queued.headers["location"].endswith("aviso=verificacion")
    with session_scope(engine) as session:
        job = session.exec(select(Job)).one()
    assert (job.kind, job.process_id) == (JobKind.VERIFY, lerdo.id)


def test_an_aspirant_who_has_not_accepted_gets_a_fresh_link(admin: TestClient, app: Any, engine: Engine,
                                                             sign_in: SignIn) -> None:
    admin.post("/opl/procesos", data=GOOD)
    process = _process_of(engine, GOOD["nombre"])
    admin.post(f"/opl/procesos/{process.id}/aspirantes", data={"nombre": "Rosa Aspirante", "correo": "r@example.mx"})
    with session_scope(engine) as session:
        aspirant_id = session.exec(select(Aspirant.id)).one()
    page = admin.get(f"/opl/procesos/{process.id}/aspirantes").text
    assert f'action="/opl/aspirantes/{aspirant_id}/reenviar"' in page
    assert admin.post(f"/opl/aspirantes/{aspirant_id}/reenviar", follow_redirects=False).status_code == 303
    with session_scope(engine) as session:
        assert len(session.exec(select(OutboxMessage).where(OutboxMessage.to_address == "r@example.mx")).all()) == 2
