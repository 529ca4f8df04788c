"""«Formas de entrar» (/cuenta/accesos): the signed-in person's linked sign-in providers, linking another (the
same sign-in flow, with a link intent: web/routes/auth.py) and unlinking one while another remains.

Thin handlers: the rules (last one, the OPL's staff policy, sessions ended, audit, mail) are in auth/linking.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.linking import (
    LinkedIdentity,
    UnlinkRefusal,
    UnlinkRefused,
    linked_identities,
    providers_required_by_staff_policy,
    unlink_identity,
)
from auth.oauth import LoginProviders, ProviderSpec
from auth.permissions import Permission
from auth.principal import Principal
from auth.sessions import hash_token
from web.errors import render_error
from web.i18n import gettext
from web.notices import done_notice
from web.ratelimit import LOGIN_START, rate_limited
from web.routes.account_mail import unlink_mail
from web.routes.auth import FAILURE_MESSAGES, N_, start_link
from web.routes.citizen_mail import public_link
from web.security import requires
from web.services import call_reader, call_service, mail_delivery, now
from web.state import services

ACCESS_PATH = "/cuenta/accesos"

DONE: dict[str, str] = {
    "vinculada": N_("Listo: vinculamos la cuenta. Desde ahora puedes entrar con ella. Te lo avisamos por correo."),
    "ya_vinculada": N_("Esa cuenta ya estaba vinculada a la tuya: no cambió nada."),
    "desvinculada": N_("Listo: desvinculamos la cuenta. Ya no puedes entrar con ella. Te lo avisamos por correo."),
}
UNLINK_REFUSED: dict[str, str] = {
    UnlinkRefusal.NOT_FOUND: N_("Esa cuenta ya no está vinculada a la tuya."),
    UnlinkRefusal.LAST_ONE: N_("No puedes desvincular tu única forma de entrar: vincula otra antes."),
    UnlinkRefusal.REQUIRED_BY_POLICY: N_("Tu OPL pide que su personal entre con esa cuenta, así que no puede "
                                         "desvincularse."),
}


@dataclass(frozen=True)
class Linked:
    """One row of the page: a linked identity as the person sees it."""

    id: int
    label: str
    linked_at: datetime
    removable: bool
    required: bool


@dataclass(frozen=True)
class AccessFacts:
    identities: list[LinkedIdentity]
    required: frozenset[str]


def _providers(request: Request) -> LoginProviders:
    providers: LoginProviders = services(request).login_providers
    return providers


def _label(request: Request, provider: str) -> str:
    spec = _providers(request).spec(provider)
    return spec.label if spec else provider


def _named(request: Request, provider: str) -> str:
    """A provider named in the query string: only a configured one is shown by name (never the text sent)."""
    spec = _providers(request).spec(provider)
    return gettext(spec.label) if spec else gettext("tu proveedor")


def may_link(spec: ProviderSpec, principal: Principal) -> bool:
    """A staff-only provider (its `roles`) is offered only to accounts holding one of its roles."""
    return not spec.roles or bool(set(spec.roles) & {str(role) for role in principal.roles})


def _facts(*, session: Session, account_id: int) -> AccessFacts:
    return AccessFacts(identities=linked_identities(session=session, account_id=account_id),
                       required=providers_required_by_staff_policy(session=session, account_id=account_id))


def _messages(request: Request) -> tuple[list[dict[str, str]], list[str]]:
    errors = []
    refused = UNLINK_REFUSED.get(request.query_params.get("rechazo", ""))
    if refused:
        errors.append(gettext(refused))
    failure = FAILURE_MESSAGES.get(request.query_params.get("error", ""))
    if failure:
        named = {key: _named(request, request.query_params.get(parameter, ""))
                 for key, parameter in (("provider", "proveedor"), ("required", "requerido"))}
        errors.append(gettext(failure) % named)
    return done_notice(request, {code: gettext(text) for code, text in DONE.items()}), errors


@requires(Permission.ACCOUNT_SELF_VIEW)
async def access_page(request: Request) -> Response:
    principal: Principal = request.state.principal
    facts = await call_reader(request, _facts, account_id=principal.account_id)
    count = len(facts.identities)
    linked = [Linked(id=row.id, label=_label(request, row.provider), linked_at=row.linked_at,
                     required=row.provider in facts.required,
                     removable=count > 1 and not (row.provider in facts.required and _only(facts, row.provider)))
              for row in facts.identities]
    have = {row.provider for row in facts.identities}
    offered = [spec for spec in _providers(request).offered if spec.name not in have and may_link(spec, principal)]
    messages, errors = _messages(request)
    context = {"linked": linked, "offered": offered, "messages": messages, "errors": errors}
    return services(request).templates.TemplateResponse(request, "account/access.html", context)


def _only(facts: AccessFacts, provider: str) -> bool:
    return sum(1 for row in facts.identities if row.provider == provider) == 1


@requires(Permission.ACCOUNT_SELF_VIEW)
@rate_limited(LOGIN_START)
async def link_start(request: Request) -> Response:
    spec = _providers(request).spec(request.path_params["provider"])
    if spec is None or not may_link(spec, request.state.principal):
        return render_error(request, 404)
    return await start_link(request, spec.name)


@requires(Permission.ACCOUNT_SELF_VIEW)
async def unlink(request: Request) -> Response:
    account_id = request.state.principal.account_id
    token = request.state.session_token
    compose = partial(unlink_mail, accounts_link=public_link(request, "account_access"))
    try:
        await call_service(request, unlink_identity, account_id=account_id, identity_id=request.path_params["id"],
                           labels=_labels(request), compose=compose, now=now(request),
                           current_token_hash=hash_token(token) if token else None)
    except UnlinkRefused as refused:
        return _back(request, rechazo=str(refused.reason))
    return _back(request, background=True, hecho="desvinculada")


def _labels(request: Request) -> dict[str, str]:
    return {spec.name: spec.label for spec in _providers(request).offered}


def _back(request: Request, *, background: bool = False, **query: str) -> Response:
    target = f"{request.app.url_path_for('account_access')}?{urlencode(query)}"
    return RedirectResponse(target, status_code=303, background=mail_delivery(request) if background else None)


routes = [
    Route(ACCESS_PATH, access_page, name="account_access"),
    Route(ACCESS_PATH + "/vincular/{provider}", link_start, methods=["POST"], name="account_link"),
    Route(ACCESS_PATH + "/{id:row_id}/desvincular", unlink, methods=["POST"], name="account_unlink"),
]
