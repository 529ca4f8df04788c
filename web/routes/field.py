"""Routes for the field audience (auxiliaries): home with their teams and their own captures, the capture form
(an offline queue when JavaScript runs, two online steps when it does not), accepting an invitation, and the
service worker that keeps the capture page working with no signal."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from capture.result import Reason
from registry.field import (
    memberships,
    own_captures,
    require_complete,
)
from registry.field_batch import CaptureImages, FieldCapture
from registry.field_online import Draft, start_draft, submit_draft
from registry.intake.credential import TypedIdentifiers
from registry.intake.drafts import DRAFT_SECONDS, DraftSeal
from registry.intake.refusals import Refusal, Refused
from registry.states import ImageKind, SignatureMethod
from registry.team import TeamError, TeamRefused, accept_invitation, preview_invitation
from web.body_limit import accepts_photos
from web.decoding import advice
from web.fields import checked, read_form, row_id, signature_data_url, token, typed_identifiers, upload_bytes
from web.i18n import gettext as _
from web.image_work import image_work
from web.middleware import allow_webassembly
from web.ratelimit import DECODE, DECODE_IP, rate_limited
from web.refusals import Audience, identifier_message, missing_message, refusal_message
from web.routes import field_api
from web.routes.citizen_flow import (
    local_today,
    render,
    sealed_cookie,
    set_sealed_cookie,
)
from web.security import login_first, login_then, public, requires
from web.services import accept_invitation_link, call_reader, call_service, now
from web.state import services

SERVICE_WORKER = Path(__file__).resolve().parents[2] / "static" / "sw.js"
DRAFT_COOKIE = "registro_borrador"


@requires(Permission.FIELD_HOME_VIEW)
async def home(request: Request) -> Response:
    account_id = request.state.principal.account_id
    teams = await call_reader(request, memberships, account_id=account_id)
    captures = await call_reader(request, own_captures, account_id=account_id, limit=50)
    welcome = [{"level": "ok", "text": _("¡Listo! Ya eres auxiliar de este equipo.")}] \
        if request.query_params.get("bienvenida") else []
    return render(request, "field/home.html", {"teams": teams, "captures": captures, "messages": welcome})


# ---------------------------------------------------------------- the capture form


@requires(Permission.FIELD_SUPPORT_CREATE)
async def capture_page(request: Request) -> Response:
    return await _capture_form(request, {})


async def _capture_form(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    teams = await call_reader(request, memberships, account_id=request.state.principal.account_id)
    base = {"teams": [team for team in teams if team.can_capture], "suspended": [t for t in teams if not t.can_capture],
            "field_errors": {}, "typed": TypedIdentifiers(), "account_id": request.state.principal.account_id}
    allow_webassembly(request.scope)  # the live scan (static/js/live-scan.js) reads the QR with zxing-wasm
    return render(request, "field/capture.html", {**base, **context}, status_code=status_code)


@accepts_photos(5)  # four photos, and the drawn signature as a data URL when the file input could not be filled
@requires(Permission.FIELD_SUPPORT_CREATE)
@rate_limited(DECODE_IP, DECODE)
@image_work
async def capture_post(request: Request) -> Response:
    """Step 1 without JavaScript: store the photos, read the back, show what was read for confirmation."""
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    capture = await _capture_from_form(request, form)
    errors = _step_one_errors(capture, form)
    if errors:
        return await _capture_form(request, {"field_errors": errors, "typed": capture.typed,
                                             "errors": [_("Revisa los datos marcados.")]}, 400)
    try:
        draft, reason = await run_in_threadpool(start_draft, field_api.batch_context(request), capture)
    except Refused as refused:
        return await _step_one_refused(request, capture, refused)
    return _to_review(request, draft, capture.typed or TypedIdentifiers(), reason)


async def _step_one_refused(request: Request, capture: FieldCapture, refused: Refused) -> Response:
    """The back photo's own problems (unusable file, expired credential) are shown next to it; anything else
    (the window, the team, another photo) on the form."""
    message = refusal_message(refused, Audience.FIELD)
    if refused.code is Refusal.CREDENTIAL_EXPIRED or refused.photo is ImageKind.BACK:
        return await _capture_form(request, {"field_errors": {"reverso": message}, "typed": capture.typed}, 400)
    return await _refused_page(request, refused)


async def _capture_from_form(request: Request, form: FormData) -> FieldCapture:
    signature = await upload_bytes(request, form, "firma") or signature_data_url(form)
    images = CaptureImages(back=await upload_bytes(request, form, "reverso"),
                           front=await upload_bytes(request, form, "frente"),
                           live_photo=await upload_bytes(request, form, "foto_viva"), signature=signature)
    return FieldCapture(index=0, client_key=uuid.uuid4().hex, aspirant_id=row_id(form, "aspirante") or 0,
                        captured_at=now(request), images=images, typed=typed_identifiers(form),
                        signature_method=_signature_method(form))


def _signature_method(form: FormData) -> SignatureMethod:
    return SignatureMethod.ACCESSIBLE_ALTERNATIVE if checked(form, "alternativa") else SignatureMethod.DRAWN


_PART_FIELDS = {ImageKind.BACK: "reverso", ImageKind.FRONT: "frente", ImageKind.LIVE_PHOTO: "foto_viva",
                ImageKind.SIGNATURE: "firma"}


def _step_one_errors(capture: FieldCapture, form: FormData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not capture.aspirant_id:
        errors["aspirante"] = _("Elige la candidatura.")
    if not checked(form, "manifestacion"):
        errors["manifestacion"] = _("La persona debe leer o escuchar la manifestación de voluntad y aceptarla.")
    try:
        require_complete(capture)
    except Refused as missing:
        for part in missing.missing:
            errors[_PART_FIELDS[part]] = missing_message((part,))
    return errors


def _to_review(request: Request, draft: Draft, typed: TypedIdentifiers, reason: Reason | None) -> Response:
    """Step 2 is a page of its own (GET), so a reload or a language switch keeps the draft: it waits in an
    encrypted cookie of the capture pages, never in the address (it holds the CIC)."""
    response = RedirectResponse(request.app.url_path_for("field_capture_review"), status_code=303)
    kept = {"cuenta": request.state.principal.account_id, "borrador": draft.to_json(), "typed": asdict(typed),
            "reason": reason.value if reason else None}
    set_sealed_cookie(request, response, DRAFT_COOKIE, kept, path="/campo/captura", max_age=DRAFT_SECONDS)
    return response


@requires(Permission.FIELD_SUPPORT_CREATE)
async def capture_review(request: Request) -> Response:
    kept = _kept_review(request)
    if kept is None:  # none kept, or already stored: a new capture
        return RedirectResponse(request.app.url_path_for("field_capture"), status_code=303)
    return _confirm_page(request, *kept, {})


def _kept_review(request: Request) -> tuple[Draft, TypedIdentifiers, Reason | None] | None:
    kept = sealed_cookie(request, DRAFT_COOKIE, max_age=DRAFT_SECONDS)
    if kept is None or kept.get("cuenta") != request.state.principal.account_id:
        return None
    try:
        reason = Reason(kept["reason"]) if kept["reason"] else None
        return Draft.from_json(kept["borrador"]), TypedIdentifiers(**kept["typed"]), reason
    except (KeyError, TypeError, ValueError):
        return None


def _confirm_page(request: Request, draft: Draft, typed: TypedIdentifiers, reason: Reason | None,
                  field_errors: dict[str, str], status_code: int = 200) -> Response:
    context = {"draft": draft, "token": seal_draft(request, draft), "typed": typed, "field_errors": field_errors,
               "advice": advice(reason) if reason and draft.reading is None else None,
               "errors": [_("Revisa los datos marcados.")] if field_errors else []}
    return render(request, "field/confirm.html", context, status_code=status_code)


@requires(Permission.FIELD_SUPPORT_CREATE)
async def capture_confirm(request: Request) -> Response:
    """Step 2: store the support from the server's reading, or from the typed identifiers (captura manual)."""
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    draft = _open(request, token(form, "borrador"))
    if draft is None:
        return await _capture_form(request, {"errors": [_("La captura tardó demasiado o no es válida. Captúrala de nuevo.")]}, 400)  # noqa: E501
    typed = typed_identifiers(form)
    try:
        receipt = await call_service(request, submit_draft, account_id=request.state.principal.account_id,
                                     draft=draft, typed=typed if draft.reading is None else None,
                                     today=local_today(request), now=now(request),
                                     rules=field_api.window_rules(request))
    except Refused as refused:
        return await _step_two_refused(request, draft, typed, refused)
    response = render(request, "field/receipt.html", {"receipt": receipt, "manual": draft.reading is None})
    response.delete_cookie(DRAFT_COOKIE, path="/campo/captura")
    return response


