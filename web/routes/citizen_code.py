"""Generar código: a photo of the credential's back (decoded by the server), the CIC shown to confirm (or typed
when only the bottom lines failed), then a 24-hour activation code shown once and mailed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from capture.identifiers import IdentifierError, InvalidIdentifier, parse_cic, parse_mrz_line1
from capture.intake import IntakeError
from capture.result import BackReading, Reason
from core.clock import to_local
from registry.citizen import (
    ReadingSummary,
    complete_with_cic,
    complete_with_mrz_line,
    generate_code,
    reading_summary,
    record_back_reading,
)
from registry.codes import display_code
from web.decoding import advice
from web.i18n import gettext as _
from web.routes.citizen_flow import (
    Flow,
    flow_token,
    issue_refusal_message,
    local_today,
    read_flow,
    read_form,
    recall_new_code,
    redirect_to,
    remember_new_code,
    render,
    sign_flow,
    text_field,
    upload_bytes,
)
from web.security import requires
from web.services import call_service, mail_delivery, now

PHOTO_PAGE = "citizen/code_photo.html"
TYPED_PAGE = "citizen/code_typed.html"
CONFIRM_PAGE = "citizen/code_confirm.html"


@requires(Permission.CITIZEN_CODE_CREATE)
async def photo_page(request: Request) -> Response:
    return render(request, PHOTO_PAGE, {})


@requires(Permission.CITIZEN_CODE_CREATE)
async def photo_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    data = await upload_bytes(request, form, "reverso")
    if data is None:
        return _photo_error(request, _("Toma o elige una foto del reverso de tu credencial."))
    reading = await request.app.state.decoder.read_back(data, today=local_today(request))
    if not reading.qr_ok or reading.expired:
        return _photo_error(request, advice(reading.reason or Reason.QR_UNREADABLE))
    try:
        summary = await _keep_reading(request, data, reading)
    except IntakeError as error:
        return _photo_error(request, advice(error.reason))
    flow = Flow(account_id=request.state.principal.account_id, reading_id=summary.reading_id)
    return redirect_to(request, "citizen_code_confirm" if summary.cic else "citizen_code_typed", flow)


async def _keep_reading(request: Request, data: bytes, reading: BackReading) -> ReadingSummary:
    settings = request.app.state.settings
    return await call_service(request, record_back_reading, store=request.app.state.image_store, data=data,
                              reading=reading, max_bytes=settings.upload_max_bytes,
                              max_pixels=settings.upload_max_pixels)


def _photo_error(request: Request, message: str) -> Response:
    return render(request, PHOTO_PAGE, {"photo_error": message}, status_code=400)


async def _pending(request: Request, form: FormData | None = None) -> tuple[Flow, ReadingSummary] | None:
    flow = read_flow(request, flow_token(request, form))
    if flow is None or flow.reading_id is None:
        return None
    summary = await call_service(request, reading_summary, reading_id=flow.reading_id)
    return (flow, summary) if summary is not None else None


def _start_again(request: Request) -> Response:
    return render(request, PHOTO_PAGE, {"photo_error": _("Empecemos de nuevo: toma la foto del reverso otra vez.")},
                  status_code=400)


@requires(Permission.CITIZEN_CODE_CREATE)
async def typed_page(request: Request) -> Response:
    pending = await _pending(request)
    if pending is None:
        return _start_again(request)
    return render(request, TYPED_PAGE, {"flujo": sign_flow(request, pending[0])})


@requires(Permission.CITIZEN_CODE_CREATE)
async def typed_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    pending = await _pending(request, form)
    if pending is None:
        return _start_again(request)
    flow, _summary = pending
    line, cic = text_field(form, "linea_mrz", 60), text_field(form, "cic", 30)
    errors = _typed_errors(line, cic)
    if errors:
        context = {"flujo": sign_flow(request, flow), "linea_mrz": line, "cic": cic, **errors}
        return render(request, TYPED_PAGE, context, status_code=400)
    if line:
        await call_service(request, complete_with_mrz_line, reading_id=flow.reading_id, line=parse_mrz_line1(line))
    else:
        await call_service(request, complete_with_cic, reading_id=flow.reading_id, cic=parse_cic(cic))
    return redirect_to(request, "citizen_code_confirm", flow)


def _typed_errors(line: str, cic: str) -> dict[str, str]:
    if not line and not cic:
        return {"form_error": _("Escribe la primera línea de abajo o el CIC con su dígito verificador.")}
    if line:
        try:
            parse_mrz_line1(line)
        except InvalidIdentifier as error:
            return {"line_error": _identifier_message(error.code, mrz=True)}
        return {}
    digits = "".join(cic.split())
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        return {"cic_error": _("El CIC con su dígito verificador son 10 dígitos: los 10 que siguen a IDMEX.")}
    try:
        parse_cic(digits)
    except InvalidIdentifier as error:
        return {"cic_error": _identifier_message(error.code, mrz=False)}
    return {}


def _identifier_message(code: IdentifierError, *, mrz: bool) -> str:
    if code is IdentifierError.BAD_CHECK_DIGIT:
        return _("Algún dígito no coincide con el dígito verificador. Revisa lo que escribiste.")
    if mrz:
        return _("La primera línea tiene 30 caracteres: IDMEX, 10 dígitos, << y 13 dígitos.")
    return _("El CIC con su dígito verificador son 10 dígitos: los 10 que siguen a IDMEX.")


@requires(Permission.CITIZEN_CODE_CREATE)
async def confirm_page(request: Request) -> Response:
    pending = await _pending(request)
    if pending is None or pending[1].cic is None:
        return _start_again(request)
    return render(request, CONFIRM_PAGE, _confirm_context(request, *pending))


def _confirm_context(request: Request, flow: Flow, summary: ReadingSummary, **extra: Any) -> dict[str, Any]:
    return {"flujo": sign_flow(request, flow), "reading": summary, **extra}


@requires(Permission.CITIZEN_CODE_CREATE)
async def confirm_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    pending = await _pending(request, form)
    if pending is None or pending[0].reading_id is None:
        return _start_again(request)
    flow, summary = pending
    result = await call_service(request, generate_code, account_id=flow.account_id, reading_id=flow.reading_id,
                                secret_key=request.app.state.settings.secret_key, now=now(request),
                                compose=_code_mail)
    if result.issued is None:
        assert result.refusal is not None
        context = _confirm_context(request, flow, summary, confirm_error=issue_refusal_message(result.refusal))
        return render(request, CONFIRM_PAGE, context, status_code=400)
    response = redirect_to(request, "citizen_code_ready")
    remember_new_code(request, response, result.issued.code, result.issued.expires_at)
    response.background = mail_delivery(request)
    return response


def _code_mail(code: str, expires_at: datetime) -> tuple[str, str]:
    until = to_local(expires_at).strftime("%d/%m/%Y %H:%M")
    subject = _("Tu código de activación de Registro Ciudadano")
    body = _("Tu código de activación es: %(code)s\n\nSirve una sola vez, hasta el %(until)s (hora del centro de "
             "México). Escríbelo en «Dar mi apoyo» con la misma cuenta con la que lo pediste.\n\nSi tú no lo "
             "pediste, ignora este mensaje.") % {"code": code, "until": until}
    return subject, body


@requires(Permission.CITIZEN_CODE_CREATE)
async def ready_page(request: Request) -> Response:
    recalled = recall_new_code(request)
    context = {"code": display_code(recalled[0]), "expires_at": recalled[1]} if recalled else {}
    return render(request, "citizen/code_ready.html", context)


routes = [
    Route("/ciudadano/codigo", photo_page, methods=["GET"], name="citizen_code"),
    Route("/ciudadano/codigo", photo_sent, methods=["POST"], name="citizen_code_post"),
    Route("/ciudadano/codigo/datos", typed_page, methods=["GET"], name="citizen_code_typed"),
    Route("/ciudadano/codigo/datos", typed_sent, methods=["POST"], name="citizen_code_typed_post"),
    Route("/ciudadano/codigo/confirmar", confirm_page, methods=["GET"], name="citizen_code_confirm"),
    Route("/ciudadano/codigo/confirmar", confirm_sent, methods=["POST"], name="citizen_code_confirm_post"),
    Route("/ciudadano/codigo/listo", ready_page, methods=["GET"], name="citizen_code_ready"),
]
