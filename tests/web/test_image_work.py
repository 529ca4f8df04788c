"""Photo work is bounded per account and per server (429 with Retry-After beyond it), and it runs with no
database transaction open, so a big photo never holds the database's write lock."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from starlette.applications import Starlette
from starlette.testclient import TestClient

import capture.pipeline
from auth.roles import Role
from core.db import session_scope
from core.settings import Settings
from tests.conftest import TEST_ORIGIN, SignIn, SignInWithRole
from tests.factories.photos import back_photo, plain_photo, warm_up_reader
from tests.factories.processes import make_field_auxiliary
from web.app import create_app
from web.image_work import ImageGate


@pytest.fixture
def app(settings: Settings) -> Starlette:
    # A generous decode budget: on a loaded test machine the good photo must still read as good.
    return create_app(settings.model_copy(update={"image_work_per_account": 1, "image_work_per_server": 2,
                                                  "decode_budget_ms": 120_000}))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client


def send_back(client: TestClient, photo: bytes) -> Any:
    return client.post("/ciudadano/codigo", files={"reverso": ("reverso.jpg", photo, "image/jpeg")},
                       follow_redirects=False)


def test_a_second_photo_of_the_same_account_at_once_hears_429_with_retry_after(
        app: Starlette, client: TestClient, sign_in_with_role: SignInWithRole) -> None:
    citizen = sign_in_with_role(client, Role.CITIZEN)
    gate: ImageGate = app.state.image_gate
    gate.enter(citizen.account_id)  # the account's first photo is still being decoded
    busy = send_back(client, plain_photo())
    assert busy.status_code == 429 and busy.headers["Retry-After"].isdigit()
    assert "Todavía estamos revisando otra foto que enviaste" in busy.text
    gate.leave(citizen.account_id)
    served = send_back(client, plain_photo())
    assert served.status_code == 400 and "No encontramos el código QR" in served.text


def test_when_the_server_is_busy_with_other_peoples_photos_the_answer_is_429_too(
        app: Starlette, client: TestClient, sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.CITIZEN)
    gate: ImageGate = app.state.image_gate
    gate.enter(1_000_001)
    gate.enter(1_000_002)
    busy = send_back(client, plain_photo())
    assert busy.status_code == 429 and "estamos revisando muchas fotos" in busy.text
    assert busy.headers["Retry-After"].isdigit()


def test_the_field_api_hears_429_in_json_with_the_advice_to_show(app: Starlette, client: TestClient,
                                                                 sign_in: SignIn) -> None:
    with session_scope(app.state.engine) as db:
        account_id = make_field_auxiliary(db).account_id
    assert account_id is not None
    sign_in(client, account_id)
    app.state.image_gate.enter(account_id)
    busy = client.post("/api/campo/leer", files={"reverso": ("reverso.jpg", plain_photo(), "image/jpeg")})
    assert busy.status_code == 429 and busy.headers["Retry-After"].isdigit()
    assert busy.json()["ok"] is False and "Todavía estamos revisando" in busy.json()["advice"]


class TransactionWatch:
    """How many transactions of the app's engine are open right now, from its own begin/commit/rollback."""

    def __init__(self, engine: Engine) -> None:
        self.open = 0
        for name, step in (("begin", 1), ("commit", -1), ("rollback", -1)):
            event.listen(engine, name, self._counter(step))

    def _counter(self, step: int) -> Any:
        def count(_connection: Any) -> None:
            self.open += step
        return count


def write_lock_is_free(engine: Engine) -> bool:
    """On SQLite, whether another connection could take the write lock at once."""
    probe = sqlite3.connect(str(make_url(engine.url).database), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def test_a_photo_is_decoded_and_re_encoded_with_no_transaction_open(
        app: Starlette, client: TestClient, sign_in_with_role: SignInWithRole,
        monkeypatch: pytest.MonkeyPatch) -> None:
    warm_up_reader()
    sign_in_with_role(client, Role.CITIZEN)
    engine: Engine = app.state.engine
    watch = TransactionWatch(engine)
    seen: list[tuple[int, bool]] = []
    real_load_image = capture.pipeline.load_image  # the back is decoded once, by the reader, for the store too

    def watched_load_image(*args: Any, **kwargs: Any) -> Any:
        free = write_lock_is_free(engine) if engine.dialect.name == "sqlite" else True
        seen.append((watch.open, free))
        return real_load_image(*args, **kwargs)

    monkeypatch.setattr(capture.pipeline, "load_image", watched_load_image)
    sent = send_back(client, back_photo(1).data)
    assert sent.status_code == 303, re.findall(r'class="field-error[^>]*>([^<]*)<', sent.text)
    assert sent.status_code == 303 and "/ciudadano/codigo/confirmar" in sent.headers["location"]
    assert seen == [(0, True)]  # the photo was decoded once, with nothing open and the write lock free
