"""Server-side sessions end when idle, at their absolute lifetime, at logout and at account disabling; the
lifetimes come from settings and are checked on every request (the app's clock is moved, not waited for)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from auth.accounts import disable_account
from auth.roles import Role
from auth.sessions import SessionLifetime, end_session, resolve_session, start_session
from core.clock import utcnow
from core.db import session_scope
from core.settings import Settings
from tests.factories.accounts import make_account
from web.app import create_app


class MovableClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def timed_client(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"session_idle_minutes": 30, "session_absolute_hours": 2}),
                     clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def _signed_in(client: TestClient, sign_in: object) -> int:
    with session_scope(client.app.state.engine) as db:  # type: ignore[attr-defined]
        account = make_account(db, role=Role.CITIZEN)
        assert account.id is not None
        account_id = account.id
    sign_in(client, account_id)  # type: ignore[operator]
    return account_id


def _opens_home(client: TestClient) -> bool:
    return client.get("/ciudadano", follow_redirects=False).status_code == 200


def test_a_session_ends_after_the_idle_lifetime(timed_client: TestClient, clock: MovableClock,
                                                sign_in: object) -> None:
    _signed_in(timed_client, sign_in)
    clock.advance(minutes=29)
    assert _opens_home(timed_client)  # use keeps it alive...
    clock.advance(minutes=29)
    assert _opens_home(timed_client)
    clock.advance(minutes=31)  # ...idleness ends it
    assert not _opens_home(timed_client)


def test_a_session_ends_at_its_absolute_lifetime_however_busy(timed_client: TestClient, clock: MovableClock,
                                                              sign_in: object) -> None:
    _signed_in(timed_client, sign_in)
    for _ in range(7):
        clock.advance(minutes=17)
        assert _opens_home(timed_client)
    clock.advance(minutes=2)  # 2 h 1 min after signing in
    assert not _opens_home(timed_client)


def test_disabling_an_account_signs_it_out_everywhere(timed_client: TestClient, clock: MovableClock,
                                                     sign_in: object) -> None:
    account_id = _signed_in(timed_client, sign_in)
    with session_scope(timed_client.app.state.engine) as db:  # type: ignore[attr-defined]
        disable_account(session=db, account_id=account_id, now=clock(), actor_account_id=None)
    assert not _opens_home(timed_client)


LIFETIME = SessionLifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=2))


def test_a_new_session_ends_the_one_it_replaces(session: Session) -> None:
    account = make_account(session)
    assert account.id is not None
    now = utcnow()
    first = start_session(session=session, account_id=account.id, now=now)
    second = start_session(session=session, account_id=account.id, now=now, previous_token=first)
    assert resolve_session(session=session, token=first, now=now, lifetime=LIFETIME) is None
    assert resolve_session(session=session, token=second, now=now, lifetime=LIFETIME) is not None
    assert end_session(session=session, token=second, now=now) == account.id
    assert end_session(session=session, token=second, now=now) is None
    session.rollback()
