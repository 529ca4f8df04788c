"""How handlers call the domain: one service function, in a worker thread (the database driver is
synchronous), inside one transaction that commits when the function returns and rolls back if it raises."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from core.db import session_scope
from registry.outbox import deliver_pending
from web.state import services

R = TypeVar("R")


async def call_service(request: Request, service: Callable[..., R], /, **kwargs: Any) -> R:
    """`await call_service(request, submit_support, submission=..., now=...)` → service(session=..., **kwargs)."""
    return await run_in_threadpool(partial(_in_transaction, services(request).engine, service, kwargs))


async def call_reader(request: Request, service: Callable[..., R], /, **kwargs: Any) -> R:
    """`call_service` for a service that only reads: its transaction is read-only, so on SQLite it neither waits
    for nor blocks the requests that write (PostgreSQL refuses a write in it)."""
    return await run_in_threadpool(partial(_in_transaction, services(request).engine, service, kwargs,
                                           read_only=True))


def _in_transaction(engine: Any, service: Callable[..., R], kwargs: dict[str, Any], *, read_only: bool = False) -> R:
    with session_scope(engine, read_only=read_only) as session:
        return service(session=session, **kwargs)


def now(request: Request) -> Any:
    """The app's clock (injected, so tests can move time: 24-hour codes, collection windows)."""
    return services(request).clock()


async def accept_invitation_link(request: Request, accept: Callable[..., R]) -> R:
    """`accept` (registry.team's or registry.opl_admin.people's accept_invitation) with the link's token, for the
    signed-in person (the handler has sent anyone else to sign in: web.security.login_first)."""
    return await call_service(request, accept, token=request.path_params["token"],
                              secret=services(request).settings.secret_key,
                              account_id=request.state.principal.account_id, now=now(request))


def mail_delivery(request: Request) -> BackgroundTask:
    """Attach to a response so queued mail leaves after the transaction that queued it has committed."""
    engine, mail, clock = services(request).engine, services(request).mail, services(request).clock

    def deliver() -> None:
        with session_scope(engine) as session:
            deliver_pending(session=session, mail=mail, now=clock())

    return BackgroundTask(deliver)
