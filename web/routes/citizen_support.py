"""Dar mi apoyo: the code → the aspirant → front photo and live photo → signature (or its accessible
alternative) → the statement of will → one call to the support service. Each step is a form that redirects to
the next step's page; a mistake re-renders the same step with the message and keeps what was already stored."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from capture.result import Reason
from registry.citizen import (
    AcknowledgementNeeded,
    AspirantChoice,
    Confirmation,
    SupportDraft,
    aspirant_choices,
    check_draft_code,
    checked_confirmation,
    confirmation,
    give_support,
    open_aspirants,
)
from registry.codes import CodeOutcome, CodeRefused, check_code
from registry.images import CleanImage
from registry.intake.photos import store_photos
from registry.intake.refusals import Refusal, Refused
from registry.states import ImageKind, SignatureMethod
from web.body_limit import accepts_photos
from web.decoding import advice
from web.fields import (
    CARRY_REF_CHARS,
    CODE_CHARS,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_CHARS,
    checked,
    read_form,
    row_id,
    signature_data_url,
    text,
    upload_bytes,
)
from web.i18n import gettext as _
from web.image_work import clean_upload, image_work
from web.refusals import Audience, refusal_message
from web.routes.citizen_flow import (
    Flow,
    carried_code,
    code_outcome_message,
    flow_token,
    read_flow,
    redirect_to,
    render,
    sign_flow,
)
from web.routes.citizen_mail import public_link, receipt_mail
from web.security import requires
from web.services import call_reader, call_service, mail_delivery, now
from web.state import services

CODE_PAGE = "citizen/support_code.html"


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def code_page(request: Request) -> Response:
    return render(request, CODE_PAGE, {})


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def code_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    typed = text(form, "codigo", CODE_CHARS)
    if not typed:
        return render(request, CODE_PAGE, {"code_error": _("Escribe tu código de activación.")}, status_code=400)
    account_id = request.state.principal.account_id
    check = await call_service(request, check_code, account_id=account_id, code=typed,
                               secret_key=services(request).settings.secret_key, now=now(request))
    if check.outcome is not CodeOutcome.VALID:
        message = code_outcome_message(check.outcome, check.attempts_left)
        return render(request, CODE_PAGE, {"code_error": message, "codigo": typed}, status_code=400)
    return redirect_to(request, "citizen_support_aspirant", Flow(account_id=account_id, code_id=check.code_id))


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def continue_sent(request: Request) -> Response:
    """"Dar mi apoyo ahora" under a code just shown: the same account in the same session goes on without
    retyping it; the aspirant step checks that the code still works."""
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    code_id = carried_code(request, text(form, "codigo_ref", CARRY_REF_CHARS))
    if code_id is None:
        message = _("Escribe el código de activación que te mostramos y enviamos a tu correo.")
        return render(request, CODE_PAGE, {"code_error": message}, 400)
    return redirect_to(request, "citizen_support_aspirant", Flow(account_id=request.state.principal.account_id,
                                                                   code_id=code_id))


async def _flow(request: Request, form: FormData | None = None, *, needs: tuple[str, ...] = (),
                checked: bool = True) -> Flow | Response:
    """The step state if it is genuine and its code still works; otherwise the page that says why. `checked=False`
    for a step that checks the code itself, in the same transaction as its own look-ups."""
    flow = read_flow(request, flow_token(request, form))
    if flow is None or flow.code_id is None or any(getattr(flow, name) is None for name in needs):
        return render(request, CODE_PAGE, {"code_error": _("Empecemos de nuevo: escribe tu código.")}, 400)
    if not checked:
        return flow
    try:
        await call_reader(request, check_draft_code, account_id=flow.account_id, code_id=flow.code_id,
                           now=now(request))
    except CodeRefused as refused:
        return _code_refused(request, refused)
    return flow


def _code_refused(request: Request, refused: CodeRefused) -> Response:
    return render(request, CODE_PAGE, {"code_error": code_outcome_message(refused.outcome)}, 400)


async def _posted_flow(request: Request, *, needs: tuple[str, ...] = (),
                       checked: bool = True) -> tuple[FormData, Flow] | Response:
    """A step's POST: the parsed form and its genuine step state, or the page that says what went wrong."""
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    flow = await _flow(request, form, needs=needs, checked=checked)
    return flow if isinstance(flow, Response) else (form, flow)


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def aspirant_page(request: Request) -> Response:
    flow = await _flow(request, checked=False)
    if isinstance(flow, Response):
        return flow
    return await _aspirant_checked(request, flow)


