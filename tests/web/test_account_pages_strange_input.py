"""The new sign-in pages (issue 16) under the largest, emptiest and strangest values a person or an attacker can
send: never a 500, a clear Spanish answer, nothing stored changed."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, StaffSignInPolicy
from auth.roles import Role
from core.db import session_scope
from tests.auth.institution import NAME, Institution, sign_in_at
from tests.auth.login_flow import csrf_from
from tests.conftest import SignIn
from tests.factories.accounts import make_account

STRANGE = ["", "\x00", "x" * 10_000, "9" * 5_000, "-1", "iepc\x00", "../../etc", "🙂", "<script>"]


def _citizen(engine: Engine) -> int:
    with session_scope(engine) as db:
        account = make_account(db, role=Role.CITIZEN, email="carmen@correo.mx")
        assert account.id is not None
        db.add(OAuthIdentity(account_id=account.id, provider="google", subject="g-1"))
        db.add(OAuthIdentity(account_id=account.id, provider="local", subject="l-1"))
        return account.id


def _identities(session: Session) -> list[tuple[int, str, str]]:
    rows = session.exec(select(OAuthIdentity)).all()
    return sorted((row.account_id, row.provider, row.subject) for row in rows)


@pytest.mark.parametrize("value", ["0", "-1", "9" * 5_000, "abc", "1.5", "%00"])
def test_unlinking_a_strange_identity_id_is_a_clear_refusal(client: TestClient, engine: Engine, session: Session,
                                                            sign_in: SignIn, value: str) -> None:
    sign_in(client, _citizen(engine))
    before = _identities(session)
    answer = client.post(f"/cuenta/accesos/{value}/desvincular", follow_redirects=False)
    assert answer.status_code in (303, 404)
    if answer.status_code == 404:
        assert "no existe" in answer.text.lower() or "no encontramos" in answer.text.lower()
    session.expire_all()
    assert _identities(session) == before


@pytest.mark.parametrize("value", ["x" * 5_000, "%00", "google%00", "a.b", "🙂"])
def test_linking_a_strange_provider_name_is_not_found(client: TestClient, engine: Engine, session: Session,
                                                      sign_in: SignIn, value: str) -> None:
    sign_in(client, _citizen(engine))
    before = _identities(session)
    answer = client.post(f"/cuenta/accesos/vincular/{value}", follow_redirects=False)
    assert answer.status_code == 404
    assert "<html" in answer.text.lower() and "Traceback" not in answer.text
    session.expire_all()
    assert _identities(session) == before


def test_the_accounts_page_ignores_strange_query_values(client: TestClient, engine: Engine, sign_in: SignIn) -> None:
    sign_in(client, _citizen(engine))
    for value in STRANGE:
        page = client.get("/cuenta/accesos", params={"hecho": value, "error": value, "rechazo": value,
                                                    "proveedor": value})
        assert page.status_code == 200, value
        assert "<script>" not in page.text  # escaped wherever it shows
        # Only the language link carries the address as it was asked for (to stay on this page); nothing else
        # echoes what was sent.
        before_nav, rest = page.text.split('<nav aria-label="Idioma"', 1)
        assert "x" * 1_000 not in before_nav + rest.split("</nav>", 1)[1]


def test_the_signed_out_page_takes_any_state(client: TestClient) -> None:
    for value in STRANGE:
        answer = client.get("/salida/vuelta", params={"state": value})
        assert answer.status_code == 200, value
        assert "Cerraste tu sesión" in answer.text


def _policy_csrf_as_admin(client: TestClient, institution: Institution, engine: Engine, opl_id: int) -> str:
    """The OPL admin signs in through the institution with a second factor; the staff policy page's CSRF token."""
    with session_scope(engine) as db:
        admin = make_account(db, role=Role.OPL_ADMIN, opl_id=opl_id)
        assert admin.id is not None
        db.add(OAuthIdentity(account_id=admin.id, provider=NAME, subject="demo-admin-opl"))
    assert sign_in_at(client, institution, "demo-admin-opl", amr=["otp"]).status_code == 303
    return csrf_from(client.get("/opl/acceso-personal").text)


@pytest.mark.parametrize("value", [*STRANGE, "google", "local"])
def test_the_staff_policy_refuses_a_strange_provider_and_keeps_what_was_stored(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session,
        value: str) -> None:
    client, institution = institution_client
    csrf = _policy_csrf_as_admin(client, institution, engine, opl_id)
    saved = client.post("/opl/acceso-personal", follow_redirects=False,
                        data={"csrf_token": csrf, "proveedor": NAME, "segundo_factor": "si"})
    assert saved.status_code == 303
    refused = client.post("/opl/acceso-personal", follow_redirects=False,
                          data={"csrf_token": csrf, "proveedor": value, "segundo_factor": value})
    assert refused.status_code == 400
    assert "Elige uno de los proveedores de la lista." in refused.text
    assert "x" * 1_000 not in refused.text
    session.expire_all()
    policy = session.get(StaffSignInPolicy, opl_id)
    assert policy is not None and (policy.provider, policy.require_second_factor) == (NAME, True)


def test_a_huge_staff_policy_form_is_refused_as_too_large(institution_client: tuple[TestClient, Institution],
                                                           engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    csrf = _policy_csrf_as_admin(client, institution, engine, opl_id)
    refused = client.post("/opl/acceso-personal", follow_redirects=False,
                          data={"csrf_token": csrf, "proveedor": "x" * 2_000_000})
    assert refused.status_code == 413
    assert "Traceback" not in refused.text and "x" * 1_000 not in refused.text
    assert session.get(StaffSignInPolicy, opl_id) is None
