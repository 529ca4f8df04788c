"""«Verifica tu apoyo» (/verifica): anybody with a voter credential checks whether a support was registered with
it and reports one they never gave. Public and anonymous; the identifiers travel only in POST bodies (never in an
address or a log), the answer is never cached, and the report carries a signed, short-lived token from the answer
(registry.verify_support), never a folio.

Limits: per IP (the decorator) and per clave de elector (before the lookup), so nobody tries CIC after CIC for a
clave they know. A well-formed pair gets the same page whether or not the clave exists anywhere."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from capture.identifiers import IdentifierError, InvalidIdentifier, parse_cic, parse_clave_elector
from registry.verify_support import (
    FoundSupport,
    InvalidToken,
    Standing,
    disown_token,
    disown_verified,
    find_supports,
)
from web.i18n import gettext as _
from web.notices import done_notice
from web.ratelimit import VERIFY_CLAVE, VERIFY_IP, limit_reached, rate_limited
from web.security import public
from web.services import call_reader, call_service, now
from web.state import services

FIELD_MAX = 40  # longer than any way of typing either identifier: nothing longer is shown again
NO_STORE = {"Cache-Control": "no-store"}


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code, headers=NO_STORE)
    return response


def _form_page(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    messages = done_notice(request, {"informado": _(
        "Recibimos tu aviso: ese apoyo no cuenta mientras la mesa de control del OPL lo revisa.")})
    return _render(request, "public/verifica.html", {"messages": messages, **context}, status_code)


@public
async def verify_page(request: Request) -> Response:
    return _form_page(request)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _again(text: str) -> str:
    """What the form shows again when wrong: the start of it, printable characters only (no NUL)."""
    return "".join(ch for ch in text[:FIELD_MAX] if ch.isprintable())


def _clave_error(text: str, today: Any) -> tuple[str | None, str | None]:
    """(normalised clave, None) or (None, message)."""
    try:
        return parse_clave_elector(text, today=today).value, None
    except InvalidIdentifier as invalid:
        if invalid.code is IdentifierError.EMPTY:
            return None, _("Escribe tu clave de elector.")
        return None, _("La clave de elector tiene 18 caracteres: 6 letras, 8 números, una H o una M y 3 números. "
                       "Está en el frente de tu credencial.")


def _cic_error(text: str) -> tuple[str | None, str | None]:
    try:
        return parse_cic(text), None
    except InvalidIdentifier as invalid:
        if invalid.code is IdentifierError.EMPTY:
            return None, _("Escribe el CIC de tu credencial.")
        return None, _("El CIC son los 9 números que siguen a «IDMEX» en la primera línea de abajo, en el reverso "
                       "de tu credencial.")


@public
@rate_limited(VERIFY_IP)
async def verify(request: Request) -> Response:
    form = await request.form()
    typed_clave, typed_cic = _text(form, "clave_elector"), _text(form, "cic")
    clave, clave_error = _clave_error(typed_clave, now(request).date())
    cic, cic_error = _cic_error(typed_cic)
    if clave is None or cic is None:
        return _form_page(request, status_code=400, clave_error=clave_error, cic_error=cic_error,
                          typed_clave=_again(typed_clave), typed_cic=_again(typed_cic))
    refusal = await limit_reached(request, VERIFY_CLAVE, f"clave:{clave}")
    if refusal is not None:
        return refusal
    found = await call_reader(request, find_supports, clave=clave, cic=cic)
    return _render(request, "public/verifica_resultado.html", {"supports": [_shown(request, s) for s in found]})


def _shown(request: Request, support: FoundSupport) -> dict[str, Any]:
    token = disown_token(secret=services(request).settings.secret_key, support_id=support.support_id,
                         now=now(request))
    return {"support": support, "standing": _standing_words()[support.standing], "token": token}


def _standing_words() -> dict[Standing, str]:
    return {
        Standing.COUNTS: _("Cuenta para la persona aspirante"),
        Standing.DOES_NOT_COUNT: _("No cuenta"),
        Standing.PENDING: _("En revisión: todavía no se sabe si cuenta"),
    }


@public
@rate_limited(VERIFY_IP)
async def disown(request: Request) -> Response:
    form = await request.form()
    token = form.get("token")
    try:
        await call_service(request, disown_verified, secret=services(request).settings.secret_key,
                           token=token if isinstance(token, str) else "", now=now(request))
    except InvalidToken:
        return _form_page(request, status_code=400, errors=[_(
            "No pudimos recibir tu aviso: pasaron más de 15 minutos desde que verificaste tus datos, o el aviso no "
            "es válido. Escribe de nuevo tu clave de elector y tu CIC.")])
    return RedirectResponse(f"{request.app.url_path_for('verify_support')}?hecho=informado", status_code=303)


routes = [
    Route("/verifica", verify_page, name="verify_support"),
    Route("/verifica", verify, methods=["POST"], name="verify_support_post"),
    Route("/verifica/no-lo-di", disown, methods=["POST"], name="verify_support_disown"),
]
