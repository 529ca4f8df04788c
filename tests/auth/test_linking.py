"""auth/linking.py on its own: linking is idempotent for the same account and refused for another's identity
or a staff-only provider the account holds no role for; unlinking keeps the sessions of a provider the account
still has another identity of."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session, select

from auth.linking import link_identity, unlink_identity
from auth.models import OAuthIdentity, UserSession
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity
from auth.roles import Role
from auth.sessions import hash_token, start_session
from core.audit import AuditEvent, OutboxMessage
from core.clock import utcnow
from tests.factories.accounts import make_account

IEPC = ProviderIdentity(provider="iepc", subject="i-1", display_name="Diana", email="diana@iepc.mx")


def _compose(label: str, when: datetime) -> tuple[str, str]:
    return f"cambio en {label}", "cuerpo"


def _link(session: Session, account_id: int, identity: ProviderIdentity, **kwargs: object) -> bool:
    return link_identity(session=session, account_id=account_id, identity=identity, provider_label="IEPC",
                         compose=_compose, now=utcnow(), **kwargs)  # type: ignore[arg-type]


def test_linking_twice_changes_nothing_the_second_time(session: Session) -> None:
    account = make_account(session, email="diana@correo.mx")
    assert account.id is not None
    assert _link(session, account.id, IEPC) is True
    assert _link(session, account.id, IEPC) is False
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "identity_linked")).all()) == 1
    assert [m.subject for m in session.exec(select(OutboxMessage)).all()] == ["cambio en IEPC"]


def test_an_account_without_an_address_is_linked_without_mail(session: Session) -> None:
    account = make_account(session, email=None)
    assert account.id is not None and _link(session, account.id, IEPC)
    assert session.exec(select(OutboxMessage)).all() == []


def test_another_accounts_identity_is_refused(session: Session) -> None:
    owner, other = make_account(session), make_account(session)
    assert owner.id is not None and other.id is not None
    _link(session, owner.id, IEPC)
    with pytest.raises(LoginFailure) as refused:
        _link(session, other.id, IEPC)
    assert refused.value.reason is FailureReason.LINKED_ELSEWHERE


def test_a_staff_only_provider_needs_one_of_its_roles(session: Session) -> None:
    citizen, reviewer = make_account(session), make_account(session, role=Role.REVIEWER)
    assert citizen.id is not None and reviewer.id is not None
    with pytest.raises(LoginFailure) as refused:
        _link(session, citizen.id, IEPC, staff_roles=("reviewer", "opl_admin"))
    assert refused.value.reason is FailureReason.STAFF_ONLY
    assert session.exec(select(OAuthIdentity)).all() == []
    assert _link(session, reviewer.id, IEPC, staff_roles=("reviewer", "opl_admin"))


def test_unlinking_one_of_two_identities_of_a_provider_keeps_its_sessions(session: Session) -> None:
    account = make_account(session)
    assert account.id is not None
    for subject in ("g-1", "g-2"):
        session.add(OAuthIdentity(account_id=account.id, provider="google", subject=subject))
    session.flush()
    token = start_session(session=session, account_id=account.id, now=utcnow(), provider="google")
    first = session.exec(select(OAuthIdentity).where(OAuthIdentity.subject == "g-1")).one()
    assert first.id is not None
    unlink_identity(session=session, account_id=account.id, identity_id=first.id, labels={}, compose=_compose,
                    now=utcnow(), current_token_hash=None)
    kept = session.get(UserSession, hash_token(token))
    assert kept is not None and kept.revoked_at is None
