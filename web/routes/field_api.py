"""The field phones' API: the batch endpoint the offline queue syncs to, the session probe that hands the queue a
fresh CSRF token, and a read-only decode of a back photo (to show the CIC for confirmation while online).

CSRF for the queue: a page cached by the service worker may carry the token of a session that has since ended,
so the queue never relies on it. Right before each sync (which only happens online) it asks `GET
/api/campo/sesion` for the current session's token and account; a signed-out phone hears 401 and keeps its
items. The batch then goes with the session cookie and `X-CSRF-Token`, like every other state change here."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from capture.result import BackReading, Reason
from core.clock import to_local
from registry.field import BatchContext, memberships, process_batch
from registry.field_batch import MAX_BATCH_ITEMS, BatchMalformed, ItemAnswer, load_batch_json, parse_batch
from registry.field_window import WindowRules
from registry.intake.reading import BackDecode
from web.body_limit import accepts_body, accepts_photos
from web.decoding import advice
from web.i18n import gettext as _
from web.image_work import image_work
from web.ratelimit import DECODE, DECODE_IP, FIELD_SESSION, rate_limited
from web.refusals import Audience, refusal_message
from web.security import requires
from web.services import call_reader, now
from web.state import services

log = logging.getLogger(__name__)
# Four photos of at most ~1 MB each after the phone resizes them, times the items of one batch, with room.
MAX_BATCH_BYTES = 60_000_000


def _json(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


@requires(Permission.FIELD_HOME_VIEW)
@rate_limited(FIELD_SESSION)
async def session_probe(request: Request) -> Response:
    """Who is signed in, the token to send, and where they may capture."""
    principal = request.state.principal
    teams = await call_reader(request, memberships, account_id=principal.account_id)
    return _json({"account_id": principal.account_id, "csrf_token": request.state.csrf_token,
                  "teams": [{"aspirant_id": m.aspirant_id, "aspirant": m.aspirant_name,
                             "can_capture": m.can_capture} for m in teams]})


@accepts_photos(1)
@requires(Permission.FIELD_SUPPORT_CREATE)
@rate_limited(DECODE_IP, DECODE)
@image_work
async def read_back_photo(request: Request) -> Response:
    """Decode a back photo and say what was read; nothing is stored, and the batch that follows with the same
    photo reuses this reading (registry.intake.reading)."""
    try:
        form = await request.form(max_part_size=services(request).settings.upload_max_bytes)
    except MultiPartException:
        return _json({"ok": False, "reason": Reason.TOO_LARGE.value, "advice": advice(Reason.TOO_LARGE)}, 413)
    upload = form.get("reverso")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    decoded = await services(request).decoder.read_back(data, today=to_local(now(request)).date())
    return _json(_reading_json(decoded.reading))


def _reading_json(reading: BackReading) -> dict[str, Any]:
    fields = reading.fields
    if reading.mrz_ok and fields is not None and not reading.expired:
        return {"ok": True, "cic": fields.cic, "qr": reading.qr_ok}
    reason = reading.reason or Reason.MRZ_UNREADABLE
    return {"ok": False, "reason": reason.value, "advice": advice(reason), "expired": reading.expired}


@accepts_body(MAX_BATCH_BYTES)  # enforced while the body streams in (web.body_limit), chunked or not
@requires(Permission.FIELD_SUPPORT_CREATE)
@image_work
async def batch(request: Request) -> Response:
    """Per-item answers for a batch; only a batch that cannot be read at all gets a 4xx, never a 500."""
    try:
        items = await _parsed_items(request)
    except BatchMalformed as malformed:
        return _json({"error": "malformed", "detail": str(malformed)}, 400)
    context = batch_context(request)
    answers = await run_in_threadpool(process_batch, context, items)
    return _json({"items": [_with_message(answer) for answer in answers]})


async def _parsed_items(request: Request) -> list[Any]:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=4 * MAX_BATCH_ITEMS + 4, max_fields=16,
                                      max_part_size=services(request).settings.upload_max_bytes)
            files = {name: await part.read() for name, part in form.multi_items() if isinstance(part, UploadFile)}
            lote = form.get("lote")
            return parse_batch(load_batch_json(lote) if isinstance(lote, str) else None, files)
        return parse_batch(load_batch_json(await request.body()))
    except MultiPartException as error:
        raise BatchMalformed("multipart") from error


def batch_context(request: Request) -> BatchContext:
    """The intake's context for work that runs in a worker thread: the batch, and the online form's step 1."""
    state = services(request)
    today = to_local(now(request)).date()

    def decode(data: bytes) -> BackDecode:
        # The batch runs in a worker thread; decoding goes through the app's bounded decoder pool all the same.
        result: BackDecode = anyio.from_thread.run(partial(state.decoder.read_back, data, today=today))
        return result

    return BatchContext(engine=state.engine, store=state.image_store,
                        limits=state.image_limits,
                        decode=decode, clock=state.clock, account_id=request.state.principal.account_id, today=today,
                        window=window_rules(request))


def window_rules(request: Request) -> WindowRules:
    settings = services(request).settings
    return WindowRules.from_settings(grace_hours=settings.field_grace_hours,
                                     clock_skew_minutes=settings.field_clock_skew_minutes)


def _with_message(answer: ItemAnswer) -> dict[str, Any]:
    body = answer.as_json()
    if answer.refusal is not None:
        body["message"] = refusal_message(answer.refusal, Audience.FIELD)
    elif answer.status != "received":
        body["message"] = _batch_messages().get(answer.code, _("No se pudo guardar esta captura."))
    return body


def _batch_messages() -> dict[str, str]:
    """Answers that are not refusals: the item could not be read, must wait, or met a server fault."""
    return {
        "malformed": _("La captura llegó incompleta o dañada. Captúrala de nuevo."),
        "batch_limit": _("Se enviará en la siguiente tanda."),
        "server_error": _("El servidor no pudo guardarla ahora. Se enviará de nuevo automáticamente."),
    }


routes = [
    Route("/api/campo/sesion", session_probe, name="field_api_session"),
    Route("/api/campo/leer", read_back_photo, methods=["POST"], name="field_api_read"),
    Route("/api/campo/lote", batch, methods=["POST"], name="field_api_batch"),
]
