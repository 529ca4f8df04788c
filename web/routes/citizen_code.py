"""Generar código: a photo of the credential's back (decoded by the server), the CIC shown to confirm, then a
24-hour activation code shown once and mailed. The CIC is never typed here: when the bottom lines cannot be read
the citizen is asked for a sharper photo or sent to an auxiliary or the OPL, where a person sees the card. A
credential bound to another account can be claimed from the confirmation page (registry.codes, .claims)."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from capture.result import BackReading, Reason
from registry.citizen import (
    ReadingSummary,
    generate_code,
    reading_summary,
    record_back_reading,
)
from registry.codes import IssueRefusal, display_code
from registry.intake.refusals import Refusal, Refused
from web.body_limit import accepts_photos
from web.decoding import advice
from web.fields import checked, read_form, upload_bytes
from web.i18n import gettext as _
from web.image_work import image_work
from web.middleware import allow_webassembly
from web.ratelimit import CREDENTIAL, DECODE, DECODE_IP, limit_reached, rate_limited
from web.routes.citizen_flow import (
    Flow,
    carry_code,
    flow_token,
    issue_refusal_message,
    local_today,
    read_flow,
    recall_new_code,
    redirect_to,
    remember_new_code,
    render,
    sign_flow,
)
from web.routes.citizen_mail import code_mail, public_link
from web.security import requires
from web.services import call_reader, call_service, mail_delivery, now
from web.state import services

PHOTO_PAGE = "citizen/code_photo.html"
UNREAD_PAGE = "citizen/code_unread.html"
CONFIRM_PAGE = "citizen/code_confirm.html"


@requires(Permission.CITIZEN_CODE_CREATE)
async def photo_page(request: Request) -> Response:
    return _photo_page(request, {})


@accepts_photos(1)
@requires(Permission.CITIZEN_CODE_CREATE)
@rate_limited(DECODE_IP, DECODE)
@image_work
async def photo_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    data = await upload_bytes(request, form, "reverso")
    if data is None:
        return _photo_error(request, _("Toma o elige una foto del reverso de tu credencial."))
    decoded = await services(request).decoder.read_back(data, today=local_today(request))
    try:
        summary = await call_service(request, record_back_reading, store=services(request).image_store,
                                     decoded=decoded, today=local_today(request))
    except Refused as refused:
        return _not_kept(request, refused, decoded.reading)
    flow = Flow(account_id=request.state.principal.account_id, reading_id=summary.reading_id)
    return redirect_to(request, "citizen_code_confirm", flow)


def _not_kept(request: Request, refused: Refused, reading: BackReading) -> Response:
    """Nothing was kept. Only a card whose QR was read but whose bottom lines were not gets the page that sends
    the citizen to an auxiliary or the OPL (no typed CIC here); any other photo is simply taken again."""
    if refused.code is Refusal.UNREADABLE and reading.qr_ok:
        return _unread(request, advice(reading.reason or Reason.MRZ_UNREADABLE))
    return _photo_error(request, advice(reading.reason or Reason.QR_UNREADABLE))


def _photo_error(request: Request, message: str) -> Response:
    return _photo_page(request, {"photo_error": message}, status_code=400)


def _photo_page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    allow_webassembly(request.scope)  # the live scan (static/js/live-scan.js) reads the QR with zxing-wasm
    return render(request, PHOTO_PAGE, context, status_code=status_code)


async def _pending(request: Request, form: FormData | None = None) -> tuple[Flow, ReadingSummary] | None:
    flow = read_flow(request, flow_token(request, form))
    if flow is None or flow.reading_id is None:
        return None
    summary = await call_reader(request, reading_summary, reading_id=flow.reading_id)
    return (flow, summary) if summary is not None else None


def _start_again(request: Request) -> Response:
    return _photo_page(request, {"photo_error": _("Empecemos de nuevo: toma la foto del reverso otra vez.")},
                       status_code=400)


def _unread(request: Request, message: str | None = None, status_code: int = 400) -> Response:
    return render(request, UNREAD_PAGE, {"photo_error": message}, status_code=status_code)


@requires(Permission.CITIZEN_CODE_CREATE)
async def typed_gone(request: Request) -> Response:
    """Where the typed CIC used to be sent (an old tab, a bookmark): typed identifiers get no code any more."""
    return _unread(request, status_code=400 if request.method == "POST" else 200)


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
    too_many = await limit_reached(request, CREDENTIAL, summary.cic) if summary.cic else None
    if too_many is not None:
        return too_many
    claim = form.get("accion") == "reclamar"
    if claim and not checked(form, "es_mia"):
        message = _("Marca la casilla para declarar que esta credencial es tuya.")
        return _confirm_again(request, flow, summary, claimable=True, claim_error=message)
    result = await call_service(request, generate_code, account_id=flow.account_id, reading_id=flow.reading_id,
                                secret_key=services(request).settings.secret_key, now=now(request),
                                compose=partial(code_mail, support_link=public_link(request, "citizen_support")),
                                claim=claim, notice=_claim_notice)
    if result.issued is None:
        assert result.refusal is not None
        return _confirm_again(request, flow, summary, confirm_error=issue_refusal_message(result.refusal),
                              claimable=result.refusal is IssueRefusal.CREDENTIAL_TAKEN)
    response = redirect_to(request, "citizen_code_ready")
    remember_new_code(request, response, result.issued)
    response.background = mail_delivery(request)
    return response


def _confirm_again(request: Request, flow: Flow, summary: ReadingSummary, **extra: Any) -> Response:
    return render(request, CONFIRM_PAGE, _confirm_context(request, flow, summary, **extra), status_code=400)


def _claim_notice() -> tuple[str, str]:
    """To the account a claim took the credential from: no CIC, nothing about the claimant."""
    subject = _("Una credencial de tu cuenta de Registro Ciudadano fue reclamada")
    body = _("Desde otra cuenta, alguien mostró con una foto legible del reverso que la credencial para votar que "
             "registraste con tu cuenta de Registro Ciudadano es suya, y la reclamó. Tu cuenta ya no puede generar "
             "códigos con esa credencial, y los apoyos que diste con ella pasan a revisión de la mesa de control "
             "del OPL.\n\nSi la credencial es tuya, genera un código nuevo con una foto de su reverso o acude a "
             "tu OPL para aclararlo.")
    return subject, body


@requires(Permission.CITIZEN_CODE_CREATE)
async def ready_page(request: Request) -> Response:
    shown = recall_new_code(request)
    # The same person going on at once gets the code carried over (a signed reference, never the code itself).
    context = {"code": display_code(shown.code), "expires_at": shown.expires_at,
               "carried": carry_code(request, shown.code_id)} if shown else {}
    return render(request, "citizen/code_ready.html", context)


routes = [
    Route("/ciudadano/codigo", photo_page, methods=["GET"], name="citizen_code"),
    Route("/ciudadano/codigo", photo_sent, methods=["POST"], name="citizen_code_post"),
    Route("/ciudadano/codigo/datos", typed_gone, methods=["GET", "POST"], name="citizen_code_typed"),
    Route("/ciudadano/codigo/confirmar", confirm_page, methods=["GET"], name="citizen_code_confirm"),
    Route("/ciudadano/codigo/confirmar", confirm_sent, methods=["POST"], name="citizen_code_confirm_post"),
    Route("/ciudadano/codigo/listo", ready_page, methods=["GET"], name="citizen_code_ready"),
]
