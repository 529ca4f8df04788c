"""The OPL admin's inconsistency catalogue page: every type of the OPL (edit labels, comment required, double
check, active, order), a form to add one, and deleting one no decision or paper form uses."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from registry.opl_admin.catalogue import (
    InvalidType,
    TypeForm,
    TypeInUse,
    add_type,
    catalogue_of,
    delete_type,
    update_type,
)
from web.fields import as_typed, checked
from web.i18n import gettext as _
from web.notices import done_notice
from web.routes.opl_common import in_opl, opl_of, posted_form, render
from web.routes.opl_messages import type_problem_message
from web.security import requires
from web.services import call_service

CATALOGUE = Permission.OPL_CATALOGUE_MANAGE
TEXT_CHARS = 400


def _typed(form: FormData) -> TypeForm:
    def raw(name: str) -> str:
        return as_typed(form, name, TEXT_CHARS)

    return TypeForm(label_es=raw("etiqueta_es"), label_en=raw("etiqueta_en"),
                    requires_comment=checked(form, "comentario"), double_check=checked(form, "doble"),
                    active=checked(form, "activo"), sort_order=raw("orden") or "0", code=raw("codigo"))


@requires(CATALOGUE)
async def page(request: Request) -> Response:
    return await _page(request, messages=done_notice(request, {
        "agregado": _("Agregamos el tipo de inconsistencia."), "guardado": _("Guardamos el tipo."),
        "borrado": _("Borramos el tipo.")}))


async def _page(request: Request, *, problems: dict[str, str] | None = None, editing: int | None = None,
                typed: TypeForm | None = None, errors: list[str] | None = None,
                messages: list[dict[str, str]] | None = None, status_code: int = 200) -> Response:
    # The defaults are seeded on first use: a write, hence call_service even to read.
    entries = await call_service(request, catalogue_of, opl_id=opl_of(request, CATALOGUE))
    return render(request, "opl/catalogue.html", {
        "entries": entries, "problems": problems or {}, "editing": editing, "typed": typed,
        "errors": errors or [], "messages": messages or []}, status_code)


@requires(CATALOGUE)
async def add(request: Request) -> Response:
    opl_id = opl_of(request, CATALOGUE)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = _typed(form)
    try:
        await call_service(request, add_type, opl_id=opl_id, form=typed,
                           actor_account_id=request.state.principal.account_id)
    except InvalidType as invalid:
        problems = {name: type_problem_message(p) for name, p in invalid.problems.items()}
        return await _page(request, problems=problems, typed=typed, status_code=400)
    return RedirectResponse(f"{request.app.url_path_for('opl_catalogue')}?hecho=agregado", status_code=303)


@requires(CATALOGUE)
async def edit(request: Request) -> Response:
    opl_id = opl_of(request, CATALOGUE)
    type_id = request.path_params["type_id"]
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = _typed(form)
    try:
        await in_opl(call_service(request, update_type, opl_id=opl_id, type_id=type_id, form=typed,
                                  actor_account_id=request.state.principal.account_id))
    except InvalidType as invalid:
        problems = {name: type_problem_message(p) for name, p in invalid.problems.items()}
        return await _page(request, problems=problems, editing=type_id, status_code=400,
                           errors=list(problems.values()))
    return RedirectResponse(f"{request.app.url_path_for('opl_catalogue')}?hecho=guardado#tipo-{type_id}",
                            status_code=303)


@requires(CATALOGUE)
async def delete(request: Request) -> Response:
    try:
        await in_opl(call_service(request, delete_type, opl_id=opl_of(request, CATALOGUE),
                                  type_id=request.path_params["type_id"],
                                  actor_account_id=request.state.principal.account_id))
    except TypeInUse:
        return await _page(request, status_code=409, errors=[
            _("Ese tipo ya se usó en decisiones o formatos en papel: no se puede borrar, solo desactivar.")])
    return RedirectResponse(f"{request.app.url_path_for('opl_catalogue')}?hecho=borrado", status_code=303)


routes = [
    Route("/opl/catalogo", page, name="opl_catalogue"),
    Route("/opl/catalogo", add, methods=["POST"], name="opl_catalogue_add"),
    Route("/opl/catalogo/{type_id:row_id}", edit, methods=["POST"], name="opl_catalogue_edit"),
    Route("/opl/catalogo/{type_id:row_id}/borrar", delete, methods=["POST"], name="opl_catalogue_delete"),
]
