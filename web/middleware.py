"""Pure ASGI middleware: locale per request, and security headers on every response."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import i18n

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
ONE_YEAR = 365 * 24 * 3600


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class LocaleMiddleware:
    """Chooses the UI language: ?lang= switch (remembered in a cookie), the cookie, then Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        requested = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookies = SimpleCookie(_header(scope, b"cookie"))
        remembered = cookies[i18n.LOCALE_COOKIE].value if i18n.LOCALE_COOKIE in cookies else None
        locale = i18n.choose_locale(requested, remembered, _header(scope, b"accept-language"))
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
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", f"max-age={ONE_YEAR}")
            await send(message)

        await self.app(scope, receive, send_with_headers)
