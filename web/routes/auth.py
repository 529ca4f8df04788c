"""Signing in and out: the sign-in page, the start and the callback of each provider's login, and logout.

A login is: POST /entrar/{provider} (CSRF-checked) → provider → GET /entrar/{provider}/retorno (state, nonce,
PKCE and id_token checked by `auth.oauth`) → account found or created → a new server-side session (the id is
always new) → the person's home. Whatever fails returns to /entrar with a reason the page explains."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.accounts import account_for_identity
from auth.oauth import (
    LOGIN_STATE_COOKIE,
    LOGIN_STATE_MAX_AGE,
    NEXT_KEY,
    FailureReason,
    LoginFailure,
    LoginProviders,
    ProviderIdentity,
    provider_specs,
)
from auth.sessions import SESSION_COOKIE, end_session, load_principal, start_session
from core.audit import record_audit
from core.db import session_scope
from core.settings import Settings
from web.errors import render_error
from web.i18n import gettext
from web.ratelimit import LOGIN_START, SIGN_IN, SIGN_IN_ACCOUNT, limit_reached, rate_limited
from web.security import public
from web.state import services

if TYPE_CHECKING:
    from auth.local_provider import LocalProvider

LOGIN_PATH = "/entrar"


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated when shown."""
    return message


FAILURE_MESSAGES: dict[str, str] = {
    FailureReason.CANCELLED: N_("Cancelaste el inicio de sesión con %(provider)s. Cuando quieras, vuelve a "
                                "intentarlo."),
    FailureReason.EXPIRED: N_("Tu intento de inicio de sesión caducó o ya se había usado. Vuelve a intentarlo "
                              "desde esta página."),
    FailureReason.PROVIDER_ERROR: N_("%(provider)s no pudo completar tu inicio de sesión. Vuelve a intentarlo "
                                     "en un momento."),
    FailureReason.UNREACHABLE: N_("No pudimos comunicarnos con %(provider)s. Revisa tu conexión o inténtalo "
                                  "en unos minutos."),
    FailureReason.UNVERIFIED: N_("No pudimos comprobar la respuesta de %(provider)s, así que no iniciamos tu "
                                 "sesión. Vuelve a intentarlo."),
    FailureReason.DISABLED: N_("Esta cuenta está desactivada. Si crees que es un error, comunícate con quien "
                               "administra tu proceso."),
    FailureReason.LINKED_ELSEWHERE: N_("Esa cuenta de %(provider)s ya está vinculada a otra persona en Registro "
                                       "Ciudadano. Cierra tu sesión y entra con ella."),
}


def callback_url(settings: Settings, provider: str) -> str:
    """The redirect URI registered with each provider: the public address, not whatever Host was sent."""
    return f"{settings.public_origin}{LOGIN_PATH}/{provider}/retorno"


def login_state_middleware(settings: Settings) -> Middleware:
    """State, nonce and PKCE verifier live between start and callback in a signed cookie of their own, only
    sent to /entrar, expiring after ten minutes. It holds no personal data."""
    return Middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie=LOGIN_STATE_COOKIE,
                      max_age=LOGIN_STATE_MAX_AGE, path=LOGIN_PATH, same_site="lax",
                      https_only=settings.secure_cookies)


def login_providers(settings: Settings, local: LocalProvider | None, *, transport: object | None) -> LoginProviders:
    return LoginProviders(provider_specs(settings, local.credentials if local else None), transport=transport)


def safe_next(value: object) -> str | None:
    """Only a path on this site may follow a login (never another host: no open redirect)."""
    if not isinstance(value, str) or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return None
    parsed = urlsplit(value)
    if "\\" in value or parsed.scheme or parsed.netloc or parsed.path.startswith(LOGIN_PATH):
        return None
    return value


def _providers(request: Request) -> LoginProviders:
    providers: LoginProviders = services(request).login_providers
    return providers


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _failure_text(request: Request) -> str | None:
    template = FAILURE_MESSAGES.get(request.query_params.get("error", ""))
    if template is None:
        return None
    spec = _providers(request).spec(request.query_params.get("proveedor", ""))
    label = gettext(spec.label) if spec else gettext("tu proveedor")
    return gettext(template) % {"provider": label}


@public
async def login(request: Request) -> Response:
    failure = _failure_text(request)
    context = {"providers": _providers(request).offered, "siguiente": safe_next(request.query_params.get(NEXT_KEY)),
               "errors": [failure] if failure else []}
    response = services(request).templates.TemplateResponse(request, "auth/login.html", context)
    return _no_store(response)


