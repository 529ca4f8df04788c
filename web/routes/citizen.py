"""Routes for the citizen audience: home, "Mis apoyos" and each support's receipt; the two flows (Generar código,
Dar mi apoyo) live in citizen_code and citizen_support and are collected here."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from registry.citizen_supports import MySupport, my_supports
from registry.disown import UnknownSupport, disown_support
from registry.states import SituacionRegistral, SupportStatus
from web import i18n
from web.i18n import gettext as _
from web.notices import done_notice
from web.routes import citizen_code, citizen_support
from web.routes.citizen_flow import render
from web.security import requires
from web.services import call_reader, call_service, now
from web.state import services

FOLIO_SHAPE = re.compile(r"[A-Za-z0-9-]{1,20}")  # registry.supports.new_folio's, with room for older ones


@requires(Permission.CITIZEN_HOME_VIEW)
async def home(request: Request) -> Response:
    return services(request).templates.TemplateResponse(request, "citizen/home.html", {})


@requires(Permission.CITIZEN_SUPPORT_VIEW)
async def supports_page(request: Request) -> Response:
    supports = await call_reader(request, my_supports, account_id=request.state.principal.account_id)
    messages = done_notice(request, {"informado": _(
        "Recibimos tu aviso: ese apoyo no cuenta hasta que la mesa de control del OPL lo revise.")})
    return render(request, "citizen/my_supports.html", {"supports": [_shown(s) for s in supports],
                                                        "messages": messages})


def _folio(request: Request) -> str:
    """The folio in the path, or a 404 for text no folio can be (a NUL byte would reach PostgreSQL as an error)."""
    folio: str = request.path_params["folio"]
    if not FOLIO_SHAPE.fullmatch(folio):
        raise HTTPException(status_code=404)
    return folio


async def _own_support(request: Request) -> MySupport:
    found = await call_reader(request, my_supports, account_id=request.state.principal.account_id,
                              folio=_folio(request))
    if not found:  # someone else's folio looks exactly like one that does not exist
        raise HTTPException(status_code=404)
    return found[0]


@requires(Permission.CITIZEN_SUPPORT_VIEW)
async def receipt_page(request: Request) -> Response:
    return render(request, "citizen/receipt.html", {"support": _shown(await _own_support(request))})


@requires(Permission.CITIZEN_SUPPORT_VIEW)
async def disown_page(request: Request) -> Response:
    """The confirmation step of «Yo no di este apoyo» (a plain form: no script needed)."""
    return render(request, "citizen/disown_confirm.html", {"support": _shown(await _own_support(request))})


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def disown(request: Request) -> Response:
    try:
        await call_service(request, disown_support, account_id=request.state.principal.account_id,
                           folio=_folio(request), now=now(request))
    except UnknownSupport as unknown:
        raise HTTPException(status_code=404) from unknown
    target = f"{request.app.url_path_for('citizen_supports')}?hecho=informado"
    return RedirectResponse(target, status_code=303)


def _shown(support: MySupport) -> dict[str, object]:
    return {"support": support, "status": status_label(support), "reason": reason_label(support)}


def status_label(support: MySupport) -> str:
    labels = {
        SupportStatus.RECEIVED: _("Recibido"),
        SupportStatus.VERIFYING: _("En verificación"),
        SupportStatus.IN_REVIEW: _("En verificación (mesa de control)"),
        SupportStatus.CONTESTED: _("En revisión por una objeción"),
        SupportStatus.VALID: _("En Lista Nominal"),
        SupportStatus.INVALID: _("Con inconsistencia"),
    }
    return labels[support.status]


def reason_label(support: MySupport) -> str | None:
    """Why a support does not (or may not) count, in the citizen's language; None when nothing is wrong."""
    if support.status is SupportStatus.INVALID and support.inconsistency_es:
        english = i18n.current_locale() == "en" and support.inconsistency_en
        return support.inconsistency_en if english else support.inconsistency_es
    return _situacion_labels().get(support.situacion)


def _situacion_labels() -> dict[SituacionRegistral, str]:
    return {
        SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE: _("Ya habías apoyado a otra persona para este cargo: solo cuenta el primer apoyo."),  # noqa: E501
        SituacionRegistral.DUPLICADO_MISMO_ASPIRANTE: _("Ya habías apoyado a esta persona: solo cuenta una vez."),
        SituacionRegistral.EN_PADRON_NO_EN_LISTA: _("Estás en el padrón pero no en la Lista Nominal."),
        SituacionRegistral.BAJA: _("Baja del padrón (defunción, suspensión de derechos o credencial no vigente)."),
        SituacionRegistral.DATOS_NO_ENCONTRADOS: _("No encontramos tus datos en la Lista Nominal."),
        SituacionRegistral.FUERA_DE_AMBITO: _("Tu domicilio está fuera del ámbito geográfico de este cargo."),
        SituacionRegistral.FUERA_REGIMEN_EXCEPCION: _("Fuera del régimen de excepción."),
        SituacionRegistral.CON_INCONSISTENCIA: _("La mesa de control encontró una inconsistencia."),
    }


routes = [
    Route("/ciudadano", home, name="citizen_home"),
    *citizen_code.routes,
    *citizen_support.routes,
    Route("/ciudadano/apoyos", supports_page, name="citizen_supports"),
    Route("/ciudadano/apoyos/{folio:str}", receipt_page, name="citizen_receipt"),
    Route("/ciudadano/apoyos/{folio:str}/no-lo-di", disown_page, name="citizen_disown"),
    Route("/ciudadano/apoyos/{folio:str}/no-lo-di", disown, methods=["POST"], name="citizen_disown_post"),
]
