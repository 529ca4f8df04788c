"""Accounts are keyed on (provider, subject): created as citizens, linked only by a signed-in person, never
matched on e-mail; disabling one ends its sessions at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from auth.accounts import account_for_identity, disable_account, linked_providers
from auth.models import Account, OAuthIdentity, RoleGrant
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity
from auth.roles import Role
from auth.sessions import SessionLifetime, resolve_session, start_session
from core.clock import utcnow

ANA_GOOGLE = ProviderIdentity(provider="google", subject="g-123", display_name="Ana", email="ana@example.mx")
ANA_FACEBOOK = ProviderIdentity(provider="facebook", subject="f-987", display_name="Ana", email="ana@example.mx")
LIFETIME = SessionLifetime(idle=timedelta(hours=1), absolute=timedelta(hours=12))


def _sign_in(session: Session, identity: ProviderIdentity, signed_in: int | None = None) -> Account:
    account = account_for_identity(session=session, identity=identity, signed_in_account_id=signed_in, now=utcnow())
    session.commit()
    return account


def test_a_new_identity_gets_a_citizen_account(session: Session) -> None:
    account = _sign_in(session, ANA_GOOGLE)
    grants = session.exec(select(RoleGrant).where(RoleGrant.account_id == account.id)).all()
    assert [(g.role, g.opl_id, g.aspirant_id) for g in grants] == [(Role.CITIZEN, None, None)]
    assert (account.display_name, account.email) == ("Ana", "ana@example.mx")


def test_the_same_identity_finds_the_same_account(session: Session) -> None:
    assert _sign_in(session, ANA_GOOGLE).id == _sign_in(session, ANA_GOOGLE).id
    assert len(session.exec(select(Account)).all()) == 1


def test_the_same_email_from_another_provider_is_another_account(session: Session) -> None:
    assert _sign_in(session, ANA_GOOGLE).id != _sign_in(session, ANA_FACEBOOK).id


def test_a_signed_in_person_links_a_second_provider(session: Session) -> None:
    account = _sign_in(session, ANA_GOOGLE)
    assert account.id is not None
    assert _sign_in(session, ANA_FACEBOOK, signed_in=account.id).id == account.id
    assert _sign_in(session, ANA_FACEBOOK).id == account.id  # later, either provider opens the same account
    assert linked_providers(session=session, account_id=account.id) == ["facebook", "google"]


def test_an_identity_of_someone_else_is_not_linked(session: Session) -> None:
    ana, other = _sign_in(session, ANA_GOOGLE), _sign_in(session, ANA_FACEBOOK)
    with pytest.raises(LoginFailure) as refused:
        _sign_in(session, ANA_FACEBOOK, signed_in=ana.id)
    assert refused.value.reason is FailureReason.LINKED_ELSEWHERE
    owner = session.exec(select(OAuthIdentity).where(OAuthIdentity.subject == "f-987")).one()
    assert owner.account_id == other.id


def test_disabling_an_account_ends_its_sessions_and_its_logins(session: Session) -> None:
    account = _sign_in(session, ANA_GOOGLE)
    assert account.id is not None
    now = utcnow()
    tokens = [start_session(session=session, account_id=account.id, now=now) for _ in range(2)]
    disable_account(session=session, account_id=account.id, now=now, actor_account_id=None)
    session.commit()
    assert all(resolve_session(session=session, token=t, now=now, lifetime=LIFETIME) is None for t in tokens)
    with pytest.raises(LoginFailure) as refused:
        _sign_in(session, ANA_GOOGLE)
    assert refused.value.reason is FailureReason.DISABLED
