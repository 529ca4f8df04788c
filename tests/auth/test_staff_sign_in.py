"""Issue 16, items 1 and 2, through the app: an institutional provider configured in `oidc_providers` is offered
and signs people in on the same OpenID code path as Google; its staff-only rule (with the invitation exception);
the second factor read from acr/amr; an OPL's staff sign-in policy enforced at the callback."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from auth.demo_people import LOCAL_PROVIDER
from auth.models import Account, OAuthIdentity, StaffSignInPolicy, UserSession
from auth.oauth import FailureReason
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token
from core.audit import AuditEvent
from core.db import session_scope
from core.settings import Settings
from registry.opl_admin.people import Mailer, invite_reviewer
from tests.auth.institution import NAME, ORIGIN, Institution, sign_in_at
from tests.auth.login_flow import failure_reason, sign_in_through_provider
from tests.factories.accounts import make_account

REVISORA = "demo-revisora"  # the demo people are the institution's users too (another issuer, another subject)
REVISORA_EMAIL = "revisora@demo.registro.local"


def _staff(engine: Engine, *, role: Role, opl_id: int, links: dict[str, str]) -> int:
    """An account holding `role` in the OPL, linked to each provider: subject of `links`."""
    with session_scope(engine) as db:
        account = make_account(db, name="Diana Revisora", email=REVISORA_EMAIL, role=role, opl_id=opl_id)
        assert account.id is not None
        for provider, subject in links.items():
            db.add(OAuthIdentity(account_id=account.id, provider=provider, subject=subject, email=REVISORA_EMAIL))
        return account.id


def _policy(engine: Engine, opl_id: int, *, second_factor: bool = True) -> None:
    with session_scope(engine) as db:
        db.add(StaffSignInPolicy(opl_id=opl_id, provider=NAME, require_second_factor=second_factor))


def _failures(session: Session) -> list[str]:
    return list(session.exec(select(AuditEvent.after_summary).where(AuditEvent.action == "login_failed")))


def _session_row(client: TestClient, session: Session) -> UserSession:
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    row = session.get(UserSession, hash_token(token))
    assert row is not None
    return row


def test_the_configured_provider_is_offered_and_its_origin_may_receive_the_sign_in_form(
        institution_client: tuple[TestClient, Institution]) -> None:
    client, _ = institution_client
    page = client.get("/entrar")
    assert "Entrar con IEPC Institucional" in page.text
    assert f'action="/entrar/{NAME}"' in page.text
    form_action = next(part for part in page.headers["content-security-policy"].split(";")
                       if part.strip().startswith("form-action"))
    assert ORIGIN in form_action.split()


def test_the_authorization_request_carries_state_nonce_and_pkce_s256(
        institution_client: tuple[TestClient, Institution]) -> None:
    client, _ = institution_client
    page = client.get("/entrar")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    redirect = client.post(f"/entrar/{NAME}", data={"csrf_token": token}, follow_redirects=False)
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"https://testserver/entrar/{NAME}/retorno"]


def test_a_reviewer_with_a_second_factor_signs_in_and_the_session_remembers_how(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    account_id = _staff(engine, role=Role.REVIEWER, opl_id=opl_id, links={NAME: REVISORA})
    _policy(engine, opl_id)
    answer = sign_in_at(client, institution, REVISORA, amr=["pwd", "otp"])
    assert answer.status_code == 303 and answer.headers["location"] == "/mesa"
    row = _session_row(client, session)
    assert (row.account_id, row.provider, row.second_factor) == (account_id, NAME, True)


def test_without_the_second_factor_the_policy_refuses_and_names_the_provider(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    _staff(engine, role=Role.REVIEWER, opl_id=opl_id, links={NAME: REVISORA})
    _policy(engine, opl_id)
    answer = sign_in_at(client, institution, REVISORA, amr=["pwd"])
    assert failure_reason(answer) == FailureReason.SECOND_FACTOR_REQUIRED
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    page = client.get(answer.headers["location"])
    assert "IEPC Institucional y un segundo factor" in page.text
    assert _failures(session) == [f"reason={FailureReason.SECOND_FACTOR_REQUIRED}; detail={NAME}"]


def test_with_the_policy_on_a_reviewer_signing_in_elsewhere_is_refused_and_audited(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, _ = institution_client
    _staff(engine, role=Role.REVIEWER, opl_id=opl_id, links={LOCAL_PROVIDER: REVISORA})
    _policy(engine, opl_id)
    answer = sign_in_through_provider(client, REVISORA)
    assert failure_reason(answer) == FailureReason.STAFF_PROVIDER_REQUIRED
    location = answer.headers["location"]
    assert parse_qs(urlsplit(location).query)["requerido"] == [NAME]
    assert "entre solo con IEPC Institucional" in client.get(location).text
    assert _failures(session) == [f"reason={FailureReason.STAFF_PROVIDER_REQUIRED}; detail={NAME}"]
    assert session.exec(select(UserSession)).all() == []


def test_with_the_policy_on_citizens_still_sign_in_with_their_provider(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, _ = institution_client
    _policy(engine, opl_id)
    answer = sign_in_through_provider(client, "demo-ciudadana")
    assert answer.status_code == 303 and answer.headers["location"] == "/ciudadano"
    assert _session_row(client, session).provider == LOCAL_PROVIDER


def test_the_staff_only_provider_refuses_a_newcomer_and_creates_nothing(
        institution_client: tuple[TestClient, Institution], session: Session) -> None:
    client, institution = institution_client
    answer = sign_in_at(client, institution, "demo-ciudadana", amr=["otp"])
    assert failure_reason(answer) == FailureReason.STAFF_ONLY
    assert "es solo para el personal del OPL" in client.get(answer.headers["location"]).text
    assert session.exec(select(Account)).all() == []
    assert _failures(session) == [f"reason={FailureReason.STAFF_ONLY}; detail={NAME}"]


def test_the_staff_only_provider_refuses_a_linked_account_without_a_staff_role(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session) -> None:
    client, institution = institution_client
    _staff(engine, role=Role.CITIZEN, opl_id=None, links={NAME: REVISORA})  # type: ignore[arg-type]
    answer = sign_in_at(client, institution, REVISORA, amr=["otp"])
    assert failure_reason(answer) == FailureReason.STAFF_ONLY


def _invitation_path(engine: Engine, opl_id: int, email: str, settings: Settings) -> str:
    links: list[str] = []
    mailer = Mailer(secret=settings.secret_key, url_for=lambda token: links.append(token) or token)
    with session_scope(engine) as db:
        admin = make_account(db, role=Role.OPL_ADMIN, opl_id=opl_id)
        assert admin.id is not None
        invite_reviewer(session=db, opl_id=opl_id, email=email, mailer=mailer, actor_account_id=admin.id,
                        now=datetime.now(UTC))
    return f"/opl/invitacion/{links[0]}"


def test_an_invited_reviewer_signs_in_through_the_staff_only_provider_the_first_time(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session,
        settings: Settings) -> None:
    client, institution = institution_client
    invitation = _invitation_path(engine, opl_id, REVISORA_EMAIL, settings)
    answer = sign_in_at(client, institution, REVISORA, amr=["otp"], siguiente=invitation)
    assert answer.status_code == 303 and answer.headers["location"] == invitation
    linked = session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == NAME)).one()
    assert _session_row(client, session).account_id == linked.account_id


def test_an_invitation_for_somebody_else_opens_no_door(
        institution_client: tuple[TestClient, Institution], engine: Engine, opl_id: int, session: Session,
        settings: Settings) -> None:
    client, institution = institution_client
    invitation = _invitation_path(engine, opl_id, "otra.persona@iepc.mx", settings)
    answer = sign_in_at(client, institution, REVISORA, amr=["otp"], siguiente=invitation)
    assert failure_reason(answer) == FailureReason.STAFF_ONLY
    forged = invitation.rsplit("-", 1)[0] + "-" + "0" * 64
    assert failure_reason(sign_in_at(client, institution, REVISORA, siguiente=forged)) == FailureReason.STAFF_ONLY
    assert session.exec(select(OAuthIdentity).where(col(OAuthIdentity.provider) == NAME)).all() == []