async def _aspirant_checked(request: Request, flow: Flow, error: str | None = None) -> Response:
    """The aspirant step with the code checked in the same transaction as the list (the page that says why the
    code stopped working, otherwise)."""
    assert flow.code_id is not None
    try:
        choices = await call_reader(request, aspirant_choices, account_id=flow.account_id, code_id=flow.code_id,
                                    now=now(request))
    except CodeRefused as refused:
        return _code_refused(request, refused)
    return _aspirant_page(request, flow, choices, error)


async def _aspirant_render(request: Request, flow: Flow, error: str | None = None) -> Response:
    choices = await call_reader(request, open_aspirants, now=now(request))
    return _aspirant_page(request, flow, choices, error)


def _aspirant_page(request: Request, flow: Flow, choices: list[AspirantChoice], error: str | None) -> Response:
    context = {"flujo": sign_flow(request, flow), "choices": choices, "aspirant_error": error,
               "chosen": flow.aspirant_id}
    return render(request, "citizen/support_aspirant.html", context, 400 if error else 200)


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def aspirant_sent(request: Request) -> Response:
    posted = await _posted_flow(request, checked=False)
    if isinstance(posted, Response):
        return posted
    form, flow = posted
    chosen = row_id(form, "aspirante")
    if chosen is None:
        return await _aspirant_checked(request, flow, _("Elige a quién quieres apoyar."))
    flow = flow.but(aspirant_id=chosen)
    try:
        seen = await call_reader(request, checked_confirmation, account_id=flow.account_id, code_id=flow.code_id,
                                  aspirant_id=flow.aspirant_id, now=now(request))
    except CodeRefused as refused:
        return _code_refused(request, refused)
    except Refused as refused:
        return await _aspirant_render(request, flow.but(aspirant_id=None), refusal_message(refused, Audience.CITIZEN))
    if seen.conflict.already_supported:
        return await _aspirant_render(request, flow, refusal_message(Refusal.ALREADY_SUPPORTED, Audience.CITIZEN))
    return redirect_to(request, "citizen_support_photos", flow)


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def photos_page(request: Request) -> Response:
    flow = await _flow(request, needs=("aspirant_id",))
    if isinstance(flow, Response):
        return flow
    return _photos_render(request, flow, {})


def _photos_render(request: Request, flow: Flow, errors: dict[str, str]) -> Response:
    context = {"flujo": sign_flow(request, flow), "flow": flow, **errors}
    return render(request, "citizen/support_photos.html", context, 400 if errors else 200)


@accepts_photos(2)
@requires(Permission.CITIZEN_SUPPORT_CREATE)
@image_work
async def photos_sent(request: Request) -> Response:
    posted = await _posted_flow(request, needs=("aspirant_id",))
    if isinstance(posted, Response):
        return posted
    form, flow = posted
    errors: dict[str, str] = {}
    front, error = await _cleaned(request, form, "frente", ImageKind.FRONT, flow.front_image_id)
    errors |= {"front_error": error} if error else {}
    live, error = await _cleaned(request, form, "foto_viva", ImageKind.LIVE_PHOTO, flow.live_photo_id)
    errors |= {"live_error": error} if error else {}
    # Both new photos in one transaction (one each before): what was stored stays in the form.
    new = {kind: clean for kind, clean in ((ImageKind.FRONT, front), (ImageKind.LIVE_PHOTO, live))
           if isinstance(clean, CleanImage)}
    ids = await call_service(request, store_photos, store=services(request).image_store, images=new) if new else {}
    flow = flow.but(front_image_id=ids.get(ImageKind.FRONT, front if isinstance(front, int) else None),
                    live_photo_id=ids.get(ImageKind.LIVE_PHOTO, live if isinstance(live, int) else None))
    if errors:
        return _photos_render(request, flow, errors)  # what was stored stays in the form: nothing to redo
    return redirect_to(request, "citizen_support_signature", flow)


