"""Signing in and out: the sign-in page, the start and the callback of each provider's login, and logout.

A login is: POST /entrar/{provider} (CSRF-checked) → provider → GET /entrar/{provider}/retorno (state, nonce,
PKCE and id_token checked by `auth.oauth`) → account found or created → a new server-side session (the id is
always new) → the person's home. Whatever fails returns to /entrar with a reason the page explains."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.accounts import account_for_identity
from auth.linking import link_identity
from auth.models import UserSession
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
from auth.sessions import SESSION_COOKIE, end_session, hash_token, load_principal, start_session
from auth.staff_policy import admit
from core.audit import record_audit
from core.db import session_scope
from core.settings import Settings
from registry.opl_admin.people import invitation_is_for
from web.errors import render_error
from web.i18n import gettext
from web.ratelimit import LOGIN_START, SIGN_IN, SIGN_IN_ACCOUNT, limit_reached, rate_limited
from web.routes.account_mail import link_mail
from web.routes.citizen_mail import public_link
from web.security import public
from web.services import call_service, mail_delivery
from web.state import services

if TYPE_CHECKING:
    from auth.local_provider import LocalProvider

LOGIN_PATH = "/entrar"
# In the login-state cookie: the account a "link another provider" flow is for (web/routes/account.py).
LINK_KEY = "vincular_cuenta"
# The post_logout_redirect_uri registered with each provider that supports RP-initiated logout.
LOGOUT_RETURN_PATH = "/salida/vuelta"


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
    FailureReason.STAFF_ONLY: N_("%(provider)s es solo para el personal del OPL. Entra con otra opción de esta "
                                 "página o, si te invitaron, abre el enlace de tu invitación."),
    FailureReason.STAFF_PROVIDER_REQUIRED: N_("Tu OPL pide que su personal entre solo con %(required)s. Vuelve a "
                                              "entrar con ese botón."),
    FailureReason.SECOND_FACTOR_REQUIRED: N_("Tu OPL pide que su personal entre con %(required)s y un segundo "
                                             "factor de autenticación, y %(required)s no lo confirmó. Vuelve a "
                                             "entrar y completa el segundo paso que te pida."),
}
# Reasons whose message names the provider the OPL's policy requires (in the query string as `requerido`).
NAMES_REQUIRED = frozenset({FailureReason.STAFF_PROVIDER_REQUIRED, FailureReason.SECOND_FACTOR_REQUIRED})
INVITATION_PREFIX = "/opl/invitacion/"


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
    return gettext(template) % {"provider": _label(request, "proveedor"), "required": _label(request, "requerido")}


def _label(request: Request, parameter: str) -> str:
    spec = _providers(request).spec(request.query_params.get(parameter, ""))
    return gettext(spec.label) if spec else gettext("tu proveedor")


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
    link_account = request.session.get(LINK_KEY)
    try:
        identity = await _providers(request).identity_from_callback(name, request)
        too_many = await limit_reached(request, SIGN_IN_ACCOUNT, f"{identity.provider}:{identity.subject}")
        if too_many is not None:
            return too_many
        if link_account is not None:
            return await _finish_link(request, identity, link_account)
        token, home = await run_in_threadpool(_sign_in, request, identity)
    except LoginFailure as failure:
        back_to = request.app.url_path_for("account_access") if link_account is not None else None
        return await _failed(request, name, failure, back_to=back_to)
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
    with session_scope(services(request).engine) as session:
        # Never linked here: a sign-in that did not start from the accounts page's "link" (a shared computer
        # with someone's session still open) signs in whoever the identity is, and ends the open session.
        account = account_for_identity(session=session, identity=identity, now=now, signed_in_account_id=None)
        assert account.id is not None
        spec = _providers(request).spec(identity.provider)
        admit(session=session, account_id=account.id, identity=identity, staff_roles=spec.roles if spec else (),
              invited=_invited(session, request, identity))
        token = start_session(session=session, account_id=account.id, now=now,
                              previous_token=request.state.session_token,
                              max_live=services(request).settings.session_max_per_account,
                              provider=identity.provider, second_factor=identity.second_factor)
        record_audit(session, action="login", actor_account_id=account.id, object_type="account",
                     object_id=account.id, after=f"provider={identity.provider}")
        return token, load_principal(session=session, account=account).home_route()


def _invited(session: Session, request: Request, identity: ProviderIdentity) -> bool:
    """The sign-in started from a pending OPL invitation sent to this identity's (verified) address."""
    siguiente = safe_next(request.session.get(NEXT_KEY)) or ""
    if not siguiente.startswith(INVITATION_PREFIX):
        return False
    return invitation_is_for(session=session, token=siguiente.removeprefix(INVITATION_PREFIX), email=identity.email,
                             secret=services(request).settings.secret_key, now=services(request).clock())


