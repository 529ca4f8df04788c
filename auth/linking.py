"""The sign-in providers linked to an account: listed, linked by the signed-in person (who proves both: the session
they are in and the other provider's sign-in), unlinked while another remains.

Every change is audited and mailed to the account's address: a link nobody asked for (a session left open on a
shared computer) reaches the person it concerns, who can unlink it at once. Unlinking a provider also ends the
account's other sessions started through it, so whoever held that provider account is out here too."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from auth.accounts import active_account, linked_identity
from auth.models import Account, OAuthIdentity, UserSession
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity
from auth.sessions import revoke_sessions
from auth.staff_policy import holds_any_role, policies_over
from core.audit import OutboxMessage, record_audit

# (provider's display name, when) -> (subject, body): the web layer writes the mail in the person's language.
ComposeMail = Callable[[str, datetime], tuple[str, str]]


@dataclass(frozen=True)
class LinkedIdentity:
    """What the person sees of a linked identity: never its subject (an identifier the provider gave them)."""

    id: int
    provider: str
    linked_at: datetime


class UnlinkRefusal(StrEnum):
    """Why an unlink was refused; the value travels in the accounts page's query string."""

    NOT_FOUND = "no_encontrada"
    LAST_ONE = "ultima"
    REQUIRED_BY_POLICY = "requerida"


class UnlinkRefused(Exception):
    def __init__(self, reason: UnlinkRefusal) -> None:
        super().__init__(str(reason))
        self.reason = reason


def linked_identities(*, session: Session, account_id: int) -> list[LinkedIdentity]:
    rows = session.exec(select(OAuthIdentity).where(OAuthIdentity.account_id == account_id)
                        .order_by(col(OAuthIdentity.created_at), col(OAuthIdentity.id))).all()
    return [LinkedIdentity(id=row.id or 0, provider=row.provider, linked_at=row.created_at) for row in rows]


def link_identity(*, session: Session, account_id: int, identity: ProviderIdentity, provider_label: str,
                  compose: ComposeMail, now: datetime, staff_roles: Collection[str] = ()) -> bool:
    """Link `identity` to the signed-in account; True when it was linked now, False when it already was.
    Raises LoginFailure LINKED_ELSEWHERE (it opens another account: nothing changes), DISABLED, or STAFF_ONLY
    (`staff_roles`: the provider is staff-only and the account holds none of those roles)."""
    existing = linked_identity(session, identity)
    if existing is not None and existing.account_id != account_id:
        raise LoginFailure(FailureReason.LINKED_ELSEWHERE, identity.provider)
    account = active_account(session, account_id)
    if staff_roles and not holds_any_role(session=session, account_id=account_id, roles=staff_roles):
        raise LoginFailure(FailureReason.STAFF_ONLY, identity.provider)
    if existing is not None:
        return False
    session.add(OAuthIdentity(account_id=account_id, provider=identity.provider, subject=identity.subject,
                              email=identity.email, created_at=now))
    record_audit(session, action="identity_linked", actor_account_id=account_id, object_type="account",
                 object_id=account_id, after=f"provider={identity.provider}; by=account_page")
    _mail(session, account, compose(provider_label, now))
    return True


def unlink_identity(*, session: Session, account_id: int, identity_id: int, labels: Mapping[str, str],
                    compose: ComposeMail, now: datetime, current_token_hash: str | None) -> str:
    """Unlink one of the account's identities (`labels`: the providers' display names, for the mail); returns
    its provider. The session making the request stays open; the account's others through that provider end.
    Refused (UnlinkRefused) for an identity that is not the account's, for the last one, and for the provider
    the account's OPL requires its staff to sign in through (it would be left with no way in)."""
    identities = session.exec(select(OAuthIdentity).where(OAuthIdentity.account_id == account_id)).all()
    target = next((row for row in identities if row.id == identity_id), None)
    if target is None:
        raise UnlinkRefused(UnlinkRefusal.NOT_FOUND)
    if len(identities) == 1:
        raise UnlinkRefused(UnlinkRefusal.LAST_ONE)
    still_there = any(row.provider == target.provider for row in identities if row.id != identity_id)
    if not still_there and target.provider in providers_required_by_staff_policy(session=session,
                                                                                 account_id=account_id):
        raise UnlinkRefused(UnlinkRefusal.REQUIRED_BY_POLICY)
    session.delete(target)
    ended = 0 if still_there else _end_sessions_through(session, account_id, target.provider, now,
                                                        keep=current_token_hash)
    record_audit(session, action="identity_unlinked", actor_account_id=account_id, object_type="account",
                 object_id=account_id, before=f"provider={target.provider}", after=f"sessions_ended={ended}")
    account = session.get(Account, account_id)
    if account is not None:
        _mail(session, account, compose(labels.get(target.provider, target.provider), now))
    return target.provider


def providers_required_by_staff_policy(*, session: Session, account_id: int) -> frozenset[str]:
    """The providers this account must keep: an OPL in which it is a reviewer or an admin has a staff sign-in
    policy naming them."""
    return frozenset(policy.provider for policy in policies_over(session=session, account_id=account_id))


def _end_sessions_through(session: Session, account_id: int, provider: str, now: datetime, *,
                          keep: str | None) -> int:
    rows = session.exec(select(UserSession).where(UserSession.account_id == account_id,
                                                  UserSession.provider == provider,
                                                  col(UserSession.revoked_at).is_(None))).all()
    return revoke_sessions(session, [row for row in rows if row.token_hash != keep], now)


def _mail(session: Session, account: Account, subject_and_body: tuple[str, str]) -> None:
    if not account.email:  # nowhere to write: the audit row stays
        return
    subject, body = subject_and_body
    session.add(OutboxMessage(to_address=account.email, subject=subject, body=body))