@public
@rate_limited(LOGIN_START)
async def login_start(request: Request) -> Response:
    name = request.path_params["provider"]
    if _providers(request).spec(name) is None:
        return _not_found(request)
    async with request.form() as form:
        siguiente = safe_next(form.get(NEXT_KEY))
    request.session.clear()  # a new attempt replaces any unfinished one
    if siguiente:
        request.session[NEXT_KEY] = siguiente
    try:
        url = await _providers(request).authorization_url(
            name, request, redirect_uri=callback_url(services(request).settings, name))
    except LoginFailure as failure:
        return await _failed(request, name, failure)
    return _no_store(RedirectResponse(url, status_code=303))


@public
@rate_limited(SIGN_IN)
async def login_callback(request: Request) -> Response:
    name = request.path_params["provider"]
    if _providers(request).spec(name) is None:
        return _not_found(request)
    siguiente = safe_next(request.session.get(NEXT_KEY))
    try:
        identity = await _providers(request).identity_from_callback(name, request)
        too_many = await limit_reached(request, SIGN_IN_ACCOUNT, f"{identity.provider}:{identity.subject}")
        if too_many is not None:
            return too_many
        token, home = await run_in_threadpool(_sign_in, request, identity)
    except LoginFailure as failure:
        return await _failed(request, name, failure)
    finally:
        request.session.clear()  # state is single use, whatever happened
    response = RedirectResponse(siguiente or request.app.url_path_for(home), status_code=303)
    settings: Settings = services(request).settings
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_absolute.total_seconds()), path="/",
                        secure=settings.secure_cookies, httponly=True, samesite="lax")
    return _no_store(response)


def _sign_in(request: Request, identity: ProviderIdentity) -> tuple[str, str]:
    """Account (found, linked or created) and a fresh session in one transaction; returns (token, home)."""
    try:
        return _sign_in_once(request, identity)
    except IntegrityError:  # the same first login twice at once: the other one created the account
        return _sign_in_once(request, identity)


def _sign_in_once(request: Request, identity: ProviderIdentity) -> tuple[str, str]:
    now = services(request).clock()
    principal = request.state.principal
    with session_scope(services(request).engine) as session:
        account = account_for_identity(session=session, identity=identity, now=now,
                                       signed_in_account_id=principal.account_id if principal else None)
        assert account.id is not None
        token = start_session(session=session, account_id=account.id, now=now,
                              previous_token=request.state.session_token,
                              max_live=services(request).settings.session_max_per_account)
        record_audit(session, action="login", actor_account_id=account.id, object_type="account",
                     object_id=account.id, after=f"provider={identity.provider}")
        return token, load_principal(session=session, account=account).home_route()


async def _failed(request: Request, provider: str, failure: LoginFailure) -> Response:
    await run_in_threadpool(_audit_failure, request, provider, failure)
    query = {"error": str(failure.reason), "proveedor": provider}
    return _no_store(RedirectResponse(f"{request.app.url_path_for('login')}?{urlencode(query)}", status_code=303))


def _audit_failure(request: Request, provider: str, failure: LoginFailure) -> None:
    principal = request.state.principal
    with session_scope(services(request).engine) as session:
        record_audit(session, action="login_failed", actor_account_id=principal.account_id if principal else None,
                     object_type="provider", object_id=provider[:64],
                     after=f"reason={failure.reason}; detail={failure.detail}")


@public
async def logout(request: Request) -> Response:
    token = request.state.session_token
    if token:
        await run_in_threadpool(_sign_out, request, token)
    settings: Settings = services(request).settings
    response = RedirectResponse(request.app.url_path_for("home"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")
    return _no_store(response)


def _sign_out(request: Request, token: str) -> None:
    with session_scope(services(request).engine) as session:
        account_id = end_session(session=session, token=token, now=services(request).clock())
        if account_id is not None:
            record_audit(session, action="logout", actor_account_id=account_id, object_type="account",
                         object_id=account_id)


def _not_found(request: Request) -> Response:
    return render_error(request, 404)


routes = [
    Route(LOGIN_PATH, login, name="login"),
    Route(LOGIN_PATH + "/{provider}", login_start, methods=["POST"], name="login_start"),
    Route(LOGIN_PATH + "/{provider}/retorno", login_callback, name="login_callback"),
    Route("/salir", logout, methods=["POST"], name="logout"),
]
