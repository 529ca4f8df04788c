"""In Chromium, staff sign in through an institutional provider that is really another program: npm's
oidc-provider (OpenID-certified) on another loopback origin (tests/browser/oidc_provider.py), configured only by
REGISTRO_OIDC_PROVIDERS, as an OPL connects its Keycloak or Entra ID. The app's sign-in form leaves the site for
the provider (the CSP's form-action must allow it), the provider's login page asks for a username and, on request,
a second factor (acr/amr in the id_token), and the provider redirects back to the app's callback.

Tampering is done where an attacker would: the browser's requests altered with page.route (the authorization
request's nonce, the callback's state), and an id_token the provider itself re-signs with a wrong iss or aud."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from sqlmodel import Session, col, select

from auth.demo_people import DEMO_PEOPLE, LOCAL_PROVIDER
from auth.models import OAuthIdentity, RoleGrant, StaffSignInPolicy, UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token
from core.audit import AuditEvent, OutboxMessage
from core.settings import Settings, load_settings
from tests.browser.conftest import LiveServer, SignInAs, phone_page
from tests.browser.oidc_provider import SUBJECTS, IndependentProvider, oidc_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

STAFF_ROLES = ["reviewer", "opl_admin"]


@pytest.fixture
def settings(settings: Settings, oidc_provider: IndependentProvider,  # noqa: F811
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The live server's settings, read from the environment as in production, with the provider configured as
    staff-only (reviewers and OPL admins)."""
    monkeypatch.setenv("REGISTRO_OIDC_PROVIDERS", json.dumps([oidc_provider.setting(roles=STAFF_ROLES)]))
    configured = load_settings(env="test", data_dir=settings.data_dir, database_url=settings.database_url,
                               secret_key=settings.secret_key, base_url=settings.base_url,
                               worker_in_process=settings.worker_in_process)
    assert [provider.name for provider in configured.oidc_providers] == [oidc_provider.name]
    return configured


def demo_account_id(session: Session, role: Role) -> int:
    person = next(person for person in DEMO_PEOPLE if person.role is role)
    identity = session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == LOCAL_PROVIDER,
                                                        OAuthIdentity.subject == person.subject)).one()
    return identity.account_id


def link_at_provider(session: Session, account_id: int, provider: IndependentProvider, username: str) -> None:
    """The account is known to the institutional provider as `username` (as after linking it)."""
    session.add(OAuthIdentity(account_id=account_id, provider=provider.name, subject=SUBJECTS[username]))
    session.commit()


def csp_reports(page: Any) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


def sign_in_at_provider(page: Any, live_server: LiveServer, provider: IndependentProvider, username: str, *,
                        second_factor: bool) -> None:
    """From the app's sign-in page through the provider's login page; returns once the browser is back."""
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {provider.display_name}").click()
    log_in_at_provider(page, provider, username, second_factor=second_factor)
    page.wait_for_url(re.compile("^" + re.escape(live_server.url)))
    page.wait_for_load_state()


def log_in_at_provider(page: Any, provider: IndependentProvider, username: str, *, second_factor: bool) -> None:
    """On the provider's own login page (the browser really left the site: another origin)."""
    page.wait_for_url(re.compile("^" + re.escape(provider.issuer + "/interaction/")))
    page.get_by_label("Usuario").fill(username)
    if second_factor:
        page.get_by_label("Comprobé el segundo factor").check()
    page.get_by_role("button", name="Entrar", exact=True).click()


def refused_with(page: Any, live_server: LiveServer, reason: str) -> str:
    page.wait_for_url(re.compile("^" + re.escape(live_server.path("/entrar?")) + ".*" + f"error={reason}"))
    return str(page.get_by_role("alert").inner_text())


def live_sessions(session: Session, account_id: int) -> list[UserSession]:
    session.rollback()  # read what the app committed since
    return list(session.exec(select(UserSession).where(UserSession.account_id == account_id,
                                                       col(UserSession.revoked_at).is_(None))))


def failed_logins(session: Session) -> list[str]:
    session.rollback()
    return list(session.exec(select(AuditEvent.after_summary).where(AuditEvent.action == "login_failed")))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def require_provider(session: Session, opl_id: int, provider: IndependentProvider) -> None:
    """The OPL's staff sign-in policy, on: its provider, with a second factor (as its admin would set it)."""
    session.add(StaffSignInPolicy(opl_id=opl_id, provider=provider.name, require_second_factor=True))
    session.commit()


