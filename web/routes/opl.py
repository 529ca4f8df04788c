"""The OPL admin's pages: home (the OPL's processes, filtered by process, with links to the roll, the desk and
the paper capture, and "verify now"), a process's create and edit forms, and many processes from one file.
Aspirants and reviewers are in opl_people.py, the inconsistency catalogue in opl_catalogue.py.

Every id in a path is looked up within the admin's own OPL (registry/opl_admin): another OPL's is a 404."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from registry.opl_admin.process_file import MAX_FILE_BYTES, import_process_file, template_csv, template_xlsx
from registry.opl_admin.processes import (
    create_process,
    form_of,
    process_names,
    processes_of_opl,
    update_process,
)
from registry.opl_admin.validation import FIELDS, InvalidProcess, ProcessForm
from web.body_limit import accepts_body
from web.fields import as_typed
from web.i18n import gettext as _
from web.notices import done_notice
from web.routes import opl_catalogue, opl_people, opl_sign_in
from web.routes.opl_common import chosen_process, download_endpoint, in_opl, opl_of, posted_form, render
from web.routes.opl_messages import file_problem_message, process_problem_message
from web.security import requires
from web.services import call_reader, call_service

MANAGE = Permission.OPL_PROCESS_MANAGE
FIELD_CHARS = 400
LIST_CHARS = 4000  # the paper municipalities: up to a few hundred numbers


@requires(Permission.OPL_HOME_VIEW)
async def home(request: Request) -> Response:
    opls = request.state.principal.opl_ids(Permission.OPL_HOME_VIEW)
    if not opls:  # a grant not tied to an OPL yet: the greeting, and nothing to administer
        return render(request, "opl/home.html", {"summaries": [], "process_names": [], "chosen": None,
                                                 "no_opl": True})
    opl_id, chosen = int(min(opls)), chosen_process(request)
    summaries = await call_reader(request, processes_of_opl, opl_id=opl_id, process_id=chosen)
    names = await call_reader(request, process_names, opl_id=opl_id)
    done = done_notice(request, {"creado": _("Creamos el proceso."),
                                 "guardado": _("Guardamos los cambios del proceso.")})
    return render(request, "opl/home.html", {
        "summaries": summaries, "process_names": names, "chosen": chosen, "messages": done})


# ---------------------------------------------------------------- one process


@requires(MANAGE)
async def new_process(request: Request) -> Response:
    opl_of(request, MANAGE)
    return _form_page(request, ProcessForm(), {}, process_id=None)


@requires(MANAGE)
async def edit_process(request: Request) -> Response:
    form = await in_opl(call_reader(request, form_of, opl_id=opl_of(request, MANAGE),
                                    process_id=request.path_params["process_id"]))
    return _form_page(request, form, {}, process_id=request.path_params["process_id"])


def _form_page(request: Request, form: ProcessForm, problems: dict[str, str], *, process_id: int | None,
               status_code: int = 200) -> Response:
    return render(request, "opl/process_form.html", {
        "form": form, "problems": problems, "process_id": process_id,
        "summary": [(name, problems[name]) for name in FIELDS if name in problems]}, status_code=status_code)


def typed_process(form: FormData) -> ProcessForm:
    """The posted fields as typed (cut at a generous limit; characters judged by the domain, which names them)."""
    values = {name: as_typed(form, name, LIST_CHARS if name == "municipios_papel" else FIELD_CHARS)
              for name in FIELDS}
    return ProcessForm(**values)


@requires(MANAGE)
async def create(request: Request) -> Response:
    opl_id = opl_of(request, MANAGE)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = typed_process(form)
    try:
        process = await call_service(request, create_process, opl_id=opl_id, form=typed,
                                     actor_account_id=request.state.principal.account_id)
    except InvalidProcess as invalid:
        return _form_page(request, typed, _messages(invalid), process_id=None, status_code=400)
    return RedirectResponse(f"{request.app.url_path_for('opl_home')}?hecho=creado&proceso={process.id}",
                            status_code=303)


@requires(MANAGE)
async def update(request: Request) -> Response:
    opl_id = opl_of(request, MANAGE)
    process_id = request.path_params["process_id"]
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = typed_process(form)
    try:
        await in_opl(call_service(request, update_process, opl_id=opl_id, process_id=process_id, form=typed,
                                  actor_account_id=request.state.principal.account_id))
    except InvalidProcess as invalid:
        return _form_page(request, typed, _messages(invalid), process_id=process_id, status_code=400)
    return RedirectResponse(f"{request.app.url_path_for('opl_home')}?hecho=guardado&proceso={process_id}",
                            status_code=303)


def _messages(invalid: InvalidProcess) -> dict[str, str]:
    return {name: process_problem_message(name, problem) for name, problem in invalid.problems.items()}


# ---------------------------------------------------------------- many processes from a file


@requires(MANAGE)
async def file_page(request: Request) -> Response:
    opl_of(request, MANAGE)
    return render(request, "opl/process_file.html", {"result": None, "max_kb": MAX_FILE_BYTES // 1000,
                                                     "columns": FIELDS})


@accepts_body(2 * MAX_FILE_BYTES)
@requires(MANAGE)
async def file_upload(request: Request) -> Response:
    opl_id = opl_of(request, MANAGE)
    form = await posted_form(request, max_part_size=MAX_FILE_BYTES + 1)
    if isinstance(form, Response):
        return form
    upload = form.get("archivo")
    data = await upload.read(MAX_FILE_BYTES + 1) if isinstance(upload, UploadFile) else b""
    dry_run = form.get("accion") != "importar"
    result = await call_service(request, import_process_file, opl_id=opl_id, data=data, dry_run=dry_run,
                                actor_account_id=request.state.principal.account_id)
    problems = [file_problem_message(p) for p in result.problems]
    return render(request, "opl/process_file.html", {
        "result": result, "problems": problems, "max_kb": MAX_FILE_BYTES // 1000, "columns": FIELDS},
        status_code=400 if problems else 200)


routes = [
    Route("/opl", home, name="opl_home"),
    Route("/opl/procesos/nuevo", new_process, name="opl_process_new"),
    Route("/opl/procesos", create, methods=["POST"], name="opl_process_create"),
    Route("/opl/procesos/archivo", file_page, name="opl_process_file"),
    Route("/opl/procesos/archivo", file_upload, methods=["POST"], name="opl_process_file_upload"),
    Route("/opl/procesos/plantilla.csv", download_endpoint(MANAGE, template_csv, "procesos.csv"),
          name="opl_process_template_csv"),
    Route("/opl/procesos/plantilla.xlsx", download_endpoint(MANAGE, template_xlsx, "procesos.xlsx"),
          name="opl_process_template_xlsx"),
    Route("/opl/procesos/{process_id:row_id}", edit_process, name="opl_process_edit"),
    Route("/opl/procesos/{process_id:row_id}", update, methods=["POST"], name="opl_process_update"),
    *opl_people.routes,
    *opl_catalogue.routes,
    *opl_sign_in.routes,
]
