"""Request bodies are capped per route while they stream in, before the session lookup, CSRF or form parsing.

The test client reads a whole request body before the app sees it, so these tests call the app as an ASGI server
would, with a body that is produced chunk by chunk and counts how much of it the app ever pulled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message

from auth.roles import Role
from auth.sessions import SESSION_COOKIE
from core.db import session_scope
from core.settings import Settings
from tests.conftest import TEST_ORIGIN, SignIn, SignInWithRole
from tests.factories.photos import back_photo, plain_photo, warm_up_reader
from tests.factories.processes import make_field_auxiliary
from web.app import create_app
from web.routes.field_api import MAX_BATCH_BYTES
from web.security import CSRF_HEADER

MB = 1_000_000


@dataclass
class StreamedBody:
    """`total` bytes sent in `chunk`-sized messages, as a phone on a slow network (or an attacker) would."""

    total: int
    chunk: int = 64_000
    pulled: int = 0
    piece: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.piece = b"a" * self.chunk

    async def receive(self) -> Message:
        if self.pulled >= self.total:
            return {"type": "http.disconnect"}
        self.pulled += self.chunk
        return {"type": "http.request", "body": self.piece, "more_body": self.pulled < self.total}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def post(app: Starlette, path: str, body: StreamedBody, headers: dict[str, str]) -> Answer:
    """POST `body` to `path` the way an ASGI server does; no Content-Length unless `headers` declares one."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    raw = [(name.lower().encode(), value.encode()) for name, value in {"host": "testserver", **headers}.items()]
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 443),
    }
    # In a thread of its own: a Playwright browser test earlier in this worker leaves its event loop marked as
    # running in the main thread, where anyio.run would refuse to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, app, scope, body.receive, send).result()
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, content)


FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_chunked_form_with_no_length_is_refused_as_soon_as_it_passes_the_cap(app: Starlette,
                                                                              settings: Settings) -> None:
    body = StreamedBody(total=64 * MB)
    answer = post(app, "/salir", body, FORM)  # anonymous, public: the CSRF check used to parse all of it
    assert answer.status == 413 and "El archivo es demasiado grande" in answer.text
    assert body.pulled <= settings.form_max_bytes + body.chunk


def test_a_declared_length_over_the_cap_is_refused_without_reading_a_byte(app: Starlette) -> None:
    body = StreamedBody(total=64 * MB)
    answer = post(app, "/salir", body, {**FORM, "content-length": str(10**9), "accept-language": "en"})
    assert answer.status == 413 and "The file is too large" in answer.text and body.pulled == 0
    assert post(app, "/salir", StreamedBody(total=10), {**FORM, "content-length": "diez"}).status == 413


def test_the_batch_api_has_its_own_cap_in_json_even_without_a_content_length(
        app: Starlette, client: TestClient, sign_in: SignIn) -> None:
    with session_scope(app.state.engine) as db:
        account_id = make_field_auxiliary(db).account_id
    assert account_id is not None
    signed = sign_in(client, account_id)
    body = StreamedBody(total=MAX_BATCH_BYTES + 8 * MB, chunk=MB)
    answer = post(app, "/api/campo/lote", body, {
        "content-type": "application/json", "cookie": f"{SESSION_COOKIE}={signed.session_token}",
        CSRF_HEADER: signed.csrf_token, "sec-fetch-site": "same-origin"})
    assert answer.status == 413 and json.loads(answer.body)["error"] == "too_large"
    assert MAX_BATCH_BYTES < body.pulled <= MAX_BATCH_BYTES + body.chunk < body.total


@pytest.fixture
def app(settings: Settings) -> Starlette:
    # A generous decode budget: on a loaded test machine the good photo must still read as good.
    return create_app(settings.model_copy(update={"decode_budget_ms": 120_000}))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def good_back() -> bytes:
    warm_up_reader()
    return back_photo(1).data


def test_a_photo_form_takes_what_an_ordinary_form_may_not(client: TestClient, settings: Settings,
                                                          sign_in_with_role: SignInWithRole, good_back: bytes) -> None:
    sign_in_with_role(client, Role.CITIZEN)
    assert len(good_back) > settings.form_max_bytes
    sent = client.post("/ciudadano/codigo", files={"reverso": ("reverso.jpg", good_back, "image/jpeg")},
                       follow_redirects=False)
    assert sent.status_code == 303 and "/ciudadano/codigo/confirmar" in sent.headers["location"]
    padded = plain_photo() + b"\0" * 2 * settings.form_max_bytes
    unreadable = client.post("/ciudadano/codigo", files={"reverso": ("reverso.jpg", padded, "image/jpeg")})
    assert unreadable.status_code == 400 and "No encontramos el código QR" in unreadable.text
    assert client.post("/salir", files={"archivo": ("x.jpg", padded, "image/jpeg")}).status_code == 413