def opl_of(session: Session, account_id: int) -> int:
    grant = session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id,
                                                 col(RoleGrant.opl_id).is_not(None))).first()
    assert grant is not None and grant.opl_id is not None
    return grant.opl_id


def test_under_the_policy_a_reviewer_with_a_second_factor_gets_in(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session) -> None:  # noqa: F811
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    require_provider(session, opl_of(session, reviewer), oidc_provider)
    blocked = csp_reports(page)
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {oidc_provider.display_name}").click()
    log_in_at_provider(page, oidc_provider, "revisora", second_factor=True)
    page.wait_for_url(live_server.path("/mesa"))
    assert blocked == []
    (row,) = live_sessions(session, reviewer)
    assert (row.provider, row.second_factor) == (oidc_provider.name, True)


def test_under_the_policy_a_reviewer_without_the_second_factor_is_refused(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session) -> None:  # noqa: F811
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    require_provider(session, opl_of(session, reviewer), oidc_provider)
    sign_in_at_provider(page, live_server, oidc_provider, "revisora", second_factor=False)
    message = refused_with(page, live_server, "segundo_factor")
    assert f"con {oidc_provider.display_name} y un segundo factor" in message
    assert live_sessions(session, reviewer) == []
    assert any("reason=segundo_factor" in after for after in failed_logins(session))


def test_under_the_policy_a_reviewer_cannot_sign_in_another_way(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session) -> None:  # noqa: F811
    reviewer = demo_account_id(session, Role.REVIEWER)
    require_provider(session, opl_of(session, reviewer), oidc_provider)
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name="Entrar con Proveedor local de pruebas").click()
    page.get_by_role("button", name=re.compile("Diana Revisora Demo")).click()
    message = refused_with(page, live_server, "proveedor_institucional")
    assert f"entre solo con {oidc_provider.display_name}" in message
    assert live_sessions(session, reviewer) == []


def test_an_opl_admin_turns_the_policy_on_only_from_a_session_that_meets_it(
        browser: Any, page: Any, live_server: LiveServer, oidc_provider: IndependentProvider,  # noqa: F811
        sign_in_as: SignInAs, session: Session) -> None:
    admin, reviewer = demo_account_id(session, Role.OPL_ADMIN), demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, admin, oidc_provider, "admin-opl")
    with phone_page(browser) as reviewers_page:  # the reviewer, signed in the old way before the rule
        sign_in_as(reviewers_page, Role.REVIEWER)
        assert reviewers_page.url == live_server.path("/mesa")

        sign_in_as(page, Role.OPL_ADMIN)  # through the local provider: turning the rule on would lock them out
        choose_the_rule(page, live_server, oidc_provider)
        assert "te dejaría fuera" in page.get_by_role("alert").inner_text()
        assert session.get(StaffSignInPolicy, opl_of(session, admin)) is None

        page.get_by_role("button", name="Salir").click()
        sign_in_at_provider(page, live_server, oidc_provider, "admin-opl", second_factor=True)
        assert page.url == live_server.path("/opl")
        choose_the_rule(page, live_server, oidc_provider)
        page.wait_for_url(live_server.path("/opl/acceso-personal?hecho=guardado"))
        assert page.get_by_text("Guardamos la regla de acceso del personal.").is_visible()
        session.rollback()
        policy = session.get(StaffSignInPolicy, opl_of(session, admin))
        assert policy is not None and (policy.provider, policy.require_second_factor) == (oidc_provider.name, True)

        # The reviewer's session did not meet the rule: it ended, the admin's own did.
        assert live_sessions(session, reviewer) == []
        assert len(live_sessions(session, admin)) == 1
        reviewers_page.goto(live_server.path("/mesa"))
        assert reviewers_page.url.startswith(live_server.path("/entrar?siguiente="))


def choose_the_rule(page: Any, live_server: LiveServer, provider: IndependentProvider) -> None:
    page.goto(live_server.path("/opl/acceso-personal"))
    page.get_by_label(f"Solo con {provider.display_name}").check()
    page.get_by_label("Pedir un segundo factor de autenticación").check()
    page.get_by_role("button", name="Guardar").click()


