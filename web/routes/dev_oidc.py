"""The local OpenID provider's HTTP face (development and test only; `routes_for` gives nothing in production):
discovery, JWKS, the page where you pick a demo person, and the token endpoint."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from auth.demo_people import DEMO_PEOPLE
from auth.local_provider import LocalProvider, read_oauth2_request
from auth.local_provider.grants import person_by_subject
from auth.roles import Role
from core.settings import Settings
from web.ratelimit import TOKEN, rate_limited
from web.security import public, public_cookieless
from web.state import services

DEV_OIDC_PATH = "/dev-oidc"


def N_(message: str) -> str:
    return message


ROLE_LABELS: dict[Role, str] = {
    Role.CITIZEN: N_("Ciudadanía"),
    Role.AUXILIARY: N_("Auxiliar"),
    Role.ASPIRANT: N_("Aspirante"),
    Role.REVIEWER: N_("Mesa de control"),
    Role.OPL_ADMIN: N_("Administración del OPL"),
    Role.SYSTEM_ADMIN: N_("Administración del sistema"),
}


def local_issuer(settings: Settings) -> str:
    return f"{settings.public_origin}{DEV_OIDC_PATH}"


def _provider(request: Request) -> LocalProvider:
    provider = services(request).local_provider
    assert provider is not None  # these routes are mounted only when the local provider is offered
    return provider


@public
async def discovery(request: Request) -> Response:
    return JSONResponse(_provider(request).metadata())


@public
async def jwks(request: Request) -> Response:
    return JSONResponse(_provider(request).jwks())


@public
async def authorize_page(request: Request) -> Response:
    provider = _provider(request)
    try:
        provider.consent_grant(await read_oauth2_request(request))
    except OAuth2Error as error:
        return _refusal(request, provider, error)
    people = [(person, ROLE_LABELS[person.role]) for person in DEMO_PEOPLE]
    context = {"people": people, "action": f"{request.url.path}?{request.url.query}"}
    response = services(request).templates.TemplateResponse(request, "auth/dev_oidc_authorize.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@public
async def authorize_decision(request: Request) -> Response:
    provider = _provider(request)
    try:
        oauth_request = await read_oauth2_request(request)
        grant = provider.consent_grant(oauth_request)
    except OAuth2Error as error:
        return _refusal(request, provider, error)
    subject = oauth_request.form.get("persona")
    person = person_by_subject(subject) if subject else None
    if subject and person is None:
        return _refusal(request, provider, InvalidRequestError("Unknown demo person."))
    return provider.authorize(oauth_request, grant, person)  # no person: the client hears access_denied


@public_cookieless
@rate_limited(TOKEN)
async def token(request: Request) -> Response:
    return await _provider(request).token_response(request)


def _refusal(request: Request, provider: LocalProvider, error: OAuth2Error) -> Response:
    """Tell the client through its redirect URI when that one is known to be safe; otherwise show a page."""
    redirect = provider.error_redirect(error)
    if redirect is not None:
        return redirect
    context = {"error_code": error.error, "description": error.description or ""}
    return services(request).templates.TemplateResponse(request, "auth/dev_oidc_error.html", context,
                                                        status_code=400)


def routes_for(settings: Settings) -> list[BaseRoute]:
    if not settings.offers_local_provider:
        return []
    return [
        Route(f"{DEV_OIDC_PATH}/.well-known/openid-configuration", discovery, name="dev_oidc_discovery"),
        Route(f"{DEV_OIDC_PATH}/jwks", jwks, name="dev_oidc_jwks"),
        Route(f"{DEV_OIDC_PATH}/autorizar", authorize_page, methods=["GET"], name="dev_oidc_authorize"),
        Route(f"{DEV_OIDC_PATH}/autorizar", authorize_decision, methods=["POST"], name="dev_oidc_decide"),
        Route(f"{DEV_OIDC_PATH}/token", token, methods=["POST"], name="dev_oidc_token"),
    ]
