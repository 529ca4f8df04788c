"""The one place role grants are made, and the rule that keeps the two sides of a collection apart: OPL staff
(reviewer, OPL admin, system admin) decide on supports, the aspirant side (aspirant, auxiliary) collects them,
so one account never holds both where they would meet.

Where a grant acts: a reviewer or OPL admin in their OPL; an aspirant or auxiliary in the OPL that runs the
aspirant's process (a reviewer reviews every process of their OPL, so "the same process" means the same OPL);
a system admin everywhere, since the role is not scoped. An OPL that cannot be told (an aspirant that no longer
exists) counts as everywhere: the rule fails closed. The citizen role is on neither side: staff stay citizens.

A refusal is recorded in the audit trail and returned rather than raised, so the caller's transaction keeps
the audit row (raising would roll it back)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from auth.models import RoleGrant
from auth.roles import ASPIRANT_SCOPED, OPL_SCOPED, Role
from auth.staff_policy import end_noncompliant_sessions
from core.audit import record_audit

OPL_STAFF = OPL_SCOPED | {Role.SYSTEM_ADMIN}
ASPIRANT_SIDE = ASPIRANT_SCOPED
# aspirant id -> the id of the OPL running that aspirant's process (None: unknown). Given by the domain layer,
# which owns aspirants and processes.
AspirantOpl = Callable[[int], int | None]


@dataclass(frozen=True)
class Placement:
    """A role and the OPL it acts in (None: every OPL)."""

    role: Role
    opl_id: int | None


@dataclass(frozen=True)
class RoleConflict:
    """Why a grant was refused: the account already holds `held`, on the other side, where `wanted` would act."""

    held: Role
    wanted: Role


def side(role: Role) -> str | None:
    if role in OPL_STAFF:
        return "opl"
    if role in ASPIRANT_SIDE:
        return "aspirant"
    return None


def clash(held: Iterable[Placement], wanted: Placement) -> Placement | None:
    """The first held placement on the other side of `wanted` that acts in an OPL `wanted` acts in."""
    wanted_side = side(wanted.role)
    if wanted_side is None:
        return None
    for placement in held:
        other_side = side(placement.role)
        if other_side is None or other_side == wanted_side:
            continue
        if placement.opl_id is None or wanted.opl_id is None or placement.opl_id == wanted.opl_id:
            return placement
    return None


def placement(role: Role, *, opl_id: int | None, aspirant_id: int | None, aspirant_opl: AspirantOpl) -> Placement:
    if role in OPL_SCOPED:
        return Placement(role, opl_id)
    if role in ASPIRANT_SIDE:
        return Placement(role, aspirant_opl(aspirant_id) if aspirant_id is not None else None)
    return Placement(role, None)  # system admin (everywhere) and citizen (on neither side)


def grant_role(*, session: Session, account_id: int, role: Role, now: datetime, actor_account_id: int | None,
               aspirant_opl: AspirantOpl, opl_id: int | None = None,
               aspirant_id: int | None = None) -> RoleGrant | RoleConflict:
    """Grant `role` in its scope (an existing identical grant is returned as it is), or refuse it when the
    account holds a role of the other side where this one would act. Both outcomes are audited."""
    existing = session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id)).all()
    for grant in existing:
        if (grant.role, grant.opl_id, grant.aspirant_id) == (role, opl_id, aspirant_id):
            return grant
    wanted = placement(role, opl_id=opl_id, aspirant_id=aspirant_id, aspirant_opl=aspirant_opl)
    held = [placement(g.role, opl_id=g.opl_id, aspirant_id=g.aspirant_id, aspirant_opl=aspirant_opl)
            for g in existing]
    conflict = clash(held, wanted)
    if conflict is not None:
        _audit(session, "role_grant_refused", account_id, actor_account_id,
               f"role={role}; opl={wanted.opl_id}; held={conflict.role}")
        return RoleConflict(held=conflict.role, wanted=role)
    grant = RoleGrant(account_id=account_id, role=role, opl_id=opl_id, aspirant_id=aspirant_id, created_at=now)
    session.add(grant)
    _audit(session, "role_granted", account_id, actor_account_id, f"role={role}; opl={wanted.opl_id}")
    if role in OPL_SCOPED and opl_id is not None:  # new staff: their sessions must meet the OPL's sign-in policy
        session.flush()
        end_noncompliant_sessions(session=session, opl_id=opl_id, now=now, actor_account_id=actor_account_id,
                                  account_ids=[account_id])
    return grant


def _audit(session: Session, action: str, account_id: int, actor_account_id: int | None, summary: str) -> None:
    record_audit(session, action=action, actor_account_id=actor_account_id, object_type="account",
                 object_id=account_id, after=summary)