def test_signing_out_reaches_the_provider_and_comes_back(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session) -> None:  # noqa: F811
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    sign_in_at_provider(page, live_server, oidc_provider, "revisora", second_factor=True)
    assert page.url == live_server.path("/mesa")
    # While the provider's own session lasts, it signs the person in again without asking anything (here after
    # our cookie alone is gone)...
    page.context.clear_cookies(name=SESSION_COOKIE)
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {oidc_provider.display_name}").click()
    page.wait_for_url(live_server.path("/mesa"))
    (cookie,) = [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]

    blocked = csp_reports(page)
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(re.compile("^" + re.escape(oidc_provider.issuer + "/session/end")))
    # Ours ended before the browser went to the provider.
    assert hash_token(cookie["value"]) not in {row.token_hash for row in live_sessions(session, reviewer)}
    page.get_by_role("button", name="Sí, cerrar sesión").click()
    page.wait_for_url(re.compile("^" + re.escape(live_server.path("/salida/vuelta"))))
    assert page.get_by_role("heading", name="Cerraste tu sesión").is_visible()
    assert blocked == []

    # ...and after signing out there, it asks again.
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {oidc_provider.display_name}").click()
    page.wait_for_url(re.compile("^" + re.escape(oidc_provider.issuer + "/interaction/")))
    assert page.get_by_label("Usuario").is_visible()


def test_linking_the_provider_from_the_accounts_page_and_unlinking_it(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, sign_in_as: SignInAs,  # noqa: F811
        session: Session) -> None:
    reviewer = demo_account_id(session, Role.REVIEWER)
    sign_in_as(page, Role.REVIEWER)  # through the local provider, as through Google
    page.goto(live_server.path("/cuenta/accesos"))
    blocked = csp_reports(page)
    page.get_by_role("button", name=f"Vincular con {oidc_provider.display_name}").click()
    log_in_at_provider(page, oidc_provider, "revisora", second_factor=True)
    page.wait_for_url(live_server.path("/cuenta/accesos?hecho=vinculada"))
    assert blocked == []
    assert page.get_by_role("button", name=f"Desvincular {oidc_provider.display_name}").is_visible()
    assert SUBJECTS["revisora"] not in page.content()  # the provider's subject is never shown
    assert identities(session, reviewer) == sorted([LOCAL_PROVIDER, oidc_provider.name])

    # Linked: the reviewer now signs in through the institution's provider as herself (the provider remembers
    # her from the link, so it asks nothing this time).
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(live_server.path("/"))
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {oidc_provider.display_name}").click()
    page.wait_for_url(live_server.path("/mesa"))
    assert page.locator(".account-name").inner_text() == "Diana Revisora Demo"

    page.goto(live_server.path("/cuenta/accesos"))
    page.get_by_role("button", name=f"Desvincular {oidc_provider.display_name}").click()
    page.wait_for_url(live_server.path("/cuenta/accesos?hecho=desvinculada"))
    assert identities(session, reviewer) == [LOCAL_PROVIDER]
    assert page.get_by_role("button", name=f"Vincular con {oidc_provider.display_name}").is_visible()
    assert audited_actions(session, reviewer) >= {"identity_linked", "identity_unlinked"}
    subjects = mail_subjects(session, "revisora@demo.registro.local")
    assert any(oidc_provider.display_name in subject and "vinculó" in subject for subject in subjects)
    assert any(oidc_provider.display_name in subject and "desvinculó" in subject for subject in subjects)


def identities(session: Session, account_id: int) -> list[str]:
    session.rollback()
    return sorted(session.exec(select(OAuthIdentity.provider).where(OAuthIdentity.account_id == account_id)))


def audited_actions(session: Session, account_id: int) -> set[str]:
    session.rollback()
    return set(session.exec(select(AuditEvent.action).where(AuditEvent.actor_account_id == account_id)))


def mail_subjects(session: Session, address: str) -> list[str]:
    session.rollback()
    return list(session.exec(select(OutboxMessage.subject).where(OutboxMessage.to_address == address)))


