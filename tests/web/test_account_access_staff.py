"""«Formas de entrar» with an OPL's institutional provider (tests/auth/institution.py): offered for linking only
to accounts holding its roles, linked through a real sign-in there, and never unlinked while the OPL's staff
sign-in policy requires it."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, StaffSignInPolicy
from auth.roles import Role
from core.db import session_scope
from core.settings import Settings
from tests.auth.institution import ISSUER, NAME, ORIGIN, app_with_institution
from tests.conftest import SignIn
from tests.factories.accounts import make_account
from tests.factories.processes import make_opl

LABEL = "IEPC Institucional"


def _account(engine: Engine, role: Role, *identities: tuple[str, str], policy: bool = False) -> int:
    with session_scope(engine) as db:
        opl_id = make_opl(db).id if role in (Role.REVIEWER, Role.OPL_ADMIN) else None
        account = make_account(db, email="staff@correo.mx", role=role, opl_id=opl_id)
        assert account.id is not None
        for provider, subject in identities:
            db.add(OAuthIdentity(account_id=account.id, provider=provider, subject=subject))
        if policy and opl_id is not None:
            db.add(StaffSignInPolicy(opl_id=opl_id, provider=NAME, require_second_factor=True))
        return account.id


def _identity_id(engine: Engine, subject: str) -> int:
    with session_scope(engine, read_only=True) as db:
        found = db.exec(select(OAuthIdentity.id).where(OAuthIdentity.subject == subject)).one()
    assert found is not None
    return found


def test_a_staff_only_provider_is_not_offered_to_a_citizen(settings: Settings, engine: Engine,
                                                           sign_in: SignIn) -> None:
    with app_with_institution(settings) as (client, _institution):
        sign_in(client, _account(engine, Role.CITIZEN, ("google", "g-1")))
        assert LABEL not in client.get("/cuenta/accesos").text
        assert client.post(f"/cuenta/accesos/vincular/{NAME}", follow_redirects=False).status_code == 404


def test_a_reviewer_links_the_institutional_provider(settings: Settings, engine: Engine, session: Session,
                                                     sign_in: SignIn) -> None:
    with app_with_institution(settings) as (client, institution):
        account_id = _account(engine, Role.REVIEWER, ("google", "g-1"))
        sign_in(client, account_id)
        assert f"Vincular con {LABEL}" in client.get("/cuenta/accesos").text
        start = client.post(f"/cuenta/accesos/vincular/{NAME}", follow_redirects=False)
        assert start.headers["location"].startswith(f"{ISSUER}/autorizar?")
        with TestClient(institution.app(), base_url=ORIGIN) as browser_at_idp:
            back = browser_at_idp.get(f"{start.headers['location']}&persona=demo-revisora", follow_redirects=False)
        callback = urlsplit(back.headers["location"])
        answer = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
        assert answer.headers["location"] == "/cuenta/accesos?hecho=vinculada"
    rows = session.exec(select(OAuthIdentity).where(OAuthIdentity.account_id == account_id)).all()
    assert sorted((row.provider, row.subject) for row in rows) == [("google", "g-1"), (NAME, "demo-revisora")]


def test_the_provider_the_opls_policy_requires_cannot_be_unlinked(settings: Settings, engine: Engine,
                                                                 session: Session, sign_in: SignIn) -> None:
    with app_with_institution(settings) as (client, _institution):
        account_id = _account(engine, Role.REVIEWER, ("google", "g-1"), (NAME, "i-1"), policy=True)
        sign_in(client, account_id)
        page = client.get("/cuenta/accesos")
        assert "Tu OPL pide que su personal entre con esta cuenta" in page.text
        assert page.text.count("Desvincular") == 1  # Google's only
        refused = client.post(f"/cuenta/accesos/{_identity_id(engine, 'i-1')}/desvincular", follow_redirects=False)
        assert refused.headers["location"] == "/cuenta/accesos?rechazo=requerida"
        allowed = client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-1')}/desvincular", follow_redirects=False)
        assert allowed.headers["location"] == "/cuenta/accesos?hecho=desvinculada"
    rows = session.exec(select(OAuthIdentity).where(OAuthIdentity.account_id == account_id)).all()
    assert [(row.provider, row.subject) for row in rows] == [(NAME, "i-1")]
