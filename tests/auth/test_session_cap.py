"""One account holds at most `session_max_per_account` live sessions: signing in beyond it ends the oldest ones
(the person signing in is never refused), and the ended ones open nothing any more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx2
import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from auth.models import UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, SessionLifetime, hash_token, resolve_session, start_session
from core.audit import AuditEvent
from core.clock import utcnow
from core.settings import Settings
from tests.auth.login_flow import sign_in_through_provider
from tests.factories.accounts import make_account
from web.app import create_app

CAP = 3


class MovableClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def capped_client(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    """The app with a cap of CAP sessions; its local provider is reached in-process, as in the app fixture."""
    transport = httpx2.ASGITransport(app=_not_yet, raise_app_exceptions=False)
    app = create_app(settings.model_copy(update={"session_max_per_account": CAP}), clock=clock,
                     oauth_transport=transport)
    transport.app = app
    with TestClient(app, base_url="https://testserver") as client:
        yield client


async def _not_yet(scope: object, receive: object, send: object) -> None:
    raise RuntimeError("the app is still being created")


def _sign_in_fresh(client: TestClient, clock: MovableClock) -> str:
    """A login from a browser that has no session cookie yet (another phone); returns its session token."""
    clock.now += timedelta(seconds=30)
    client.cookies.clear()
    answer = sign_in_through_provider(client, "demo-ciudadana")
    assert answer.status_code == 303 and answer.headers["location"] == "/ciudadano"
    return client.cookies[SESSION_COOKIE]


def _opens_home(client: TestClient, token: str) -> bool:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return client.get("/ciudadano", follow_redirects=False).status_code == 200


def test_signing_in_beyond_the_cap_ends_the_oldest_sessions(capped_client: TestClient, clock: MovableClock,
                                                            session: Session) -> None:
    tokens = [_sign_in_fresh(capped_client, clock) for _ in range(CAP + 2)]
    live = session.exec(select(UserSession.token_hash).where(col(UserSession.revoked_at).is_(None))).all()
    assert sorted(live) == sorted(hash_token(token) for token in tokens[-CAP:])
    assert [_opens_home(capped_client, token) for token in tokens] == [False, False, True, True, True]
    capped = session.exec(select(AuditEvent).where(AuditEvent.action == "sessions_capped")).all()
    assert [row.after_summary for row in capped] == ["ended=1", "ended=1"]


def test_the_cap_counts_per_account(session: Session) -> None:
    """Another account's sessions are never ended to make room, and a cap of one keeps only the newest."""
    ana, beto = make_account(session, role=Role.CITIZEN), make_account(session, role=Role.CITIZEN)
    assert ana.id is not None and beto.id is not None
    now, lifetime = utcnow(), SessionLifetime(idle=timedelta(hours=1), absolute=timedelta(hours=12))
    betos = [start_session(session=session, account_id=beto.id, now=now, max_live=2) for _ in range(2)]
    anas = []
    for minute in range(4):
        anas.append(start_session(session=session, account_id=ana.id, now=now + timedelta(minutes=minute),
                                  max_live=1))
    later = now + timedelta(minutes=5)
    assert [resolve_session(session=session, token=t, now=later, lifetime=lifetime) is not None for t in anas] \
        == [False, False, False, True]
    assert all(resolve_session(session=session, token=t, now=later, lifetime=lifetime) for t in betos)


def test_the_default_cap_is_ten() -> None:
    assert Settings(env="test").session_max_per_account == 10
