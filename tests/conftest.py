"""Test fixtures: every test that touches the database starts from a clean one, on SQLite by default or on
PostgreSQL when REGISTRO_TEST_DATABASE_URL is set (CI runs the whole suite both ways)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, SQLModel
from starlette.applications import Starlette
from starlette.testclient import TestClient

import registry.models  # noqa: F401  (every table on the metadata)
from auth.models import UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token, start_session
from core.db import make_engine, session_scope
from core.sealing import install_sealer, sealer_from_settings
from core.settings import Environment, Settings, load_settings
from registry import migrate
from registry.reports.counters import counter_differences
from tests.auth.institution import Institution, app_with_institution
from tests.factories.accounts import make_account
from tests.factories.processes import make_opl
from web.app import create_app
from web.security import CSRF_HEADER

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-" + "x" * 40
SUITE_SEALER = sealer_from_settings(Settings(env=Environment.TEST, secret_key=TEST_SECRET))
SHARED_DIR = REPO_ROOT.parent / "shared"


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_admin(url: URL) -> Engine:
    return make_engine(url.set(database="postgres").render_as_string(hide_password=False))


def _recreate_database(url: URL, name: str, *, create: bool) -> None:
    admin = _postgres_admin(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in a temporary folder, or one PostgreSQL database per test process (xdist workers and parallel
    runs never share one) on the server named by REGISTRO_TEST_DATABASE_URL, dropped at the end."""
    base = os.environ.get("REGISTRO_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = make_url(base)
    name = f"{url.database}_{_worker_suffix()}_{os.getpid()}"
    _recreate_database(url, name, create=True)
    yield url.set(database=name).render_as_string(hide_password=False)
    _recreate_database(url, name, create=False)


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    # Deferred BEGIN on SQLite: a test reading through `session` must not hold the write lock the app needs.
    engine = make_engine(database_url, sqlite_write_lock_at_begin=False)
    # Personal columns are sealed (core/sealing.py): the test environment's keys, as the app's.
    install_sealer(SUITE_SEALER)
    migrate.upgrade(engine)  # the suite runs on the schema the migrations build, not on create_all
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A clean database for this test; after it, whatever it did, the report counters still equal a recount from
    the supports (issue 13: counts never drift), unless the test writes supports behind the services' back."""
    _empty_all_tables(migrated_engine)
    install_sealer(SUITE_SEALER)  # whatever app an earlier test built (production keys, another secret)
    yield migrated_engine
    if request.node.get_closest_marker("writes_supports_directly") is None:
        with Session(migrated_engine) as check:
            assert counter_differences(session=check) == [], (
                "report counters drifted from the supports: move supports through registry.supports "
                "(record_transition) or the compulsa; a test that writes supports by hand on purpose is marked "
                "@pytest.mark.writes_supports_directly and calls registry.reports.counters.recount if it reads "
                "reports")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session


TEST_ORIGIN = "https://testserver"


@pytest.fixture
def settings(engine: Engine, database_url: str, tmp_path: Path) -> Settings:
    # https, like production: cookies are Secure outside development and the test client must send them back.
    return load_settings(env="test", data_dir=tmp_path / "var", database_url=database_url,
                         secret_key=TEST_SECRET, base_url=TEST_ORIGIN,
                         worker_in_process=False)  # tests run jobs themselves (registry.worker.run_one)


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The app; its local OpenID provider is reached over HTTP semantics in-process (discovery, token, JWKS)."""
    transport = httpx2.ASGITransport(app=_not_yet_created, raise_app_exceptions=False)
    created = create_app(settings, oauth_transport=transport)
    transport.app = created
    return created


async def _not_yet_created(scope: object, receive: object, send: object) -> None:
    raise RuntimeError("the app is still being created")


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    session_token: str
    csrf_token: str


SignIn = Callable[[TestClient, int], SignedIn]
SignInWithRole = Callable[..., SignedIn]


@pytest.fixture
def sign_in() -> SignIn:
    """`sign_in(client, account_id)`: a real server-side session (no login route involved), its cookie on the
    client, and the session's CSRF token sent as X-CSRF-Token on every later request of that client."""

    def _sign_in(client: TestClient, account_id: int) -> SignedIn:
        app = client.app
        with session_scope(app.state.engine) as db:  # type: ignore[attr-defined]
            token = start_session(session=db, account_id=account_id, now=app.state.clock())  # type: ignore[attr-defined]
            row = db.get(UserSession, hash_token(token))
            assert row is not None
            csrf = row.csrf_token
        client.cookies.set(SESSION_COOKIE, token)
        client.headers[CSRF_HEADER] = csrf
        return SignedIn(account_id=account_id, session_token=token, csrf_token=csrf)

    return _sign_in


@pytest.fixture
def sign_in_with_role(sign_in: SignIn) -> SignInWithRole:
    """`sign_in_with_role(client, Role.X, opl_id=None, aspirant_id=None, name=...)`: a new account with that
    one grant, signed in on `client`."""

    def _sign_in_with_role(client: TestClient, role: Role, **grant: Any) -> SignedIn:
        with session_scope(client.app.state.engine) as db:  # type: ignore[attr-defined]
            account = make_account(db, role=role, **grant)
            assert account.id is not None
            account_id = account.id
        return sign_in(client, account_id)

    return _sign_in_with_role


@pytest.fixture(scope="session")
def specimens_dir() -> Path:
    path = SHARED_DIR / "specimens"
    if not path.is_dir():
        pytest.skip("../shared/specimens is not beside this checkout")
    return path


@pytest.fixture
def app_engine(engine: Engine, database_url: str) -> Iterator[Engine]:
    """An engine like the app's and the worker's (SQLite: the write lock taken at BEGIN), for running jobs and the
    compulsa in tests; `engine` (deferred BEGIN) stays for the test's own reads."""
    worker_engine = make_engine(database_url)
    yield worker_engine
    worker_engine.dispose()


@pytest.fixture
def institution_client(settings: Settings) -> Iterator[tuple[TestClient, Institution]]:
    """The app with an OPL's own OpenID provider configured (tests/auth/institution.py)."""
    with app_with_institution(settings) as pair:
        yield pair


@pytest.fixture
def opl_id(engine: Engine) -> int:
    """A fresh OPL's id."""
    with session_scope(engine) as db:
        opl = make_opl(db)
        assert opl.id is not None
        return opl.id
