"""Factories for people: accounts and their role grants; each returns a flushed row with its id."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from auth.models import Account, RoleGrant
from auth.roles import Role
from core.db import session_scope
from tests.factories import add


def make_account(session: Session, *, name: str = "Persona Prueba", email: str | None = None,
                 role: Role | None = Role.CITIZEN, opl_id: int | None = None,
                 aspirant_id: int | None = None) -> Account:
    account = add(session, Account(display_name=name, email=email))
    if role is not None:
        assert account.id is not None
        add(session, RoleGrant(account_id=account.id, role=role, opl_id=opl_id, aspirant_id=aspirant_id))
    return account


def citizen_account_id(engine: Engine, *, name: str = "Carmen Ciudadana", email: str = "carmen@correo.mx") -> int:
    """A citizen's account, committed (for tests that drive the app), by id."""
    with session_scope(engine) as db:
        account_id = make_account(db, name=name, email=email, role=Role.CITIZEN).id
    assert account_id is not None
    return account_id
