"""Routes for the aspirant audience: their process and progress, and their team of auxiliaries (register one by
one or from a CSV file, invite, re-send, suspend, reactivate, progress per auxiliary)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from core.text import as_row_id
from registry.team import (
    AuxiliaryForm,
    FieldProblem,
    InvalidAuxiliary,
    Invitation,
    Problem,
    TeamError,
    TeamRefused,
    TooManyInvitations,
    reactivate_auxiliary,
    register_auxiliary,
    resend_invitation,
    suspend_auxiliary,
)
from registry.team_csv import MAX_CSV_BYTES, import_auxiliaries_csv
from registry.team_progress import aspirant_totals, aspirants_of, team_progress
from web.body_limit import accepts_body
from web.errors import render_error
from web.fields import as_typed
from web.i18n import gettext as _
from web.ratelimit import INVITATION_RESEND, rate_limited
from web.security import requires
from web.services import call_reader, call_service, mail_delivery, now
from web.state import services

MANAGE = Permission.ASPIRANT_AUXILIARY_MANAGE


def _managed(request: Request) -> frozenset[int]:
    return frozenset(request.state.principal.aspirant_ids(MANAGE))


def _chosen_aspirant(request: Request, form: FormData | None = None) -> int:
    """The aspirant record acted on: the one named in the form (when the person manages several), else theirs."""
    managed = _managed(request)
    named = form.get("aspirante") if form is not None else request.query_params.get("aspirante")
    number = as_row_id(named)
    if number is not None and number in managed:
        return number
    if not managed:
        raise HTTPException(status_code=404)
    return min(managed)


def invitation(request: Request) -> Invitation:
    settings = services(request).settings

    def url_for(token: str) -> str:
        return settings.public_origin + str(request.app.url_path_for("field_invitation", token=token))

    return Invitation(secret=settings.secret_key, url_for=url_for, per_day=settings.invitations_per_day)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    return response


# ---------------------------------------------------------------- pages


@requires(Permission.ASPIRANT_HOME_VIEW)
async def home(request: Request) -> Response:
    views = await call_reader(request, aspirants_of, aspirant_ids=frozenset(
        request.state.principal.aspirant_ids(Permission.ASPIRANT_HOME_VIEW)))
    sections = []
    for view in views:
        team = await call_reader(request, team_progress, aspirant_id=view.aspirant.id)
        totals = await call_reader(request, aspirant_totals, aspirant_id=view.aspirant.id)
        sections.append({"view": view, "team": team, "totals": totals})
    done = _done_message(request.query_params.get("hecho", ""))
    capped = request.query_params.get("hecho") == "tope"
    return _render(request, "aspirant/home.html", {
        "sections": sections, "messages": [{"level": "ok", "text": done}] if done else [],
        "errors": [daily_cap_message(services(request).settings.invitations_per_day)] if capped else []})


def _done_message(code: str) -> str | None:
    return {
        "registrado": _("Registramos a tu auxiliar y le enviamos la invitación por correo."),
        "importado": _("Registramos a tus auxiliares del archivo y les enviamos la invitación por correo."),
        "suspendido": _("Suspendiste a tu auxiliar: sus capturas nuevas ya no se aceptan."),
        "reactivado": _("Reactivaste a tu auxiliar."),
        "reenviado": _("Enviamos de nuevo la invitación; el enlace anterior ya no sirve."),
        "sin_cambio": _("Ese cambio ya no aplica: la lista cambió mientras tanto."),
    }.get(code)


@requires(MANAGE)
async def new_auxiliary(request: Request) -> Response:
    return _form_page(request, _chosen_aspirant(request), AuxiliaryForm("", "", "", ""), ())


def _form_page(request: Request, aspirant_id: int, form: AuxiliaryForm, problems: tuple[FieldProblem, ...],
               csv_problems: tuple[FieldProblem, ...] = (), status_code: int = 200, *,
               error: str | None = None, csv_error: str | None = None) -> Response:
    errors = {p.field: problem_message(p.problem) for p in problems}
    csv_errors = [csv_problem_message(p) for p in csv_problems] + ([csv_error] if csv_error else [])
    context = {"aspirant_id": aspirant_id, "form": form, "field_errors": errors, "csv_errors": csv_errors,
               "max_csv_kb": MAX_CSV_BYTES // 1000,
               "errors": ([_("Revisa los datos marcados.")] if errors else []) + ([error] if error else [])}
    return _render(request, "aspirant/auxiliary_new.html", context, status_code=status_code)


# ---------------------------------------------------------------- actions


async def _form(request: Request) -> FormData | Response:
    try:
        return await request.form(max_part_size=MAX_CSV_BYTES + 1)
    except MultiPartException:
        return render_error(request, 413)


def _text(form: FormData, name: str) -> str:
    return as_typed(form, name, 400)


@requires(MANAGE)
async def create_auxiliary(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    aspirant_id = _chosen_aspirant(request, form)
    typed = AuxiliaryForm(full_name=_text(form, "nombre"), clave_elector=_text(form, "clave_elector"),
                          email=_text(form, "correo"), phone=_text(form, "telefono"))
    try:
        await call_service(request, register_auxiliary, aspirant_id=aspirant_id, form=typed,
                           invitation=invitation(request), actor_account_id=request.state.principal.account_id,
                           now=now(request))
    except InvalidAuxiliary as invalid:
        return _form_page(request, aspirant_id, typed, invalid.problems, status_code=400)
    except TooManyInvitations as capped:
        return _form_page(request, aspirant_id, typed, (), status_code=429, error=daily_cap_message(capped.per_day))
    return _back_home(request, "registrado", background=True)


@accepts_body(2 * MAX_CSV_BYTES)  # room for the form's own "file too large" answer just above the CSV limit
@requires(MANAGE)
async def import_auxiliaries(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    aspirant_id = _chosen_aspirant(request, form)
    upload = form.get("archivo")
    data = await upload.read(MAX_CSV_BYTES + 1) if isinstance(upload, UploadFile) else b""
    try:
        result = await call_service(request, import_auxiliaries_csv, aspirant_id=aspirant_id, data=data,
                                    invitation=invitation(request),
                                    actor_account_id=request.state.principal.account_id, now=now(request))
    except TooManyInvitations as capped:
        return _form_page(request, aspirant_id, AuxiliaryForm("", "", "", ""), (), status_code=429,
                          csv_error=csv_cap_message(capped))
    if result.problems:
        return _form_page(request, aspirant_id, AuxiliaryForm("", "", "", ""), (), result.problems, 400)
    return _back_home(request, "importado", background=result.registered > 0)


def _back_home(request: Request, done: str, *, background: bool = False) -> Response:
    target = f"{request.app.url_path_for('aspirant_home')}?hecho={done}"
    return RedirectResponse(target, status_code=303, background=mail_delivery(request) if background else None)


async def _team_action(request: Request, service: Any, done: str, *, mail: bool = False) -> Response:
    extra = {"invitation": invitation(request)} if mail else {}
    try:
        await call_service(request, service, auxiliary_id=request.path_params["auxiliary_id"],
                           aspirant_ids=_managed(request), actor_account_id=request.state.principal.account_id,
                           now=now(request), **extra)
    except TeamRefused as refused:
        if refused.error is TeamError.NOT_YOURS:
            raise HTTPException(status_code=404) from refused
        return _back_home(request, "sin_cambio")
    except TooManyInvitations:
        return _back_home(request, "tope")
    return _back_home(request, done, background=mail)


@requires(MANAGE)
async def suspend(request: Request) -> Response:
    return await _team_action(request, suspend_auxiliary, "suspendido")


@requires(MANAGE)
async def reactivate(request: Request) -> Response:
    return await _team_action(request, reactivate_auxiliary, "reactivado")


@requires(MANAGE)
@rate_limited(INVITATION_RESEND)
async def resend(request: Request) -> Response:
    return await _team_action(request, resend_invitation, "reenviado", mail=True)


# ---------------------------------------------------------------- messages


def problem_message(problem: Problem) -> str:
    return {
        Problem.NAME_MISSING: _("Escribe el nombre completo."),
        Problem.NAME_TOO_LONG: _("El nombre es demasiado largo (máximo 200 caracteres)."),
        Problem.NAME_CHARACTERS: _("El nombre tiene caracteres no permitidos (invisibles o de control). Escríbelo de nuevo en lugar de copiarlo y pegarlo."),  # noqa: E501
        Problem.CLAVE_INVALID: _("La clave de elector tiene 18 caracteres: 6 letras, 8 números, H o M y 3 números."),
        Problem.EMAIL_INVALID: _("Escribe un correo electrónico válido, por ejemplo nombre@ejemplo.mx."),
        Problem.PHONE_INVALID: _("Escribe un teléfono de 10 dígitos."),
        Problem.EMAIL_TAKEN: _("Ya registraste a alguien con este correo."),
        Problem.CLAVE_TAKEN: _("Ya registraste a alguien con esta clave de elector."),
        Problem.REPEATED_IN_FILE: _("Este correo o clave de elector se repite en el archivo."),
        Problem.COLUMNS_MISSING: _("El archivo debe tener las columnas nombre, clave de elector, correo y teléfono."),
        Problem.FILE_UNREADABLE: _("No pudimos leer el archivo. Guárdalo como CSV (separado por comas)."),
        Problem.FILE_TOO_LARGE: _("El archivo es demasiado grande."),
        Problem.FILE_EMPTY: _("El archivo no tiene renglones."),
    }[problem]


def daily_cap_message(per_day: int) -> str:
    return _("Ya enviaste el máximo de %(per_day)s invitaciones en 24 horas. Podrás enviar más cuando se cumplan "
             "24 horas de las primeras.") % {"per_day": per_day}


def csv_cap_message(capped: TooManyInvitations) -> str:
    return _("El archivo enviaría %(wanted)s invitaciones y en este momento solo puedes enviar %(left)s más (el "
             "máximo es %(per_day)s en 24 horas). Divide el archivo y sube el resto después.") % {
        "wanted": capped.wanted, "left": capped.left, "per_day": capped.per_day}


def csv_problem_message(problem: FieldProblem) -> str:
    message = problem_message(problem.problem)
    if problem.line is None:
        return message
    return _("Renglón %(line)s: %(message)s") % {"line": problem.line, "message": message}


routes = [
    Route("/aspirante", home, name="aspirant_home"),
    Route("/aspirante/auxiliares/nuevo", new_auxiliary, name="aspirant_auxiliary_new"),
    Route("/aspirante/auxiliares", create_auxiliary, methods=["POST"], name="aspirant_auxiliary_create"),
    Route("/aspirante/auxiliares/csv", import_auxiliaries, methods=["POST"], name="aspirant_auxiliary_import"),
    Route("/aspirante/auxiliares/{auxiliary_id:row_id}/suspender", suspend, methods=["POST"],
          name="aspirant_auxiliary_suspend"),
    Route("/aspirante/auxiliares/{auxiliary_id:row_id}/reactivar", reactivate, methods=["POST"],
          name="aspirant_auxiliary_reactivate"),
    Route("/aspirante/auxiliares/{auxiliary_id:row_id}/reenviar", resend, methods=["POST"],
          name="aspirant_auxiliary_resend"),
]
