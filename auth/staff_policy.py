"""Who may sign in through what, for OPL staff (issue 16).

Two rules, both checked at the sign-in callback inside the sign-in's transaction (a refusal rolls back the
account it would have created):

- A staff-only provider (a configured provider with `roles`) signs in only accounts holding one of those roles,
  except a person arriving from their own pending OPL invitation (the caller proves it), who is then created as
  a citizen and accepts it.
- An OPL's policy (table `staff_sign_in_policy`; no row: off): its reviewers and admins sign in only through the
  OPL's provider, and with a second factor when it says so. It applies to the account, whatever it signs in for:
  a reviewer who is also a citizen cannot step around it through Google, since one session carries every role.

Turning a policy on ends the sessions of that OPL's staff that would not be allowed now, and is refused when the
admin's own session would not be (so nobody locks themself out); granting a staff role ends the new staff
member's sessions that do not meet the policy."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from auth.models import RoleGrant, StaffSignInPolicy, UserSession
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity
from auth.roles import OPL_SCOPED
from auth.sessions import revoke_sessions
from core.audit import record_audit


class PolicyProblem(StrEnum):
    UNKNOWN_PROVIDER = "unknown_provider"  # not one of the configured institutional providers
    WOULD_LOCK_OUT = "would_lock_out"  # the admin's own session does not meet the policy


class PolicyRefused(Exception):
    def __init__(self, problem: PolicyProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class PolicyView:
    provider: str | None  # None: off
    require_second_factor: bool


def meets(policy: StaffSignInPolicy, *, provider: str, second_factor: bool) -> bool:
    return provider == policy.provider and (second_factor or not policy.require_second_factor)


def policy_of(*, session: Session, opl_id: int) -> PolicyView:
    row = session.get(StaffSignInPolicy, opl_id)
    if row is None:
        return PolicyView(provider=None, require_second_factor=True)
    return PolicyView(provider=row.provider, require_second_factor=row.require_second_factor)


def set_policy(*, session: Session, opl_id: int, provider: str | None, require_second_factor: bool,
               allowed_providers: Collection[str], actor_account_id: int, actor_token_hash: str | None,
               now: datetime) -> int:
    """Turn the OPL's policy on (`provider`) or off (None); audited. Returns how many staff sessions it ended.
    Raises PolicyRefused for a provider that is not configured, or when the admin's session would not pass."""
    if provider is None:
        _turn_off(session, opl_id, actor_account_id)
        return 0
    if provider not in allowed_providers:
        raise PolicyRefused(PolicyProblem.UNKNOWN_PROVIDER)
    row = session.get(StaffSignInPolicy, opl_id) or StaffSignInPolicy(opl_id=opl_id, provider=provider)
    row.provider, row.require_second_factor = provider, require_second_factor
    row.updated_at, row.updated_by_account_id = now, actor_account_id
    own = session.get(UserSession, actor_token_hash) if actor_token_hash else None
    if own is None or not meets(row, provider=own.provider, second_factor=own.second_factor):
        raise PolicyRefused(PolicyProblem.WOULD_LOCK_OUT)
    session.add(row)
    record_audit(session, action="staff_sign_in_policy_set", actor_account_id=actor_account_id, object_type="opl",
                 object_id=opl_id, after=f"provider={provider}; second_factor={require_second_factor}")
    return end_noncompliant_sessions(session=session, opl_id=opl_id, now=now, actor_account_id=actor_account_id)


def _turn_off(session: Session, opl_id: int, actor_account_id: int) -> None:
    row = session.get(StaffSignInPolicy, opl_id)
    if row is None:
        return
    session.delete(row)
    record_audit(session, action="staff_sign_in_policy_set", actor_account_id=actor_account_id, object_type="opl",
                 object_id=opl_id, before=f"provider={row.provider}", after="off")


def end_noncompliant_sessions(*, session: Session, opl_id: int, now: datetime, actor_account_id: int | None,
                              account_ids: Collection[int] | None = None) -> int:
    """End the open sessions of the OPL's staff (or of `account_ids` among them) that the policy would refuse."""
    policy = session.get(StaffSignInPolicy, opl_id)
    if policy is None:
        return 0
    staff = select(RoleGrant.account_id).where(col(RoleGrant.role).in_(OPL_SCOPED), RoleGrant.opl_id == opl_id)
    if account_ids is not None:
        staff = staff.where(col(RoleGrant.account_id).in_(account_ids))
    rows = session.exec(select(UserSession).where(col(UserSession.account_id).in_(staff),
                                                  col(UserSession.revoked_at).is_(None))).all()
    refused = [row for row in rows if not meets(policy, provider=row.provider, second_factor=row.second_factor)]
    ended = revoke_sessions(session, refused, now)
    if ended:
        record_audit(session, action="staff_sessions_ended", actor_account_id=actor_account_id, object_type="opl",
                     object_id=opl_id, after=f"sessions={ended}")
    return ended


def admit(*, session: Session, account_id: int, identity: ProviderIdentity, staff_roles: Collection[str],
          invited: bool) -> None:
    """Raise LoginFailure when this account may not sign in with this identity: STAFF_ONLY for a staff-only
    provider the account holds no role for (unless `invited`), STAFF_PROVIDER_REQUIRED or SECOND_FACTOR_REQUIRED
    (detail: the provider to use) when an OPL it is staff of has a policy the sign-in does not meet."""
    if staff_roles and not invited and not holds_any_role(session=session, account_id=account_id, roles=staff_roles):
        raise LoginFailure(FailureReason.STAFF_ONLY, identity.provider)
    for policy in policies_over(session=session, account_id=account_id):
        if identity.provider != policy.provider:
            raise LoginFailure(FailureReason.STAFF_PROVIDER_REQUIRED, policy.provider)
        if policy.require_second_factor and not identity.second_factor:
            raise LoginFailure(FailureReason.SECOND_FACTOR_REQUIRED, policy.provider)


def holds_any_role(*, session: Session, account_id: int, roles: Collection[str]) -> bool:
    return session.exec(select(RoleGrant.id).where(RoleGrant.account_id == account_id,
                                                   col(RoleGrant.role).in_(roles))).first() is not None


def policies_over(*, session: Session, account_id: int) -> list[StaffSignInPolicy]:
    """The sign-in policies of the OPLs in which the account is a reviewer or an admin, by OPL."""
    staff_opls = select(RoleGrant.opl_id).where(RoleGrant.account_id == account_id, col(RoleGrant.role).in_(OPL_SCOPED))
    return list(session.exec(select(StaffSignInPolicy).where(col(StaffSignInPolicy.opl_id).in_(staff_opls))
                             .order_by(col(StaffSignInPolicy.opl_id))).all())
