"""The OPL admin's Lista Nominal pages: the roll in force, imports and their jobs (live progress, cancel), the
upload of a new roll (streamed to the private data dir, never held in memory) and the compulsa per process.

Every id in a path is looked up within the admin's own OPL (registry/roll/admin.py): another OPL's is a 404."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from core.clock import to_local
from registry.roll.admin import (
    NotFound,
    UploadedRoll,
    VerifyRefused,
    cancel_job,
    import_detail,
    queue_process_verification,
    queue_uploaded_roll,
    roll_overview,
)
from registry.roll.imports import UploadProblem, UploadRefused, import_in_progress
from registry.roll.source import ColumnMap, RollFileError, parse_columns
from registry.states import JobKind
from web.body_limit import accepts_body_setting
from web.errors import render_error
from web.i18n import gettext as _
from web.security import CSRF_FIELD, csrf_in_stream, requires, streamed_csrf_ok
from web.services import call_reader, call_service, now
from web.state import services
from web.streamed_form import StreamedForm, StreamRefused, stream_form

ROLL = Permission.OPL_ROLL_IMPORT
FILE_FIELD = "archivo"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _opl(request: Request) -> int:
    """The admin's OPL (the first, for the rare person who administers several)."""
    opls = request.state.principal.opl_ids(ROLL)
    if not opls:
        raise HTTPException(status_code=404)
    return int(min(opls))


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    return response


def _notice(code: str) -> tuple[list[dict[str, str]], list[str]]:
    """Messages after a redirect: (confirmations, refusals)."""
    done = {"verificacion": _("Pusimos en cola la verificación de los apoyos del proceso."),
            "cancelado": _("Pediste cancelar el trabajo. Lo que ya estaba en vigor no cambia.")}.get(code)
    refused = {"no_roll": _("No hay Lista Nominal en vigor: importa una antes de verificar apoyos."),
               "already_active": _("Ya hay una verificación en cola o en curso para ese proceso; espera a que "
                                   "termine.")}.get(code)
    return ([{"level": "ok", "text": done}] if done else []), ([refused] if refused else [])


# ---------------------------------------------------------------- pages


@requires(ROLL)
async def roll_page(request: Request) -> Response:
    messages, errors = _notice(request.query_params.get("aviso", ""))
    return await _roll_page(request, messages=messages, errors=errors)


async def _roll_page(request: Request, *, problems: dict[str, str] | None = None, typed: dict[str, str] | None = None,
                     status_code: int = 200, **notices: Any) -> Response:
    overview = await call_reader(request, roll_overview, opl_id=_opl(request))
    settings = services(request).settings
    return _render(request, "opl/roll.html", {
        "overview": overview, "problems": problems or {}, "typed": typed or {},
        "today": to_local(now(request)).date().isoformat(), "paused": "pausa" in request.query_params,
        "max_size": _size(settings.roll_upload_max_bytes), **notices}, status_code=status_code)


def _size(count: int) -> str:
    return f"{count / 1e9:g} GB" if count >= 1_000_000_000 else f"{count // 1_000_000:,} MB"


@requires(ROLL)
async def import_page(request: Request) -> Response:
    try:
        detail = await call_reader(request, import_detail, opl_id=_opl(request),
                                   roll_import_id=request.path_params["import_id"])
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    return _render(request, "opl/roll_import.html", {"detail": detail, "paused": "pausa" in request.query_params})


# ---------------------------------------------------------------- the upload


@accepts_body_setting("roll_upload_max_bytes")
@requires(ROLL)
@csrf_in_stream
async def upload_roll(request: Request) -> Response:
    opl_id = _opl(request)
    if await call_reader(request, import_in_progress, opl_id=opl_id):
        # Refused before a byte of the file is stored: one import at a time per OPL.
        return await _roll_page(request, problems={FILE_FIELD: _upload_problem(UploadProblem.IMPORT_ACTIVE)},
                                status_code=409)
    try:
        form = await stream_form(request, file_field=FILE_FIELD, directory=services(request).settings.roll_upload_dir,
                                 before_file=lambda fields: streamed_csrf_ok(request, fields.get(CSRF_FIELD)))
    except StreamRefused as refused:
        return await _stream_refused(request, refused.status_code)
    try:
        return await _queue(request, opl_id, form)
    except BaseException:
        form.discard()  # the roll is every voter's personal data: no copy stays behind a failure
        raise


async def _stream_refused(request: Request, status_code: int) -> Response:
    if status_code == 403:
        return render_error(request, 403, "errors/csrf.html")
    if status_code == 413:
        return render_error(request, 413)
    return await _roll_page(request, status_code=400, problems={
        FILE_FIELD: _("No recibimos el formulario completo. Vuelve a elegir el archivo y envíalo de nuevo.")})


