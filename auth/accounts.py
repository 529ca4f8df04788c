"""Accounts behind sign-ins: found by (provider, subject), created as citizens, linked to a second provider,
disabled. An e-mail address never identifies anyone here: two identities with the same address stay two
accounts unless the person links them while signed in."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from auth.models import Account, OAuthIdentity, RoleGrant
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity
from auth.roles import Role
from auth.sessions import end_all_sessions
from core.audit import record_audit


def account_for_identity(*, session: Session, identity: ProviderIdentity, signed_in_account_id: int | None,
                         now: datetime) -> Account:
    """The account to sign in: the one this identity belongs to; else, when someone is already signed in,
    theirs (the identity is linked to it); else a new citizen account. Raises LoginFailure when the account is
    disabled, or when a signed-in person brings an identity that belongs to somebody else."""
    linked = linked_identity(session, identity)
    if linked is not None:
        if signed_in_account_id is not None and linked.account_id != signed_in_account_id:
            raise LoginFailure(FailureReason.LINKED_ELSEWHERE, identity.provider)
        linked.email = identity.email
        session.add(linked)
        return active_account(session, linked.account_id)
    if signed_in_account_id is not None:
        account = active_account(session, signed_in_account_id)
        _link(session, account, identity, now)
        return account
    return create_citizen(session=session, identity=identity, now=now)


def create_citizen(*, session: Session, identity: ProviderIdentity, now: datetime) -> Account:
    account = Account(display_name=identity.display_name, email=identity.email, created_at=now)
    session.add(account)
    session.flush()
    assert account.id is not None
    session.add(RoleGrant(account_id=account.id, role=Role.CITIZEN, created_at=now))
    record_audit(session, action="account_created", actor_account_id=account.id, object_type="account",
                 object_id=account.id, after=f"role={Role.CITIZEN}")
    _link(session, account, identity, now)
    return account


def disable_account(*, session: Session, account_id: int, now: datetime, actor_account_id: int | None) -> None:
    """Disable an account and end every session it has, at once."""
    account = session.get(Account, account_id)
    if account is None:
        raise LookupError(f"account {account_id} does not exist")
    account.is_active, account.disabled_at = False, now
    session.add(account)
    end_all_sessions(session=session, account_id=account_id, now=now)
    record_audit(session, action="account_disabled", actor_account_id=actor_account_id, object_type="account",
                 object_id=account_id)


def linked_providers(*, session: Session, account_id: int) -> list[str]:
    rows = session.exec(select(OAuthIdentity.provider).where(OAuthIdentity.account_id == account_id))
    return sorted(set(rows))


def linked_identity(session: Session, identity: ProviderIdentity) -> OAuthIdentity | None:
    return session.exec(select(OAuthIdentity).where(OAuthIdentity.provider == identity.provider,
                                                    OAuthIdentity.subject == identity.subject)).first()


def active_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or not account.is_active:
        raise LoginFailure(FailureReason.DISABLED, str(account_id))
    return account


def _link(session: Session, account: Account, identity: ProviderIdentity, now: datetime) -> None:
    assert account.id is not None
    session.add(OAuthIdentity(account_id=account.id, provider=identity.provider, subject=identity.subject,
                              email=identity.email, created_at=now))
    record_audit(session, action="identity_linked", actor_account_id=account.id, object_type="account",
                 object_id=account.id, after=f"provider={identity.provider}")
