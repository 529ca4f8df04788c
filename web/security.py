"""Who the request is (server-side session → Principal), what each route needs, and CSRF on every state change.

Every endpoint is wrapped by `requires(permission)` or `public`; the wrapper records what the route needs so the
route × role matrix test is generated from the code, not kept by hand."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.permissions import Permission
from auth.sessions import SESSION_COOKIE, ActiveSession, SessionLifetime, lookup_session, touch_session
from core.audit import record_audit
from core.clock import utcnow
from core.db import session_scope
from web.state import services

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS_CSRF_COOKIE = "registro_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PUBLIC = "public"
CSRF_IN_STREAM = "csrf_in_stream"
# Open data and the user guides: the same bytes for everybody, cached by browsers and proxies, so no session is read
# there and no cookie is set (a cookie would make every response private to one browser, and tie visits to a person).
# Operations probes and metrics (web/routes/operations.py) are machine-facing: no session, no cookie.
COOKIELESS_PREFIXES = ("/datos", "/ayuda", "/healthz", "/readyz", "/metrics")


def _without_caching(send: Send) -> Send:
    async def send_no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Cache-Control"] = "no-store"
        await send(message)

    return send_no_store


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar = SimpleCookie(value.decode("latin-1"))
            if name in jar:
                return jar[name].value
    return None


class PrincipalMiddleware:
    """Resolves the session cookie into `request.state.principal` (or None) and the CSRF token to expect."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if scope["path"].startswith(COOKIELESS_PREFIXES):
            state.update(principal=None, csrf_token=None, session_token=None)
            await self.app(scope, receive, send)
            return
        token = _cookie(scope, SESSION_COOKIE)
        active = await run_in_threadpool(self._resolve, scope, token) if token else None
        anonymous_csrf = _cookie(scope, ANONYMOUS_CSRF_COOKIE)
        new_anonymous_csrf = None if active or anonymous_csrf else secrets.token_urlsafe(32)
        state["principal"] = active.principal if active else None
        state["csrf_token"] = active.csrf_token if active else (anonymous_csrf or new_anonymous_csrf)
        state["session_token"] = token if active else None
        if active is not None:
            send = _without_caching(send)  # every page of a signed-in person may show personal data
        if new_anonymous_csrf is not None:
            send = self._with_cookie(send, new_anonymous_csrf)
        await self.app(scope, receive, send)

    def _resolve(self, scope: Scope, token: str) -> ActiveSession | None:
        app_state = scope["app"].state
        settings = app_state.settings
        lifetime = SessionLifetime(idle=settings.session_idle, absolute=settings.session_absolute)
        now = getattr(app_state, "clock", utcnow)()
        # Looking the session up only reads, so it never waits for (or holds) SQLite's write lock; the
        # once-a-minute last-seen touch is its own short write.
        with session_scope(app_state.engine, read_only=True) as session:
            active = lookup_session(session=session, token=token, now=now, lifetime=lifetime)
        if active is not None and active.touch_due:
            _touch(app_state.engine, active.token_hash, now)
        return active

    def _with_cookie(self, send: Send, value: str) -> Send:
        secure = "; Secure" if self.secure_cookies else ""

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "Set-Cookie", f"{ANONYMOUS_CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"
                )
            await send(message)

        return send_with_cookie


def _touch(engine: Engine, token_hash: str, now: datetime) -> None:
    try:
        with session_scope(engine) as session:
            touch_session(session=session, token_hash=token_hash, now=now)
    except OperationalError:
        # The database is busy writing for longer than the busy timeout: the page itself needs no write, and the
        # next request touches the session again.
        log.warning("session last-seen not updated: database busy")


def requires(permission: Permission) -> Callable[[Endpoint], Endpoint]:
    return lambda endpoint: _guard(endpoint, permission)


def public(endpoint: Endpoint) -> Endpoint:
    return _guard(endpoint, PUBLIC)


