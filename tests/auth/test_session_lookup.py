"""Every signed-in request looks its session up: one statement for the session, its account and every grant
(bench/load.py counted three before), with the same answers as before for live, revoked and disabled ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from auth.models import RoleGrant
from auth.roles import Role
from auth.sessions import SessionLifetime, end_session, lookup_session, start_session
from core.clock import utcnow
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant

LIFETIME = SessionLifetime(idle=timedelta(minutes=60), absolute=timedelta(hours=12))


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's own BEGIN (core/db.py) is not a look-up
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_session_with_its_account_and_grants_is_one_statement(session: Session, statements: list[str]) -> None:
    aspirant = make_aspirant(session)
    account = make_account(session, role=Role.CITIZEN)
    assert account.id is not None
    session.add(RoleGrant(account_id=account.id, role=Role.AUXILIARY, aspirant_id=aspirant.id))
    now = utcnow()
    token = start_session(session=session, account_id=account.id, now=now)
    session.commit()
    session.expunge_all()  # nothing from the identity map: what a request's fresh session sees
    statements.clear()
    active = lookup_session(session=session, token=token, now=now, lifetime=LIFETIME)
    assert len(statements) == 1
    assert active is not None and active.principal.account_id == account.id
    assert {grant.role for grant in active.principal.grants} == {Role.CITIZEN, Role.AUXILIARY}


def test_revoked_unknown_and_disabled_sessions_are_none(session: Session) -> None:
    now = utcnow()
    without_grants = make_account(session, role=None)
    assert without_grants.id is not None
    token = start_session(session=session, account_id=without_grants.id, now=now)
    session.commit()
    active = lookup_session(session=session, token=token, now=now, lifetime=LIFETIME)
    assert active is not None and active.principal.grants == ()
    assert lookup_session(session=session, token="no-such-token", now=now, lifetime=LIFETIME) is None
    end_session(session=session, token=token, now=now)
    session.commit()
    assert lookup_session(session=session, token=token, now=now, lifetime=LIFETIME) is None
    disabled = make_account(session)
    assert disabled.id is not None
    other = start_session(session=session, account_id=disabled.id, now=now)
    disabled.is_active = False
    session.add(disabled)
    session.commit()
    assert lookup_session(session=session, token=other, now=now, lifetime=LIFETIME) is None
