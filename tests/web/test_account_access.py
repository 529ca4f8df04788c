"""«Formas de entrar» (/cuenta/accesos): the providers linked to the signed-in account (never their subjects),
linking another through a real sign-in at the local provider with the link intent, unlinking while another
remains, every change audited and mailed to the account's address."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token, start_session
from core.audit import AuditEvent, OutboxMessage
from core.db import session_scope
from core.settings import Settings
from tests.auth.login_flow import choose
from tests.conftest import SignIn
from tests.delivered_mail import delivered_text
from tests.factories.accounts import make_account
from web.security import CSRF_HEADER

ADDRESS = "carmen@correo.mx"


def _account(engine: Engine, *identities: tuple[str, str], email: str | None = ADDRESS,
             role: Role = Role.CITIZEN) -> int:
    """A committed account with these (provider, subject) identities; returns its id."""
    with session_scope(engine) as db:
        account = make_account(db, name="Carmen Ciudadana", email=email, role=role)
        assert account.id is not None
        for provider, subject in identities:
            db.add(OAuthIdentity(account_id=account.id, provider=provider, subject=subject))
        return account.id


def _identity_id(engine: Engine, subject: str) -> int:
    """Read in a transaction of its own, so the test's `session` sees the app's later writes."""
    with session_scope(engine, read_only=True) as db:
        identity_id = db.exec(select(OAuthIdentity.id).where(OAuthIdentity.subject == subject)).one()
    assert identity_id is not None
    return identity_id


def _identities(session: Session, account_id: int) -> list[tuple[str, str]]:
    rows = session.exec(select(OAuthIdentity).where(OAuthIdentity.account_id == account_id)).all()
    return sorted((row.provider, row.subject) for row in rows)


def _actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _mail_to(session: Session, address: str) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.to_address == address)
                             .order_by(col(OutboxMessage.id))).all())


def _link_through_local(client: TestClient, subject: str) -> str:
    """Press «Vincular con Proveedor local de pruebas», sign in there as `subject`; returns where the app sent
    the browser after the callback."""
    start = client.post("/cuenta/accesos/vincular/local", follow_redirects=False)
    assert start.status_code == 303, start.text
    back = choose(client, start.headers["location"], subject)
    assert back.status_code == 302, back.text
    answer = client.get(back.headers["location"], follow_redirects=False)
    assert answer.status_code == 303
    return str(answer.headers["location"])


def test_the_page_lists_the_linked_providers_never_their_subjects(client: TestClient, engine: Engine,
                                                                   sign_in: SignIn) -> None:
    account_id = _account(engine, ("local", "sujeto-local-8842"), ("google", "sujeto-google-1177"))
    sign_in(client, account_id)
    page = client.get("/cuenta/accesos")
    assert page.status_code == 200
    assert "Proveedor local de pruebas" in page.text and "google" in page.text
    assert "sujeto-local-8842" not in page.text and "sujeto-google-1177" not in page.text
    assert page.text.count("Desvincular") == 2  # two ways in: either may go
    assert 'href="/cuenta/accesos"' in page.text  # the header's link, on every signed-in page


def test_linking_adds_the_identity_to_the_signed_in_account(client: TestClient, engine: Engine, session: Session,
                                                            settings: Settings, sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"))
    signed = sign_in(client, account_id)
    assert "Vincular con Proveedor local de pruebas" in client.get("/cuenta/accesos").text
    assert _link_through_local(client, "demo-ciudadana") == "/cuenta/accesos?hecho=vinculada"
    assert _identities(session, account_id) == [("google", "g-1"), ("local", "demo-ciudadana")]
    assert client.cookies.get(SESSION_COOKIE) == signed.session_token  # still the same session
    [linked] = _actions(session, "identity_linked")
    assert linked.actor_account_id == account_id and linked.after_summary.startswith("provider=local")
    [mail] = _mail_to(session, ADDRESS)
    text = delivered_text(settings.outbox_dir, mail.id)
    assert "Proveedor local de pruebas" in mail.subject and "/cuenta/accesos" in text
    assert "demo-ciudadana" not in text  # the provider's identifier never leaves the database
    page = client.get("/cuenta/accesos?hecho=vinculada")
    assert "Listo: vinculamos la cuenta" in page.text


def test_an_identity_of_another_account_is_refused_and_nothing_changes(client: TestClient, engine: Engine,
                                                                       session: Session, sign_in: SignIn) -> None:
    owner = _account(engine, ("local", "demo-ciudadana"), email="otra@correo.mx")
    account_id = _account(engine, ("google", "g-1"))
    sign_in(client, account_id)
    back_at = _link_through_local(client, "demo-ciudadana")
    assert back_at.startswith("/cuenta/accesos?error=vinculada")
    assert _identities(session, owner) == [("local", "demo-ciudadana")]
    assert _identities(session, account_id) == [("google", "g-1")]
    assert _actions(session, "identity_linked") == [] and _mail_to(session, ADDRESS) == []
    [failed] = _actions(session, "login_failed")
    assert failed.actor_account_id == account_id and "vinculada" in failed.after_summary
    assert "ya está vinculada a otra persona" in client.get(back_at).text


def test_a_link_finished_in_another_session_is_refused(client: TestClient, engine: Engine, session: Session,
                                                       sign_in: SignIn) -> None:
    """The intent names the account that asked: a browser whose session changed in between links nothing."""
    asked, other = _account(engine, ("google", "g-1")), _account(engine, ("google", "g-2"), email="b@correo.mx")
    sign_in(client, asked)
    start = client.post("/cuenta/accesos/vincular/local", follow_redirects=False)
    back = choose(client, start.headers["location"], "demo-ciudadana")
    sign_in(client, other)  # someone else signs in on this browser before the provider answers
    answer = client.get(back.headers["location"], follow_redirects=False)
    assert answer.headers["location"].startswith("/cuenta/accesos?error=caducado")
    assert session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == "local")).all() == []


def test_a_sign_in_through_the_login_page_while_signed_in_links_nothing(client: TestClient, engine: Engine,
                                                                        session: Session, sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"))
    sign_in(client, account_id)
    page = client.get("/entrar")
    assert "/cuenta/accesos" in page.text and "/entrar/local" not in page.text  # linking lives on its page


def test_the_last_way_in_cannot_be_unlinked(client: TestClient, engine: Engine, session: Session,
                                            sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"))
    sign_in(client, account_id)
    assert "Desvincular" not in client.get("/cuenta/accesos").text
    answer = client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-1')}/desvincular", follow_redirects=False)
    assert answer.headers["location"] == "/cuenta/accesos?rechazo=ultima"
    assert _identities(session, account_id) == [("google", "g-1")]
    assert _actions(session, "identity_unlinked") == [] and _mail_to(session, ADDRESS) == []
    assert "No puedes desvincular tu única forma de entrar" in client.get(answer.headers["location"]).text


def test_unlinking_is_audited_mailed_and_ends_the_sessions_it_opened(client: TestClient, engine: Engine,
                                                                     session: Session, settings: Settings,
                                                                     sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"), ("local", "demo-ciudadana"))
    signed = sign_in(client, account_id)
    with session_scope(engine) as db:  # a session somebody opened through Google elsewhere
        elsewhere = start_session(session=db, account_id=account_id, now=client.app.state.clock(),  # type: ignore[attr-defined]
                                  provider="google")
    answer = client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-1')}/desvincular", follow_redirects=False)
    assert answer.headers["location"] == "/cuenta/accesos?hecho=desvinculada"
    assert _identities(session, account_id) == [("local", "demo-ciudadana")]
    [unlinked] = _actions(session, "identity_unlinked")
    assert unlinked.actor_account_id == account_id
    assert (unlinked.before_summary, unlinked.after_summary) == ("provider=google", "sessions_ended=1")
    [mail] = _mail_to(session, ADDRESS)
    assert "google" in mail.subject and "/cuenta/accesos" in delivered_text(settings.outbox_dir, mail.id)
    ended = session.get(UserSession, hash_token(elsewhere))
    assert ended is not None and ended.revoked_at is not None
    assert client.get("/cuenta/accesos").status_code == 200  # the session that unlinked stays open
    assert signed.session_token == client.cookies.get(SESSION_COOKIE)


def test_another_accounts_identity_cannot_be_unlinked(client: TestClient, engine: Engine, session: Session,
                                                      sign_in: SignIn) -> None:
    owner = _account(engine, ("google", "g-9"), ("local", "l-9"), email="otra@correo.mx")
    sign_in(client, _account(engine, ("google", "g-1"), ("local", "l-1")))
    answer = client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-9')}/desvincular", follow_redirects=False)
    assert answer.headers["location"] == "/cuenta/accesos?rechazo=no_encontrada"
    assert _identities(session, owner) == [("google", "g-9"), ("local", "l-9")]


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, engine: Engine, session: Session,
                                                  sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"), ("local", "l-1"))
    sign_in(client, account_id)
    del client.headers[CSRF_HEADER]
    assert client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-1')}/desvincular").status_code == 403
    assert client.post("/cuenta/accesos/vincular/local", follow_redirects=False).status_code == 403
    assert _identities(session, account_id) == [("google", "g-1"), ("local", "l-1")]
    assert _actions(session, "identity_unlinked") == []


def test_the_page_needs_a_signed_in_person(client: TestClient) -> None:
    answer = client.get("/cuenta/accesos", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/entrar?siguiente=")


def test_the_english_page(client: TestClient, engine: Engine, sign_in: SignIn) -> None:
    sign_in(client, _account(engine, ("google", "g-1")))
    page = client.get("/cuenta/accesos", headers={"Accept-Language": "en"})
    assert "Ways to sign in" in page.text and "Link with Local test provider" in page.text


def test_sessions_older_than_the_unlink_but_through_another_provider_stay(client: TestClient, engine: Engine,
                                                                          session: Session,
                                                                          sign_in: SignIn) -> None:
    account_id = _account(engine, ("google", "g-1"), ("local", "l-1"))
    sign_in(client, account_id)
    now = client.app.state.clock()  # type: ignore[attr-defined]
    with session_scope(engine) as db:
        through_local = start_session(session=db, account_id=account_id, now=now - timedelta(minutes=5),
                                      provider="local")
    client.post(f"/cuenta/accesos/{_identity_id(engine, 'g-1')}/desvincular")
    kept = session.get(UserSession, hash_token(through_local))
    assert kept is not None and kept.revoked_at is None
