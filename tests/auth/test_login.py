"""Signing in through the local OpenID provider, over the same client code path as Google, and back out."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from auth.demo_people import DEMO_PEOPLE, LOCAL_PROVIDER, DemoPerson
from auth.models import Account, OAuthIdentity, RoleGrant, UserSession
from auth.oauth import LOGIN_STATE_COOKIE
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token
from core.audit import AuditEvent
from tests.auth.login_flow import callback_for, choose, failure_reason, sign_in_through_provider, start
from tests.factories import add
from tests.factories.accounts import make_account

HOMES = {Role.CITIZEN: "/ciudadano", Role.AUXILIARY: "/campo", Role.ASPIRANT: "/aspirante",
         Role.REVIEWER: "/mesa", Role.OPL_ADMIN: "/opl", Role.SYSTEM_ADMIN: "/sistema"}


def _demo_account(session: Session, person: DemoPerson) -> Account:
    account = make_account(session, name=person.name, role=person.role)
    assert account.id is not None
    add(session, OAuthIdentity(account_id=account.id, provider=LOCAL_PROVIDER, subject=person.subject))
    session.commit()
    return account


def _actions(session: Session) -> list[str]:
    return list(session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))))


@pytest.mark.parametrize("person", DEMO_PEOPLE, ids=lambda person: person.role)
def test_each_demo_person_lands_on_their_role_home(client: TestClient, session: Session,
                                                   person: DemoPerson) -> None:
    _demo_account(session, person)
    answer = sign_in_through_provider(client, person.subject)
    assert answer.status_code == 303
    assert answer.headers["location"] == HOMES[person.role]
    home = client.get(answer.headers["location"])
    assert home.status_code == 200
    assert person.name in home.text


def test_a_first_login_creates_a_citizen_account(client: TestClient, session: Session) -> None:
    answer = sign_in_through_provider(client, "demo-auxiliar")
    assert answer.headers["location"] == "/ciudadano"
    identity = session.exec(select(OAuthIdentity).where(OAuthIdentity.subject == "demo-auxiliar")).one()
    grants = session.exec(select(RoleGrant).where(RoleGrant.account_id == identity.account_id)).all()
    assert [grant.role for grant in grants] == [Role.CITIZEN]
    assert identity.provider == LOCAL_PROVIDER and identity.email == "auxiliar@demo.registro.local"
    assert _actions(session) == ["account_created", "identity_linked", "login"]


def test_the_session_cookie_is_opaque_http_only_secure_and_lax(client: TestClient) -> None:
    answer = sign_in_through_provider(client, "demo-ciudadana")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "Ana" not in value and "@" not in value and len(value) >= 40


def test_login_state_lives_in_a_short_lived_cookie_only_sent_to_entrar(client: TestClient) -> None:
    redirect = start(client)
    cookie = next(c for c in redirect.headers.get_list("set-cookie") if c.startswith(LOGIN_STATE_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"path=/entrar", "max-age=600", "httponly", "secure", "samesite=lax"} <= flags


def test_the_provider_is_asked_for_openid_with_nonce_state_and_pkce_s256(client: TestClient) -> None:
    location = start(client).headers["location"]
    assert location.startswith("https://testserver/dev-oidc/autorizar?")
    for expected in ("response_type=code", "scope=openid+email+profile", "code_challenge_method=S256",
                     "nonce=", "state=", "code_challenge=",
                     "redirect_uri=https%3A%2F%2Ftestserver%2Fentrar%2Flocal%2Fretorno"):
        assert expected in location


def test_login_rotates_the_session_id(client: TestClient, session: Session) -> None:
    sign_in_through_provider(client, "demo-ciudadana")
    first = client.cookies[SESSION_COOKIE]
    sign_in_through_provider(client, "demo-ciudadana")
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    old_row = session.get(UserSession, hash_token(first))
    assert old_row is not None and old_row.revoked_at is not None


def test_logout_ends_the_session_on_the_server(client: TestClient, session: Session) -> None:
    sign_in_through_provider(client, "demo-ciudadana")
    token = client.cookies[SESSION_COOKIE]
    page = client.get("/ciudadano")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post("/salir", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    client.cookies.set(SESSION_COOKIE, token)  # the old cookie, replayed, no longer opens anything
    assert client.get("/ciudadano", follow_redirects=False).headers["location"] == "/entrar?siguiente=%2Fciudadano"
    assert _actions(session)[-1] == "logout"


def test_the_person_returns_to_the_page_they_asked_for(client: TestClient) -> None:
    answer = sign_in_through_provider(client, "demo-ciudadana", siguiente="/ciudadano?paso=2")
    assert answer.headers["location"] == "/ciudadano?paso=2"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/entrar"])
def test_no_redirect_off_the_site_after_login(client: TestClient, target: str) -> None:
    answer = sign_in_through_provider(client, "demo-ciudadana", siguiente=target)
    assert answer.headers["location"] == "/ciudadano"


def test_cancelling_at_the_provider_returns_to_a_friendly_page(client: TestClient, session: Session) -> None:
    callback = callback_for(client, subject=None)
    assert callback.params["error"] == "access_denied"
    answer = client.get(callback.url, follow_redirects=False)
    assert failure_reason(answer) == "cancelado"
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Cancelaste el inicio de sesión con Proveedor local de pruebas" in page.text
    assert SESSION_COOKIE not in client.cookies
    failed = session.exec(select(AuditEvent).where(AuditEvent.action == "login_failed")).one()
    assert failed.object_id == LOCAL_PROVIDER and "cancelado" in failed.after_summary


def test_a_disabled_account_cannot_sign_in(client: TestClient, session: Session) -> None:
    account = _demo_account(session, DEMO_PEOPLE[0])
    account.is_active = False
    session.add(account)
    session.commit()
    answer = sign_in_through_provider(client, DEMO_PEOPLE[0].subject)
    assert failure_reason(answer) == "cuenta_desactivada"
    assert "Esta cuenta está desactivada" in client.get(answer.headers["location"]).text


def test_a_sign_in_while_signed_in_never_links_the_identity(client: TestClient, session: Session) -> None:
    """Only the accounts page's explicit "link" links (tests/web/test_account_access.py): someone else signing
    in on a computer where a session was left open gets their own account, and that session ends."""
    sign_in_through_provider(client, "demo-ciudadana")
    first_token = client.cookies.get(SESSION_COOKIE)
    sign_in_through_provider(client, "demo-revisora")
    identities = session.exec(select(OAuthIdentity)).all()
    assert len(identities) == 2 and identities[0].account_id != identities[1].account_id
    ended = session.get(UserSession, hash_token(first_token or ""))
    assert ended is not None and ended.revoked_at is not None


def test_the_english_sign_in_page(client: TestClient) -> None:
    page = client.get("/entrar", headers={"Accept-Language": "en"})
    assert "Sign in with Local test provider" in page.text


def test_choosing_an_unknown_person_is_refused_by_the_provider(client: TestClient) -> None:
    answer = choose(client, start(client).headers["location"], "demo-nadie")
    assert answer.status_code == 400
