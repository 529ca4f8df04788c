"""Early load shedding on the real app, driven through httpx's ASGI transport with requests really in flight at
once: a worker full of requests answers the next one 503 with Retry-After at once (a page in Spanish, JSON for
the API), health probes and static files pass, and it serves again as soon as a request ends. A back photo that
would have to wait behind a full decode queue gets 503 with Retry-After at once instead of waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette

from auth.models import UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token, start_session
from core.db import session_scope
from core.settings import Settings
from tests.conftest import TEST_ORIGIN
from tests.factories.accounts import make_account
from tests.factories.photos import plain_photo
from web.app import create_app
from web.decoding import Decoder
from web.security import CSRF_HEADER

SAFETY_SECONDS = 120  # not a measured time: only keeps a broken bound from hanging the suite


def _run(test: Callable[[], Awaitable[None]]) -> None:
    # In a thread of its own: after a browser test in the same process the main thread's loop is marked running.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, test).result()


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=TEST_ORIGIN)


class HeldBody:
    """A form body that stops after its first chunk until released: its request stays in flight in the app."""

    def __init__(self) -> None:
        self.reading, self.release = anyio.Event(), anyio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        self.reading.set()  # the app asked for the body: the request is past every middleware's check
        yield b"clave_elector="
        await self.release.wait()
        yield b"XXXXXX00000000H000"


def test_a_full_worker_answers_503_with_retry_after_at_once_and_serves_again_after(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_in_flight": 2}))

    async def scenario() -> None:
        held = [HeldBody(), HeldBody()]
        async with _client(app) as client, anyio.create_task_group() as tasks:
            answers: list[httpx.Response] = []

            async def post(body: HeldBody) -> None:
                answers.append(await client.post("/verifica", content=body.chunks(), headers={
                    "content-type": "application/x-www-form-urlencoded"}))

            for body in held:
                tasks.start_soon(post, body)
            with anyio.fail_after(SAFETY_SECONDS):
                for body in held:
                    await body.reading.wait()
                page = await client.get("/")
                api = await client.get("/api/campo/sesion")
                scripted = await client.get("/", headers={"Accept": "application/json"})
                english = await client.get("/", headers={"Accept-Language": "en"})
                probe = await client.get("/healthz")
                stylesheet = await client.get("/static/css/app.css")
            assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
            assert "text/html" in page.headers["content-type"] and "muy ocupado" in page.text
            assert page.headers["Cache-Control"] == "no-store"
            for answer in (api, scripted):
                assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()
                assert answer.json()["error"] == "overloaded" and "muy ocupado" in answer.json()["message"]
            assert english.status_code == 503 and "very busy" in english.text
            assert probe.status_code != 503 and stylesheet.status_code == 200
            for body in held:
                body.release.set()
        assert [answer.status_code for answer in answers] != [] and 503 not in [a.status_code for a in answers]
        async with _client(app) as client:
            assert (await client.get("/")).status_code == 200

    _run(scenario)


def test_a_back_photo_beyond_the_decode_queue_hears_503_with_retry_after_at_once(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"decode_workers": 1, "decode_queue": 0,
                                                 "decode_budget_ms": 120_000}))
    decoder: Decoder = app.state.decoder
    with session_scope(app.state.engine) as db:
        account = make_account(db, role=Role.CITIZEN)
        assert account.id is not None
        token = start_session(session=db, account_id=account.id, now=app.state.clock())
    with session_scope(app.state.engine) as db:
        row = db.get(UserSession, hash_token(token))
        assert row is not None
        csrf = row.csrf_token

    async def send_back(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/ciudadano/codigo", files={"reverso": ("reverso.jpg", plain_photo(), "image/jpeg")},
                                 headers={CSRF_HEADER: csrf})

    async def scenario() -> None:
        owner = object()
        decoded: list[Any] = []
        async with _client(app) as client, anyio.create_task_group() as tasks:
            client.cookies.set(SESSION_COOKIE, token)
            # The one decoder is busy (the test holds it) and one photo already waits for it: the queue is full.
            await decoder._limiter.acquire_on_behalf_of(owner)

            async def waiting() -> None:
                decoded.append(await decoder.read_back(plain_photo(), today=app.state.clock().date()))

            tasks.start_soon(waiting)
            await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(SAFETY_SECONDS):
                busy = await send_back(client)
            assert busy.status_code == 503 and busy.headers["Retry-After"].isdigit()
            assert "muy ocupado" in busy.text
            decoder._limiter.release_on_behalf_of(owner)
        assert len(decoded) == 1  # the photo that was waiting was read once the decoder was free
        async with _client(app) as client:
            client.cookies.set(SESSION_COOKIE, token)
            with anyio.fail_after(SAFETY_SECONDS):
                served = await send_back(client)
        assert served.status_code == 400 and "No encontramos el código QR" in served.text

    _run(scenario)
