"""Factories for the electoral side: OPLs, processes, aspirants and their auxiliaries; each returns a flushed
row with its id."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from auth.models import Account
from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import Aspirant, Auxiliary, Opl, Process
from registry.states import InvitationState, ScopeKind
from tests.factories import add
from tests.factories.accounts import make_account

_numbers = itertools.count(1)


def make_opl(session: Session, *, short_name: str | None = None, state_code: int = 26) -> Opl:
    short_name = short_name or f"OPL {next(_numbers)}"
    return add(session, Opl(name=f"Instituto {short_name}", short_name=short_name, state_code=state_code))


def make_process(session: Session, *, opl: Opl | None = None, opens: datetime | None = None,
                 closes: datetime | None = None, name: str = "Gubernatura 2027") -> Process:
    opl = opl or make_opl(session)
    assert opl.id is not None
    now = utcnow()
    return add(session, Process(
        opl_id=opl.id, name=name, office="Gubernatura", scope_kind=ScopeKind.STATE, scope_state=opl.state_code,
        starts_at=opens or now - timedelta(days=10), ends_at=closes or now + timedelta(days=30),
        threshold_percent=Decimal("3.0"),
    ))


def make_aspirant(session: Session, *, process: Process | None = None, name: str = "Aspirante Prueba") -> Aspirant:
    process = process or make_process(session)
    assert process.id is not None
    return add(session, Aspirant(process_id=process.id, full_name=name, email=f"{name.split()[0].lower()}@x.mx"))


def make_auxiliary(session: Session, *, aspirant: Aspirant, account: Account | None = None,
                   state: InvitationState = InvitationState.ACTIVE, email: str = "aux@x.mx") -> Auxiliary:
    assert aspirant.id is not None
    return add(session, Auxiliary(
        aspirant_id=aspirant.id, account_id=account.id if account else None, full_name="Auxiliar Prueba",
        clave_elector="PRAUXX90010126H100", email=email, phone="6620000000", state=state,
    ))


def make_field_auxiliary(session: Session, *, process: Process | None = None) -> Auxiliary:
    """An aspirant with one active auxiliary whose account holds the auxiliary role: the person who captures in
    the field. The row carries `aspirant_id`, `account_id` and its own `id`."""
    aspirant = make_aspirant(session, process=process)
    account = make_account(session, name="Auxiliar Campo", role=Role.AUXILIARY, aspirant_id=aspirant.id)
    return make_auxiliary(session, aspirant=aspirant, account=account)


def open_aspirant_id(engine: Engine, *, name: str = "Ana Aspirante") -> int:
    """An aspirant of a new, open process, committed (for tests that drive the app), by id."""
    with session_scope(engine) as db:
        aspirant_id = make_aspirant(db, process=make_process(db), name=name).id
    assert aspirant_id is not None
    return aspirant_id