def public_cookieless(endpoint: Endpoint) -> Endpoint:
    """A public endpoint that authenticates callers by what the request itself carries (e.g. the OpenID token
    endpoint: client credentials), never by cookies, so cross-site request forgery cannot apply and no CSRF
    token is asked for. The principal is hidden from it so it cannot come to rely on the cookie."""

    async def without_principal(request: Request) -> Response:
        request.state.principal = None
        return await endpoint(request)

    without_principal.__name__ = endpoint.__name__
    without_principal.__doc__ = endpoint.__doc__
    without_principal.required_permission = PUBLIC  # type: ignore[attr-defined]
    return without_principal


def csrf_in_stream(endpoint: Endpoint) -> Endpoint:
    """Put below `@requires(...)`: the endpoint streams a large multipart body itself (web/streamed_form.py), so
    the guard must not parse it as a form (which would spool the whole file); a token sent as a form field is
    then checked by the endpoint with `streamed_csrf_ok`, from a field that must come before the file."""
    setattr(endpoint, CSRF_IN_STREAM, True)
    return endpoint


def streamed_csrf_ok(request: Request, sent: str | None) -> bool:
    """For a `csrf_in_stream` endpoint: whether the token field it read is good (True when the guard already
    checked a header token)."""
    return not getattr(request.state, CSRF_IN_STREAM, False) or _token_matches(request, sent)


def required_permission(endpoint: Any) -> Permission | str | None:
    """What a route's endpoint declared (None: it declared nothing, which the matrix test refuses)."""
    return getattr(endpoint, "required_permission", None)


def _guard(endpoint: Endpoint, permission: Permission | str) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if isinstance(permission, Permission):
            refusal = await _refuse_unauthorised(request, permission)
            if refusal is not None:
                return refusal
        if request.method not in SAFE_METHODS:
            refusal = await _refuse_forged(request, streamed=getattr(endpoint, CSRF_IN_STREAM, False))
            if refusal is not None:
                return refusal
        return await endpoint(request)

    guarded.required_permission = permission  # type: ignore[attr-defined]
    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


def login_then(request: Request, target: str) -> str:
    """The sign-in page's path, sending the person on to `target` (a path of ours) once signed in."""
    return f"{request.app.url_path_for('login')}?{urlencode({'siguiente': target})}"


def login_first(request: Request) -> Response | None:
    """For a public page that acts as the signed-in person (accepting an invitation): nobody signed in is sent
    to sign in and back to this path; None when someone is."""
    if request.state.principal is None:
        return RedirectResponse(login_then(request, request.url.path), status_code=303)
    return None


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


async def _refuse_unauthorised(request: Request, permission: Permission) -> Response | None:
    principal = request.state.principal
    if principal is None:
        if wants_json(request):
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(login_then(request, target), status_code=303)
    if principal.has(permission):
        return None
    await run_in_threadpool(_audit_denied, request, permission)
    return _refusal(request, 403)


def _audit_denied(request: Request, permission: Permission) -> None:
    with session_scope(services(request).engine) as session:
        record_audit(session, action="permission_denied", actor_account_id=request.state.principal.account_id,
                     object_type="route", object_id=request.url.path[:64], after=str(permission))


def _same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # no Origin (old browsers, curl) relies on the token alone
    parsed = urlsplit(origin)
    return (parsed.scheme, parsed.netloc) == (request.url.scheme, request.url.netloc)


async def _refuse_forged(request: Request, *, streamed: bool = False) -> Response | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and streamed and "multipart/form-data" in request.headers.get("content-type", ""):
        if not _same_origin(request):
            return _refusal(request, 403, "errors/csrf.html")
        setattr(request.state, CSRF_IN_STREAM, True)  # the endpoint checks the field as the body streams in
        return None
    if sent is None and "form" in request.headers.get("content-type", ""):
        try:
            form = await request.form(max_part_size=services(request).settings.upload_max_bytes)
        except MultiPartException:
            return _refusal(request, 413)
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if _token_matches(request, sent):
        return None
    return _refusal(request, 403, "errors/csrf.html")


def _token_matches(request: Request, sent: str | None) -> bool:
    expected = request.state.csrf_token
    return bool(_same_origin(request) and sent and expected and secrets.compare_digest(sent, expected))


def _refusal(request: Request, status_code: int, template: str | None = None) -> Response:
    from web.errors import render_error

    return render_error(request, status_code, template)
