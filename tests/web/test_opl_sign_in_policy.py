"""The OPL admin's staff sign-in page (/opl/acceso-personal): turning the policy on is refused while the admin's
own session would not pass it; once on, the OPL's staff sessions that would not pass end at once."""

from __future__ import annotations

import httpx2
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, StaffSignInPolicy, UserSession
from auth.roles import Role
from auth.sessions import hash_token, start_session
from core.audit import AuditEvent
from core.clock import utcnow
from core.db import session_scope
from tests.auth.institution import NAME, Institution, sign_in_at
from tests.auth.login_flow import csrf_from
from tests.factories.accounts import make_account
from tests.factories.processes import make_opl

ADMIN = "demo-admin-opl"
PAGE = "/opl/acceso-personal"


def _account(engine: Engine, role: Role, opl_id: int | None, *, iepc_subject: str | None = None) -> int:
    with session_scope(engine) as db:
        account = make_account(db, role=role, opl_id=opl_id)
        assert account.id is not None
        if iepc_subject:
            db.add(OAuthIdentity(account_id=account.id, provider=NAME, subject=iepc_subject))
        return account.id


def _open_session(engine: Engine, account_id: int, *, provider: str, second_factor: bool) -> str:
    with session_scope(engine) as db:
        token = start_session(session=db, account_id=account_id, now=utcnow(), provider=provider,
                              second_factor=second_factor)
    return hash_token(token)


def _save(client: TestClient, **form: str) -> httpx2.Response:
    csrf = csrf_from(client.get(PAGE).text)
    return client.post(PAGE, data={"csrf_token": csrf, **form}, follow_redirects=False)


def test_the_page_offers_the_institutional_providers(institution_client: tuple[TestClient, Institution],
                                                     engine: Engine, opl_id: int) -> None:
    client, institution = institution_client
    _account(engine, Role.OPL_ADMIN, opl_id, iepc_subject=ADMIN)
    assert sign_in_at(client, institution, ADMIN, amr=["otp"]).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Solo con IEPC Institucional" in page.text and 'value="iepc"' in page.text
    assert "Sin regla" in page.text


def test_an_admin_whose_session_would_not_pass_cannot_turn_it_on(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    _account(engine, Role.OPL_ADMIN, opl_id, iepc_subject=ADMIN)
    assert sign_in_at(client, institution, ADMIN, amr=["pwd"]).status_code == 303  # no second factor
    refused = _save(client, proveedor=NAME, segundo_factor="si")
    assert refused.status_code == 400
    assert "te dejaría fuera" in refused.text
    assert session.get(StaffSignInPolicy, opl_id) is None
    assert client.get(PAGE).status_code == 200  # still signed in


def test_turning_it_on_ends_the_staff_sessions_that_do_not_meet_it(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    admin_id = _account(engine, Role.OPL_ADMIN, opl_id, iepc_subject=ADMIN)
    reviewer_id = _account(engine, Role.REVIEWER, opl_id)
    citizen_id = _account(engine, Role.CITIZEN, None)
    other_opl_reviewer = _account(engine, Role.REVIEWER, _other_opl(engine))
    via_google = _open_session(engine, reviewer_id, provider="google", second_factor=False)
    without_factor = _open_session(engine, reviewer_id, provider=NAME, second_factor=False)
    compliant = _open_session(engine, reviewer_id, provider=NAME, second_factor=True)
    citizen = _open_session(engine, citizen_id, provider="google", second_factor=False)
    elsewhere = _open_session(engine, other_opl_reviewer, provider="google", second_factor=False)
    admin_elsewhere = _open_session(engine, admin_id, provider="facebook", second_factor=False)
    assert sign_in_at(client, institution, ADMIN, amr=["otp"]).status_code == 303

    saved = _save(client, proveedor=NAME, segundo_factor="si")
    assert saved.status_code == 303
    assert "Guardamos la regla" in client.get(saved.headers["location"]).text

    policy = session.get(StaffSignInPolicy, opl_id)
    assert policy is not None and (policy.provider, policy.require_second_factor) == (NAME, True)
    assert policy.updated_by_account_id == admin_id
    ended = {row.token_hash for row in session.exec(select(UserSession)) if row.revoked_at is not None}
    assert ended == {via_google, without_factor, admin_elsewhere}
    assert not ended & {compliant, citizen, elsewhere}
    actions = list(session.exec(select(AuditEvent.action, AuditEvent.after_summary)
                                .where(AuditEvent.object_type == "opl", AuditEvent.object_id == str(opl_id))))
    assert ("staff_sign_in_policy_set", f"provider={NAME}; second_factor=True") in actions
    assert ("staff_sessions_ended", "sessions=3") in actions


def test_a_provider_that_is_not_configured_is_refused(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    _account(engine, Role.OPL_ADMIN, opl_id, iepc_subject=ADMIN)
    assert sign_in_at(client, institution, ADMIN, amr=["otp"]).status_code == 303
    refused = _save(client, proveedor="google", segundo_factor="si")
    assert refused.status_code == 400
    assert "Elige uno de los proveedores" in refused.text
    assert session.get(StaffSignInPolicy, opl_id) is None


def test_turning_it_off_is_audited(institution_client: tuple[TestClient, Institution], engine: Engine,
                                   opl_id: int, session: Session) -> None:
    client, institution = institution_client
    _account(engine, Role.OPL_ADMIN, opl_id, iepc_subject=ADMIN)
    assert sign_in_at(client, institution, ADMIN, amr=["otp"]).status_code == 303
    assert _save(client, proveedor=NAME, segundo_factor="si").status_code == 303
    assert _save(client, proveedor="ninguno").status_code == 303
    session.expire_all()
    assert session.get(StaffSignInPolicy, opl_id) is None
    offs = session.exec(select(AuditEvent).where(AuditEvent.action == "staff_sign_in_policy_set",
                                                 AuditEvent.after_summary == "off")).all()
    assert len(offs) == 1


def test_a_reviewer_cannot_open_the_page(client: TestClient, sign_in_with_role: object, opl_id: int) -> None:
    sign_in_with_role(client, Role.REVIEWER, opl_id=opl_id)  # type: ignore[operator]
    assert client.get(PAGE).status_code == 403


def _other_opl(engine: Engine) -> int:
    with session_scope(engine) as db:
        opl = make_opl(db)
        assert opl.id is not None
        return opl.id
