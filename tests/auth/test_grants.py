"""OPL staff and the aspirant side never meet in one account where they would act together; grants are made
(and refused, with an audit row) in auth.grants only."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from auth.grants import Placement, RoleConflict, clash, grant_role
from auth.models import RoleGrant
from auth.roles import Role
from core.audit import AuditEvent
from core.clock import utcnow
from registry.models import Aspirant
from registry.team import opl_of_aspirant
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process

STAFF = (Role.REVIEWER, Role.OPL_ADMIN, Role.SYSTEM_ADMIN)
ASPIRANT_SIDE = (Role.ASPIRANT, Role.AUXILIARY)


def _grant(session: Session, account_id: int, role: Role, *, opl_id: int | None = None,
           aspirant_id: int | None = None) -> RoleGrant | RoleConflict:
    return grant_role(session=session, account_id=account_id, role=role, now=utcnow(), actor_account_id=None,
                      opl_id=opl_id if role in (Role.REVIEWER, Role.OPL_ADMIN) else None, aspirant_id=aspirant_id,
                      aspirant_opl=lambda aspirant: opl_of_aspirant(session=session, aspirant_id=aspirant))


def _account(session: Session, role: Role, *, opl_id: int | None = None, aspirant_id: int | None = None) -> int:
    account = make_account(session, role=role, opl_id=opl_id if role in (Role.REVIEWER, Role.OPL_ADMIN) else None,
                           aspirant_id=aspirant_id if role in ASPIRANT_SIDE else None)
    assert account.id is not None
    return account.id


def _roles(session: Session, account_id: int) -> set[Role]:
    return {Role(role) for role in session.exec(select(RoleGrant.role).where(RoleGrant.account_id == account_id))}


def _aspirant_in_new_opl(session: Session) -> tuple[int, Aspirant]:
    opl = make_opl(session)
    aspirant = make_aspirant(session, process=make_process(session, opl=opl))
    assert opl.id is not None and aspirant.id is not None
    return opl.id, aspirant


@pytest.mark.parametrize("staff", STAFF)
@pytest.mark.parametrize("collecting", ASPIRANT_SIDE)
def test_staff_cannot_take_an_aspirant_side_role_in_their_opl(session: Session, staff: Role,
                                                               collecting: Role) -> None:
    opl_id, aspirant = _aspirant_in_new_opl(session)
    account_id = _account(session, staff, opl_id=opl_id)
    refused = _grant(session, account_id, collecting, aspirant_id=aspirant.id)
    assert refused == RoleConflict(held=staff, wanted=collecting)
    assert _roles(session, account_id) == {staff}
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "role_grant_refused")).one()
    assert audit.object_id == str(account_id) and f"held={staff}" in audit.after_summary


@pytest.mark.parametrize("staff", STAFF)
@pytest.mark.parametrize("collecting", ASPIRANT_SIDE)
def test_an_aspirant_side_account_cannot_be_made_staff_there(session: Session, staff: Role,
                                                              collecting: Role) -> None:
    opl_id, aspirant = _aspirant_in_new_opl(session)
    account_id = _account(session, collecting, aspirant_id=aspirant.id)
    assert _grant(session, account_id, staff, opl_id=opl_id) == RoleConflict(held=collecting, wanted=staff)
    assert _roles(session, account_id) == {collecting}


def test_opl_staff_of_another_opl_may_help_an_aspirant_here(session: Session) -> None:
    other_opl_id, _ = _aspirant_in_new_opl(session)
    _, aspirant = _aspirant_in_new_opl(session)
    reviewer = _account(session, Role.REVIEWER, opl_id=other_opl_id)
    granted = _grant(session, reviewer, Role.AUXILIARY, aspirant_id=aspirant.id)
    assert isinstance(granted, RoleGrant) and _roles(session, reviewer) == {Role.REVIEWER, Role.AUXILIARY}
    audit = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert audit == ["role_granted"]


def test_a_system_admin_is_staff_everywhere(session: Session) -> None:
    _, aspirant = _aspirant_in_new_opl(session)
    admin = _account(session, Role.SYSTEM_ADMIN)
    assert isinstance(_grant(session, admin, Role.AUXILIARY, aspirant_id=aspirant.id), RoleConflict)
    auxiliary = _account(session, Role.AUXILIARY, aspirant_id=aspirant.id)
    assert isinstance(_grant(session, auxiliary, Role.SYSTEM_ADMIN), RoleConflict)


def test_citizens_and_same_side_roles_are_never_in_conflict(session: Session) -> None:
    opl_id, aspirant = _aspirant_in_new_opl(session)
    citizen = _account(session, Role.CITIZEN)
    assert isinstance(_grant(session, citizen, Role.REVIEWER, opl_id=opl_id), RoleGrant)
    assert isinstance(_grant(session, citizen, Role.OPL_ADMIN, opl_id=opl_id), RoleGrant)
    assert _roles(session, citizen) == {Role.CITIZEN, Role.REVIEWER, Role.OPL_ADMIN}
    aspirant_account = _account(session, Role.ASPIRANT, aspirant_id=aspirant.id)
    assert isinstance(_grant(session, aspirant_account, Role.AUXILIARY, aspirant_id=aspirant.id), RoleGrant)


def test_granting_the_same_grant_twice_keeps_one(session: Session) -> None:
    _, aspirant = _aspirant_in_new_opl(session)
    account_id = _account(session, Role.CITIZEN)
    first = _grant(session, account_id, Role.AUXILIARY, aspirant_id=aspirant.id)
    session.flush()
    assert _grant(session, account_id, Role.AUXILIARY, aspirant_id=aspirant.id) is first


def test_an_opl_that_cannot_be_told_counts_as_every_opl() -> None:
    """Fail closed: an aspirant whose OPL is unknown conflicts with staff anywhere."""
    assert clash([Placement(Role.REVIEWER, 7)], Placement(Role.AUXILIARY, None)) == Placement(Role.REVIEWER, 7)
    assert clash([Placement(Role.AUXILIARY, None)], Placement(Role.OPL_ADMIN, 3)) is not None
    assert clash([Placement(Role.REVIEWER, 7)], Placement(Role.AUXILIARY, 8)) is None
