"""A request that only reads never takes SQLite's write lock: it is served while another connection writes (a
long batch, a migration, another worker), instead of queueing behind it and failing with "database is locked"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.models import UserSession
from auth.roles import Role
from auth.sessions import TOUCH_INTERVAL, hash_token
from core.clock import utcnow
from core.db import session_scope
from tests.conftest import SignInWithRole


@pytest.fixture
def writer(app: Starlette) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock for as long as the test runs."""
    url = make_url(str(app.state.engine.url))
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    connection = sqlite3.connect(str(url.database), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    connection.execute("ROLLBACK")
    connection.close()


def test_a_signed_in_page_that_only_reads_is_served_while_another_connection_writes(
        client: TestClient, sign_in_with_role: SignInWithRole, request: pytest.FixtureRequest) -> None:
    sign_in_with_role(client, Role.CITIZEN)  # before the lock: signing in writes the session row
    request.getfixturevalue("writer")
    page = client.get("/ciudadano/apoyos")  # the session lookup and the list of supports only read
    assert page.status_code == 200


def test_a_due_last_seen_touch_that_cannot_write_does_not_fail_the_page(
        app: Starlette, client: TestClient, sign_in_with_role: SignInWithRole,
        request: pytest.FixtureRequest) -> None:
    signed = sign_in_with_role(client, Role.CITIZEN)
    with session_scope(app.state.engine) as db:  # last seen long enough ago for a touch to be due
        row = db.get(UserSession, hash_token(signed.session_token))
        assert row is not None
        row.last_seen_at = utcnow() - 2 * TOUCH_INTERVAL
        db.add(row)
    request.getfixturevalue("writer")
    page = client.get("/ciudadano/apoyos")  # the touch waits out the busy timeout, then gives up
    assert page.status_code == 200
