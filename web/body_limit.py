"""Request body limits, enforced while the body streams in and before any other work (session lookup, CSRF,
multipart parsing): a declared Content-Length over the route's cap is refused without reading a byte, and a
chunked body (no Content-Length) is counted as it arrives and refused the moment it passes the cap.

Each route declares what it takes: `@accepts_photos(n)` for a form with up to n photos (n × the upload limit,
plus the ordinary-form cap for the other fields), `@accepts_body(max_bytes)` for a fixed cap (the batch API, the
CSV import), `@accepts_body_setting(name)` for a cap that is a setting (the Lista Nominal upload); every other
route gets the small ordinary-form cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import render_error
from web.i18n import gettext as _
from web.scope_headers import scope_header

E = TypeVar("E", bound=Callable[..., Any])
PHOTO_PARTS = "body_photo_parts"
MAX_BODY = "body_max_bytes"
MAX_BODY_SETTING = "body_max_setting"
NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def accepts_photos(count: int) -> Callable[[E], E]:
    """Put above `@requires(...)`: the route's form may carry up to `count` photos (or data-URL signatures)."""

    def declare(endpoint: E) -> E:
        setattr(endpoint, PHOTO_PARTS, count)
        return endpoint

    return declare


def accepts_body(max_bytes: int) -> Callable[[E], E]:
    """Put above `@requires(...)`: the route takes a body of up to `max_bytes`."""

    def declare(endpoint: E) -> E:
        setattr(endpoint, MAX_BODY, max_bytes)
        return endpoint

    return declare


def accepts_body_setting(setting: str) -> Callable[[E], E]:
    """Put above `@requires(...)`: the route takes a file of up to the named integer setting (e.g.
    "roll_upload_max_bytes") plus the ordinary-form cap for its other fields. The setting is read from the app's
    settings on each request: the cap is configuration, not a number fixed when the module is imported."""

    def declare(endpoint: E) -> E:
        setattr(endpoint, MAX_BODY_SETTING, setting)
        return endpoint

    return declare


class BodyTooLarge(Exception):
    """Raised from `receive` to stop whatever is reading the body; the middleware answers 413."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, upload_max_bytes: int, form_max_bytes: int) -> None:
        self.app = app
        self.upload_max_bytes = upload_max_bytes
        self.form_max_bytes = form_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = scope_header(scope, b"content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and int(declared) <= limit):
            await _refuse(scope, receive, send)
            return
        counted = 0
        exceeded = started = False

        async def limited_receive() -> Message:
            nonlocal counted, exceeded
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except Exception:
            # Whatever wrapped our exception on its way out (an exception group, a parser's own error), an
            # oversized body is a 413 for the client, not a 500.
            if not exceeded:
                raise
            if not started:
                await _refuse(scope, receive, send)

    def limit_for(self, scope: Scope) -> int:
        if scope.get("method") in NO_BODY_METHODS:
            return self.form_max_bytes
        endpoint = _endpoint(scope)
        fixed = getattr(endpoint, MAX_BODY, None)
        if isinstance(fixed, int):
            return fixed
        setting = getattr(endpoint, MAX_BODY_SETTING, None)
        if isinstance(setting, str):
            return int(getattr(scope["app"].state.settings, setting)) + self.form_max_bytes
        photos = getattr(endpoint, PHOTO_PARTS, 0)
        return photos * self.upload_max_bytes + self.form_max_bytes


def _endpoint(scope: Scope) -> Any:
    """The endpoint the router will choose (None for mounts and unknown paths: they get the ordinary cap)."""
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, child = route.matches(scope)
        if match is Match.FULL:
            return child.get("endpoint")
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    if scope["path"].startswith("/api/"):
        message = _("Lo que enviaste es demasiado grande. Envía menos a la vez o fotos más ligeras.")
        response: Response = JSONResponse({"error": "too_large", "message": message}, status_code=413,
                                headers={"Cache-Control": "no-store"})
    else:
        response = render_error(request, 413)
    # The rest of the body is never read: the connection is closed after this answer.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
