"""Unhandled errors become the 500 page inside the security-headers middleware.

Starlette's own ServerErrorMiddleware sits outside every user middleware, so its 500 page would leave without
CSP, nosniff or X-Frame-Options; and it re-raises, so the server then logs the exception's message, which may
quote personal data. This middleware sits just inside the headers (and locale) middleware, answers with the
error page in the user's language, logs through `log_unhandled` and does not re-raise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import render_error
from web.log_privacy import log_unhandled


class ServerErrorPageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the last line of defence: every error gets the same page
            log_unhandled(scope.get("method", ""), scope.get("path", ""), exc)
            if not started:  # once a response has begun, only closing the connection is left
                await _error_page(scope)(scope, receive, send)


def _error_page(scope: Scope) -> Response:
    state = scope.setdefault("state", {})
    state.setdefault("principal", None)  # the error may have come before the session was looked up
    state.setdefault("csrf_token", "")
    try:
        return render_error(Request(scope), 500)
    except Exception:  # e.g. the templates themselves are broken: a plain page still goes out
        return PlainTextResponse("Error interno del servidor / Internal server error", status_code=500)