async def _step_two_refused(request: Request, draft: Draft, typed: TypedIdentifiers, refused: Refused) -> Response:
    """A typed identifier that fails is marked on the confirmation page; anything else ends this capture."""
    if refused.code is Refusal.INVALID_IDENTIFIER and refused.identifier is not None:
        errors = {refused.identifier: identifier_message(refused.identifier, refused.problem)}
        return _confirm_page(request, draft, typed, None, errors, 400)
    return await _refused_page(request, refused)


async def _refused_page(request: Request, refused: Refused) -> Response:
    return await _capture_form(request, {"errors": [refusal_message(refused, Audience.FIELD)]}, 409)


def _drafts(request: Request) -> DraftSeal:
    return DraftSeal(services(request).settings.secret_key, "campo")


def seal_draft(request: Request, draft: Draft) -> str:
    return _drafts(request).seal(request.state.principal.account_id, draft.to_json())


def _open(request: Request, token: str | None) -> Draft | None:
    """The draft, if it is genuine, recent and this account's."""
    sealed = _drafts(request).open(request.state.principal.account_id, token)
    if sealed is None:
        return None
    try:
        return Draft.from_json(sealed)
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- invitations


@public
async def invitation_page(request: Request) -> Response:
    """Anyone with the link sees whose team it is; accepting needs the invited address (signed in)."""
    token = request.path_params["token"]
    try:
        preview = await call_reader(request, preview_invitation, token=token,
                                     secret=services(request).settings.secret_key, now=now(request))
    except TeamRefused as refused:
        return render(request, "field/invitation.html", {"problem": invitation_problem(refused.error)}, 400)
    login = login_then(request, request.url.path)
    return render(request, "field/invitation.html", {"preview": preview, "token": token, "login_url": login})