@pytest.mark.parametrize("linked_citizen", [True, False], ids=["citizen-account", "unknown-person"])
def test_a_citizen_cannot_use_the_staff_only_provider(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session,  # noqa: F811
        linked_citizen: bool) -> None:
    citizen = demo_account_id(session, Role.CITIZEN)
    if linked_citizen:
        link_at_provider(session, citizen, oidc_provider, "ciudadana")
    sign_in_at_provider(page, live_server, oidc_provider, "ciudadana", second_factor=True)
    message = refused_with(page, live_server, "solo_personal")
    assert oidc_provider.display_name in message
    assert live_sessions(session, citizen) == []
    assert any("reason=solo_personal" in after for after in failed_logins(session))
    if not linked_citizen:  # no account was made for somebody the provider is not for
        assert session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == oidc_provider.name)).all() == []


def test_cancelling_at_the_provider_explains_what_happened(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider) -> None:  # noqa: F811
    page.goto(live_server.path("/entrar"))
    page.get_by_role("button", name=f"Entrar con {oidc_provider.display_name}").click()
    page.get_by_role("button", name="Cancelar").click()
    message = refused_with(page, live_server, "cancelado")
    assert message.startswith(f"Cancelaste el inicio de sesión con {oidc_provider.display_name}")


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_an_id_token_for_another_issuer_or_audience_is_refused(
        page: Any, live_server: LiveServer, oidc_provider: IndependentProvider, session: Session,  # noqa: F811
        claim: str) -> None:
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    oidc_provider.tamper_next_id_token(claim)  # type: ignore[arg-type]
    sign_in_at_provider(page, live_server, oidc_provider, "revisora", second_factor=True)
    message = refused_with(page, live_server, "no_verificado")
    assert message.startswith(f"No pudimos comprobar la respuesta de {oidc_provider.display_name}")
    assert live_sessions(session, reviewer) == []
    assert any("reason=no_verificado" in after for after in failed_logins(session))


def redirect_altered(page: Any, *, towards: str, **changes: str) -> Callable[[Any], None]:
    """A page.route handler that follows the routed request's redirects itself (with the browser context's
    cookies) until one leads to a URL starting with `towards`, and sends the browser there with `changes` made
    to its query: what tampering with the redirect in the browser looks like. (page.route never sees a
    redirect's follow-up request, so the redirect is changed instead.)"""
    def handler(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        location = urljoin(route.request.url, response.headers["location"])
        while not location.startswith(towards):
            response = page.context.request.get(location, max_redirects=0)
            location = urljoin(location, response.headers["location"])
        route.fulfill(status=303, headers={"Location": with_query(location, **changes)})
    return handler


def test_a_changed_nonce_is_refused(page: Any, live_server: LiveServer, oidc_provider: IndependentProvider,  # noqa: F811
                                    session: Session) -> None:
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    # The app's answer to the sign-in form sends the browser to the provider with the app's nonce; it arrives
    # with another one, which the provider then signs into the id_token.
    page.route(live_server.path(f"/entrar/{oidc_provider.name}"),
               redirect_altered(page, towards=oidc_provider.issuer + "/auth?", nonce="otro-nonce"))
    sign_in_at_provider(page, live_server, oidc_provider, "revisora", second_factor=True)
    refused_with(page, live_server, "no_verificado")
    assert live_sessions(session, reviewer) == []
    assert any("reason=" in after for after in failed_logins(session))


def test_a_changed_state_is_refused(page: Any, live_server: LiveServer, oidc_provider: IndependentProvider,  # noqa: F811
                                    session: Session) -> None:
    reviewer = demo_account_id(session, Role.REVIEWER)
    link_at_provider(session, reviewer, oidc_provider, "revisora")
    # The provider's way back to the app (after its login form) arrives with another state than the app sent.
    page.route(re.compile("^" + re.escape(oidc_provider.issuer + "/interaction/") + ".*/login$"),
               redirect_altered(page, towards=live_server.path(f"/entrar/{oidc_provider.name}/retorno?"),
                                state="otro-estado"))
    sign_in_at_provider(page, live_server, oidc_provider, "revisora", second_factor=True)
    refused_with(page, live_server, "caducado")
    assert live_sessions(session, reviewer) == []
    assert any("reason=" in after for after in failed_logins(session))
