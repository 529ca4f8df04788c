"""Pure ASGI middleware: locale per request, and security headers on every response."""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import LOOPBACK_HOSTS
from web import i18n
from web.scope_headers import scope_header

_POLICY = (
    "default-src 'self'; script-src 'self'{webassembly}; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action {form_action}; frame-ancestors 'none'"
)


def content_security_policy(form_action: Iterable[str] = (), *, webassembly: bool = False) -> str:
    """The one policy. `form_action`: origins sign-in forms lead to. Chromium applies form-action to the
    redirects that follow a form's POST, so POST /entrar/{provider} → 303 to Google is blocked unless the
    provider's origin is listed here; everything else stays 'self'. `webassembly`: only the pages that scan the
    credential live (zxing-wasm, vendored) may compile WebAssembly; 'wasm-unsafe-eval' allows no JS eval."""
    return _POLICY.format(form_action=" ".join(["'self'", *sorted(set(form_action))]),
                          webassembly=" 'wasm-unsafe-eval'" if webassembly else "")


_WEBASSEMBLY = "csp_webassembly"


def allow_webassembly(scope: Scope) -> None:
    """Called by the handler of a scanning page: its response gets the policy that lets it compile WebAssembly."""
    scope.setdefault("state", {})[_WEBASSEMBLY] = True


CONTENT_SECURITY_POLICY = content_security_policy()
ONE_YEAR = 365 * 24 * 3600


class LocaleMiddleware:
    """Chooses the UI language: ?lang= switch (remembered in a cookie), the cookie, then Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        requested = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookies = SimpleCookie(scope_header(scope, b"cookie") or "")
        remembered = cookies[i18n.LOCALE_COOKIE].value if i18n.LOCALE_COOKIE in cookies else None
        locale = i18n.choose_locale(requested, remembered, scope_header(scope, b"accept-language") or "")
        i18n.set_locale(locale)
        scope.setdefault("state", {})["locale"] = locale
        remember = requested in i18n.LOCALES

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Content-Language", i18n.html_lang())
                if remember:
                    headers.append(
                        "Set-Cookie", f"{i18n.LOCALE_COOKIE}={locale}; Path=/; Max-Age={ONE_YEAR}; SameSite=Lax"
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, form_action: Iterable[str] = ()) -> None:
        self.app = app
        self.hsts = hsts
        self.policy = content_security_policy(form_action)
        self.scanning_policy = content_security_policy(form_action, webassembly=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # the same dict the handler's request.state writes to

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                policy = self.scanning_policy if state.get(_WEBASSEMBLY) else self.policy
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", f"max-age={ONE_YEAR}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoopbackOnlyMiddleware:
    """Implicit development (REGISTRO_ENV not set: the README's quick start) answers only this machine. A server
    bound to every interface by mistake then shows other hosts a refusal, not a site with a password-less
    sign-in provider."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") or ("", 0)
        if scope["type"] != "http" or client[0] in LOOPBACK_HOSTS:
            await self.app(scope, receive, send)
            return
        body = (b"Development mode answers only on loopback. Set REGISTRO_ENV=production for a deployment, "
                b"or REGISTRO_ENV=development to choose development explicitly.\n")
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