async def _queue(request: Request, opl_id: int, form: StreamedForm) -> Response:
    if not streamed_csrf_ok(request, form.fields.get(CSRF_FIELD)):
        form.discard()
        return render_error(request, 403, "errors/csrf.html")
    typed = {"corte": form.fields.get("corte", "").strip()[:20], "columnas": form.fields.get("columnas", "").strip()}
    problems, cutoff, columns = _read_fields(form, typed)
    if cutoff is None or problems:
        form.discard()
        return await _roll_page(request, problems=problems, typed=typed, status_code=400)
    assert form.path is not None
    upload = UploadedRoll(opl_id=opl_id, path=form.path, source_name=form.filename, cutoff=cutoff,
                          today=to_local(now(request)).date(), columns=columns)
    try:
        job = await call_service(request, queue_uploaded_roll, upload=upload,
                                 actor_account_id=request.state.principal.account_id, now=now(request))
    except UploadRefused as refused:
        form.discard()
        field = FILE_FIELD if refused.problem is UploadProblem.IMPORT_ACTIVE else "corte"
        return await _roll_page(request, problems={field: _upload_problem(refused.problem)}, typed=typed,
                                status_code=409 if refused.problem is UploadProblem.IMPORT_ACTIVE else 400)
    target = request.app.url_path_for("opl_roll_import", import_id=job.roll_import_id)
    return RedirectResponse(str(target), status_code=303)


def _read_fields(form: StreamedForm, typed: dict[str, str]) -> tuple[dict[str, str], date | None, ColumnMap | None]:
    """The form's own problems, by field id (shown in the error summary, each linked to its input)."""
    problems: dict[str, str] = {}
    cutoff = _cutoff(typed["corte"])
    if cutoff is None:
        problems["corte"] = (_("Escribe la fecha de corte de la Lista Nominal.") if not typed["corte"] else
                             _("La fecha de corte no es válida: usa el formato AAAA-MM-DD."))
    columns: ColumnMap | None = None
    if typed["columnas"]:
        try:
            columns = parse_columns(typed["columnas"])
        except RollFileError as error:
            problems["columnas"] = _("Las columnas no son válidas: %(why)s") % {"why": error.message}
    if form.path is None:
        problems[FILE_FIELD] = _("Elige el archivo de la Lista Nominal.")
    elif form.size == 0:
        problems[FILE_FIELD] = _("El archivo está vacío.")
    return problems, cutoff, columns


def _cutoff(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _upload_problem(problem: UploadProblem) -> str:
    return {
        UploadProblem.FUTURE_CUTOFF: _("La fecha de corte no puede ser posterior a hoy."),
        UploadProblem.OLDER_THAN_CURRENT: _("La fecha de corte es anterior a la de la Lista Nominal en vigor: "
                                            "dejaría fuera a quienes se registraron después. Importa un corte "
                                            "igual o más reciente."),
        UploadProblem.IMPORT_ACTIVE: _("Ya hay una importación en cola o en curso. Espera a que termine o "
                                       "cancélala antes de subir otro archivo."),
    }[problem]


# ---------------------------------------------------------------- actions


@requires(ROLL)
async def cancel(request: Request) -> Response:
    try:
        job = await call_service(request, cancel_job, opl_id=_opl(request), job_id=request.path_params["job_id"],
                                 actor_account_id=request.state.principal.account_id, now=now(request))
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    if job.kind is JobKind.ROLL_IMPORT and job.roll_import_id is not None:
        target = str(request.app.url_path_for("opl_roll_import", import_id=job.roll_import_id))
    else:
        target = f"{request.app.url_path_for('opl_roll')}?aviso=cancelado"
    return RedirectResponse(target, status_code=303)


@requires(ROLL)
async def verify(request: Request) -> Response:
    try:
        await call_service(request, queue_process_verification, opl_id=_opl(request),
                           process_id=request.path_params["process_id"],
                           actor_account_id=request.state.principal.account_id, now=now(request))
        notice = "verificacion"
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    except VerifyRefused as refused:
        notice = str(refused.problem)
    return RedirectResponse(f"{request.app.url_path_for('opl_roll')}?aviso={notice}", status_code=303)


routes = [
    Route("/opl/lista-nominal", roll_page, name="opl_roll"),
    Route("/opl/lista-nominal", upload_roll, methods=["POST"], name="opl_roll_upload"),
    Route("/opl/lista-nominal/importaciones/{import_id:row_id}", import_page, name="opl_roll_import"),
    Route("/opl/trabajos/{job_id:row_id}/cancelar", cancel, methods=["POST"], name="opl_job_cancel"),
    Route("/opl/procesos/{process_id:row_id}/verificar", verify, methods=["POST"], name="opl_process_verify"),
]