async def _cleaned(request: Request, form: FormData, field: str, kind: ImageKind,
                   kept: int | None) -> tuple[CleanImage | int | None, str | None]:
    """(a new upload cleaned for the store, or else the image id kept from an earlier try; error): a new upload
    replaces the one kept."""
    data = await upload_bytes(request, form, field)
    if data is None:
        return kept, None if kept else _missing_photo(kind)
    try:
        return await clean_upload(request, data, kind), None
    except Refused as refused:
        return kept, advice(refused.reason or Reason.NOT_AN_IMAGE)


def _missing_photo(kind: ImageKind) -> str:
    if kind is ImageKind.FRONT:
        return _("Toma o elige una foto del frente de tu credencial.")
    if kind is ImageKind.LIVE_PHOTO:
        return _("Tómate una foto en este momento (una selfie).")
    return _("Firma en el recuadro o sube una foto de tu firma.")


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def signature_page(request: Request) -> Response:
    flow = await _flow(request, needs=("aspirant_id", "front_image_id", "live_photo_id"))
    if isinstance(flow, Response):
        return flow
    return render(request, "citizen/support_signature.html", {"flujo": sign_flow(request, flow)})


@accepts_photos(2)  # a file, or the drawing as a data URL (a third bigger than its PNG)
@requires(Permission.CITIZEN_SUPPORT_CREATE)
@image_work
async def signature_sent(request: Request) -> Response:
    posted = await _posted_flow(request, needs=("aspirant_id", "front_image_id", "live_photo_id"))
    if isinstance(posted, Response):
        return posted
    form, flow = posted
    if checked(form, "alternativa"):
        flow = flow.but(signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE.value, signature_image_id=None)
        return redirect_to(request, "citizen_support_confirm", flow)
    data = await upload_bytes(request, form, "firma") or signature_data_url(form)
    image_id, error = await _signature(request, data)
    if error:
        context = {"flujo": sign_flow(request, flow), "signature_error": error}
        return render(request, "citizen/support_signature.html", context, 400)
    flow = flow.but(signature_method=SignatureMethod.DRAWN.value, signature_image_id=image_id)
    return redirect_to(request, "citizen_support_confirm", flow)


async def _signature(request: Request, data: bytes | None) -> tuple[int | None, str | None]:
    if data is None:
        return None, _("Firma en el recuadro, sube una foto de tu firma o marca la alternativa sin firma.")
    try:
        clean = await clean_upload(request, data, ImageKind.SIGNATURE)
    except Refused as refused:
        return None, advice(refused.reason or Reason.NOT_AN_IMAGE)
    ids = await call_service(request, store_photos, store=services(request).image_store,
                             images={ImageKind.SIGNATURE: clean})
    return ids[ImageKind.SIGNATURE], None


CONFIRM_NEEDS = ("aspirant_id", "front_image_id", "live_photo_id", "signature_method")


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def confirm_page(request: Request) -> Response:
    flow = await _flow(request, needs=CONFIRM_NEEDS, checked=False)
    if isinstance(flow, Response):
        return flow
    # The key is made when the form is shown: a double tap or a resent form carries it again.
    # The code is checked in the confirmation's own transaction.
    return await _confirm(request, flow, checked_confirmation, secrets.token_urlsafe(24), 200, {})


async def _confirm_render(request: Request, flow: Flow, *, key: str, status_code: int = 200,
                          **extra: Any) -> Response:
    return await _confirm(request, flow, confirmation, key, status_code, extra)


async def _confirm(request: Request, flow: Flow, reader: Callable[..., Confirmation], key: str, status_code: int,
                   extra: dict[str, Any]) -> Response:
    try:
        seen = await call_reader(request, reader, account_id=flow.account_id, code_id=flow.code_id,
                                 aspirant_id=flow.aspirant_id, now=now(request))
    except CodeRefused as refused:
        return _code_refused(request, refused)
    except Refused as refused:
        return await _aspirant_render(request, flow.but(aspirant_id=None), refusal_message(refused, Audience.CITIZEN))
    context = {"flujo": sign_flow(request, flow), "flow": flow, "choice": seen.choice, "conflict": seen.conflict,
               "idempotency_key": key, **extra}
    if seen.conflict.already_supported:
        context["confirm_error"] = refusal_message(Refusal.ALREADY_SUPPORTED, Audience.CITIZEN)
        status_code = 400
    return render(request, "citizen/support_confirm.html", context, status_code)