@public
async def invitation_accept(request: Request) -> Response:
    if (login := login_first(request)) is not None:
        return login
    try:
        accepted = await accept_invitation_link(request, accept_invitation)
    except TeamRefused as refused:
        return render(request, "field/invitation.html", {"problem": invitation_problem(refused.error)}, 400)
    if isinstance(accepted, TeamError):  # a role conflict: refused, and recorded
        return render(request, "field/invitation.html", {"problem": invitation_problem(accepted)}, 403)
    return RedirectResponse(f"{request.app.url_path_for('field_home')}?bienvenida=1", status_code=303)


def invitation_problem(error: TeamError) -> str:
    return {
        TeamError.EXPIRED: _("Esta invitación venció. Pide a la persona aspirante que te la envíe de nuevo."),
        TeamError.ALREADY_USED: _("Esta invitación ya se aceptó. Entra a Captura en campo con tu cuenta."),
        TeamError.EMAIL_MISMATCH: _("Iniciaste sesión con un correo distinto al invitado. Cierra sesión y entra con la cuenta de Google o Facebook de ese correo."),  # noqa: E501
        TeamError.NOT_INVITED: _("Esta invitación ya no está vigente. Habla con la persona aspirante."),
        TeamError.ROLE_CONFLICT: _("No puedes aceptar esta invitación: tu cuenta tiene un cargo en la autoridad electoral o en la administración del sistema para este proceso, y quien revisa o administra no puede recabar apoyos para una persona aspirante. No se hizo ningún cambio; avísale a la persona aspirante."),  # noqa: E501
    }.get(error, _("Este enlace de invitación no es válido. Revisa que esté completo o pide uno nuevo."))


# ---------------------------------------------------------------- the service worker


@public
async def service_worker(request: Request) -> Response:
    """Served under /campo so it may control /campo pages; `no-cache` so a new version reaches phones."""
    return FileResponse(SERVICE_WORKER, media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/campo", "Cache-Control": "no-cache"})


routes = [
    Route("/campo", home, name="field_home"),
    Route("/campo/captura", capture_page, methods=["GET"], name="field_capture"),
    Route("/campo/captura", capture_post, methods=["POST"], name="field_capture_post"),
    Route("/campo/captura/confirmar", capture_review, methods=["GET"], name="field_capture_review"),
    Route("/campo/captura/confirmar", capture_confirm, methods=["POST"], name="field_capture_confirm"),
    Route("/campo/invitacion/{token:str}", invitation_page, methods=["GET"], name="field_invitation"),
    Route("/campo/invitacion/{token:str}", invitation_accept, methods=["POST"], name="field_invitation_accept"),
    Route("/campo/sw.js", service_worker, name="field_service_worker"),
    *field_api.routes,
]
