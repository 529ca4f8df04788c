"""The OPL admin's "staff sign-in" page: whether the OPL's reviewers and admins must sign in through one of the
institutional providers, with a second factor (the rule and its enforcement: auth/staff_policy.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.oauth import ProviderSpec
from auth.permissions import Permission
from auth.sessions import hash_token
from auth.staff_policy import PolicyProblem, PolicyRefused, policy_of, set_policy
from web.fields import checked
from web.i18n import gettext as _
from web.notices import done_notice
from web.routes.opl_common import opl_of, posted_form, render
from web.security import requires
from web.services import call_reader, call_service, now
from web.state import services

MANAGE = Permission.OPL_SIGN_IN_POLICY_MANAGE
OFF = "ninguno"


def _institutional(request: Request) -> list[ProviderSpec]:
    """The providers a policy may name: those of REGISTRO_OIDC_PROVIDERS, as the sign-in page offers them."""
    names = {config.name for config in services(request).settings.oidc_providers}
    return [spec for spec in services(request).login_providers.offered if spec.name in names]


@requires(MANAGE)
async def page(request: Request) -> Response:
    return await _page(request, messages=done_notice(request, {
        "guardado": _("Guardamos la regla de acceso del personal."),
        "desactivado": _("El personal de tu OPL ya puede entrar con cualquier proveedor.")}))


async def _page(request: Request, *, errors: list[str] | None = None, messages: list[dict[str, str]] | None = None,
                status_code: int = 200) -> Response:
    policy = await call_reader(request, policy_of, opl_id=opl_of(request, MANAGE))
    return render(request, "opl/sign_in_policy.html", {
        "policy": policy, "providers": _institutional(request), "off": OFF, "errors": errors or [],
        "messages": messages or []}, status_code)


@requires(MANAGE)
async def save(request: Request) -> Response:
    opl_id = opl_of(request, MANAGE)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    chosen = form.get("proveedor")
    provider = None if chosen == OFF else (chosen if isinstance(chosen, str) else "")
    second_factor = checked(form, "segundo_factor")
    token = request.state.session_token
    try:
        await call_service(request, set_policy, opl_id=opl_id, provider=provider,
                           require_second_factor=second_factor,
                           allowed_providers=[spec.name for spec in _institutional(request)],
                           actor_account_id=request.state.principal.account_id,
                           actor_token_hash=hash_token(token) if token else None, now=now(request))
    except PolicyRefused as refused:
        return await _page(request, errors=[_refusal(request, refused.problem, provider, second_factor)],
                           status_code=400)
    done = "desactivado" if provider is None else "guardado"
    return RedirectResponse(f"{request.app.url_path_for('opl_sign_in_policy')}?hecho={done}", status_code=303)


def _refusal(request: Request, problem: PolicyProblem, provider: str | None, second_factor: bool) -> str:
    if problem is PolicyProblem.UNKNOWN_PROVIDER:
        return _("Elige uno de los proveedores de la lista.")
    spec = services(request).login_providers.spec(provider or "")
    label = spec.label if spec else provider or ""
    if second_factor:
        text = _("No activamos la regla porque te dejaría fuera: tu sesión actual no entró con %(provider)s y un "
                 "segundo factor. Sal, entra con %(provider)s completando el segundo factor y vuelve a guardarla.")
        return text % {"provider": label}
    return _("No activamos la regla porque te dejaría fuera: tu sesión actual no entró con %(provider)s. Sal, "
             "entra con %(provider)s y vuelve a guardarla.") % {"provider": label}


routes = [
    Route("/opl/acceso-personal", page, name="opl_sign_in_policy"),
    Route("/opl/acceso-personal", save, methods=["POST"], name="opl_sign_in_policy_save"),
]