async def _failed(request: Request, provider: str, failure: LoginFailure, *, back_to: str | None = None) -> Response:
    """Audited, then back to the sign-in page (or `back_to`: the accounts page, for a link) with the reason."""
    await run_in_threadpool(_audit_failure, request, provider, failure)
    query = {"error": str(failure.reason), "proveedor": provider,
             **({"requerido": failure.detail} if failure.reason in NAMES_REQUIRED else {})}
    target = back_to or request.app.url_path_for("login")
    return _no_store(RedirectResponse(f"{target}?{urlencode(query)}", status_code=303))


async def start_link(request: Request, name: str) -> Response:
    """The signed-in person asked to link provider `name` (web/routes/account.py): the same sign-in flow, with the
    link intent and the account it is for kept in the login-state cookie (signed, ten minutes, single use)."""
    request.session.clear()
    request.session[LINK_KEY] = request.state.principal.account_id
    try:
        url = await _providers(request).authorization_url(
            name, request, redirect_uri=callback_url(services(request).settings, name))
    except LoginFailure as failure:
        return await _failed(request, name, failure, back_to=request.app.url_path_for("account_access"))
    return _no_store(RedirectResponse(url, status_code=303))


async def _finish_link(request: Request, identity: ProviderIdentity, account_id: object) -> Response:
    """Both proven: the session this browser is signed in with, and the provider's sign-in just completed. The
    session must still be the one that asked (not ended, not another person's since)."""
    principal = request.state.principal
    if principal is None or principal.account_id != account_id:
        raise LoginFailure(FailureReason.EXPIRED, "link without its session")
    spec = _providers(request).spec(identity.provider)
    compose = partial(link_mail, accounts_link=public_link(request, "account_access"))
    linked = await call_service(request, link_identity, account_id=principal.account_id, identity=identity,
                                provider_label=spec.label if spec else identity.provider, compose=compose,
                                now=services(request).clock(), staff_roles=spec.roles if spec else ())
    done = "vinculada" if linked else "ya_vinculada"
    target = f"{request.app.url_path_for('account_access')}?{urlencode({'hecho': done})}"
    return _no_store(RedirectResponse(target, status_code=303, background=mail_delivery(request)))


def _audit_failure(request: Request, provider: str, failure: LoginFailure) -> None:
    principal = request.state.principal
    with session_scope(services(request).engine) as session:
        record_audit(session, action="login_failed", actor_account_id=principal.account_id if principal else None,
                     object_type="provider", object_id=provider[:64],
                     after=f"reason={failure.reason}; detail={failure.detail}")


@public
async def logout(request: Request) -> Response:
    """Our session ends first (a provider that is down never keeps anyone signed in here); then, when the
    provider the session came through supports RP-initiated logout, the browser goes on to sign out there too."""
    token = request.state.session_token
    provider = await run_in_threadpool(_sign_out, request, token) if token else None
    settings: Settings = services(request).settings
    at_provider = await _providers(request).end_session_url(
        provider, post_logout_redirect_uri=f"{settings.public_origin}{LOGOUT_RETURN_PATH}") if provider else None
    response = RedirectResponse(at_provider or request.app.url_path_for("home"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")
    return _no_store(response)


def _sign_out(request: Request, token: str) -> str | None:
    """End the session; returns the provider it was started through (None: no live session, or none known)."""
    with session_scope(services(request).engine) as session:
        row = session.get(UserSession, hash_token(token))
        provider = row.provider if row is not None else None
        account_id = end_session(session=session, token=token, now=services(request).clock())
        if account_id is None:
            return None
        record_audit(session, action="logout", actor_account_id=account_id, object_type="account",
                     object_id=account_id, after=f"provider={provider}" if provider else "")
        return provider or None


@public
async def logout_return(request: Request) -> Response:
    """Where a provider sends the browser back after signing out there (the post_logout_redirect_uri): only
    shows the signed-out page, so the `state` it brings back needs no checking."""
    if request.state.principal is not None:  # signed in again since: nothing to say
        return RedirectResponse(request.app.url_path_for("home"), status_code=303)
    return _no_store(services(request).templates.TemplateResponse(request, "auth/signed_out.html", {}))


def _not_found(request: Request) -> Response:
    return render_error(request, 404)


routes = [
    Route(LOGIN_PATH, login, name="login"),
    Route(LOGIN_PATH + "/{provider}", login_start, methods=["POST"], name="login_start"),
    Route(LOGIN_PATH + "/{provider}/retorno", login_callback, name="login_callback"),
    Route("/salir", logout, methods=["POST"], name="logout"),
    Route(LOGOUT_RETURN_PATH, logout_return, name="logout_return"),
]