@requires(Permission.CITIZEN_SUPPORT_CREATE)
async def confirm_sent(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    key = text(form, "clave_idempotencia", IDEMPOTENCY_KEY_CHARS)
    flow = read_flow(request, flow_token(request, form))
    if flow is None or not IDEMPOTENCY_KEY.fullmatch(key) or any(getattr(flow, n) is None for n in CONFIRM_NEEDS):
        return render(request, CODE_PAGE, {"code_error": _("Empecemos de nuevo: escribe tu código.")}, 400)
    errors = _statement_errors(form)
    if errors:
        return await _confirm_render(request, flow, key=key, status_code=400, **errors)
    return await _submit(request, flow, key, acknowledged=checked(form, "entiendo_primero"))


def _statement_errors(form: FormData) -> dict[str, str]:
    errors = {}
    if not checked(form, "manifiesto"):
        errors["statement_error"] = _("Para dar tu apoyo marca la casilla de tu manifestación de voluntad.")
    if not checked(form, "privacidad"):
        errors["privacy_error"] = _("Para dar tu apoyo marca que leíste el aviso de privacidad.")
    return errors


async def _submit(request: Request, flow: Flow, key: str, *, acknowledged: bool) -> Response:
    try:
        receipt = await call_service(request, give_support, account_id=flow.account_id, draft=_draft(flow),
                                     idempotency_key=key, acknowledged_other_office=acknowledged, now=now(request),
                                     compose_receipt=partial(receipt_mail,
                                                             supports_link=public_link(request, "citizen_supports")))
    except (AcknowledgementNeeded, Refused, CodeRefused) as refused:
        return await _not_given(request, flow, key, refused)
    response = RedirectResponse(str(request.app.url_path_for("citizen_receipt", folio=receipt.folio)), status_code=303)
    response.background = mail_delivery(request)  # the receipt e-mail leaves once the support is committed
    return response


def _draft(flow: Flow) -> SupportDraft:
    assert flow.code_id is not None and flow.aspirant_id is not None and flow.signature_method is not None
    return SupportDraft(code_id=flow.code_id, aspirant_id=flow.aspirant_id, front_image_id=flow.front_image_id,
                        live_photo_id=flow.live_photo_id, signature_image_id=flow.signature_image_id,
                        signature_method=SignatureMethod(flow.signature_method))


async def _not_given(request: Request, flow: Flow, key: str,
                     refused: AcknowledgementNeeded | Refused | CodeRefused) -> Response:
    if isinstance(refused, CodeRefused):
        return _code_refused(request, refused)
    if isinstance(refused, AcknowledgementNeeded):
        message = _("Marca que entiendes que solo cuenta tu primer apoyo para este cargo, o elige a otra persona.")
        return await _confirm_render(request, flow, key=key, status_code=400, acknowledge_error=message)
    return await _confirm_render(request, flow, key=key, status_code=400,
                                 confirm_error=refusal_message(refused, Audience.CITIZEN))


routes = [
    Route("/ciudadano/apoyo", code_page, methods=["GET"], name="citizen_support"),
    Route("/ciudadano/apoyo", code_sent, methods=["POST"], name="citizen_support_post"),
    Route("/ciudadano/apoyo/continuar", continue_sent, methods=["POST"], name="citizen_support_continue"),
    Route("/ciudadano/apoyo/aspirante", aspirant_page, methods=["GET"], name="citizen_support_aspirant"),
    Route("/ciudadano/apoyo/aspirante", aspirant_sent, methods=["POST"], name="citizen_support_aspirant_post"),
    Route("/ciudadano/apoyo/fotos", photos_page, methods=["GET"], name="citizen_support_photos"),
    Route("/ciudadano/apoyo/fotos", photos_sent, methods=["POST"], name="citizen_support_photos_post"),
    Route("/ciudadano/apoyo/firma", signature_page, methods=["GET"], name="citizen_support_signature"),
    Route("/ciudadano/apoyo/firma", signature_sent, methods=["POST"], name="citizen_support_signature_post"),
    Route("/ciudadano/apoyo/confirmar", confirm_page, methods=["GET"], name="citizen_support_confirm"),
    Route("/ciudadano/apoyo/confirmar", confirm_sent, methods=["POST"], name="citizen_support_confirm_post"),
]
