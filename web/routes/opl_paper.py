"""The OPL staff's paper pages: one form typed at a time (keyboard only, the next blank form ready after saving,
the aspirant kept), and a bulk file of forms (dry run or import, all or nothing) with its CSV and XLSX templates.

Every aspirant is looked up within the staff member's own OPLs (registry/paper/forms.py): another OPL's is a 404."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from core.text import as_row_id
from registry.images import CleanImage
from registry.intake.refusals import Refused
from registry.paper.files import (
    MAX_FILE_BYTES,
    FileReport,
    PaperFileError,
    PaperUpload,
    csv_template,
    import_paper_file,
    xlsx_template,
)
from registry.paper.forms import (
    FIELDS,
    LIMITS,
    InvalidPaper,
    NotFound,
    PaperCapture,
    PaperEntry,
    PaperPage,
    capture_paper_form,
    paper_page,
    seed_catalogues,
)
from registry.states import ImageKind
from web.body_limit import accepts_body, accepts_photos
from web.errors import render_error
from web.fields import read_form, row_id, text, upload_bytes
from web.i18n import gettext as _
from web.image_work import clean_upload, image_work
from web.paper_messages import clave_rule, field_label, file_problem_text, ocr_rule, problem_text
from web.routes.opl_common import chosen_process, download_endpoint
from web.security import CSRF_FIELD, csrf_in_stream, requires, streamed_csrf_ok
from web.services import call_reader, call_service, now
from web.state import services
from web.streamed_form import StreamedForm, StreamRefused, stream_form

PAPER = Permission.OPL_PAPER_CREATE
FILE_FIELD = "archivo"
PHOTO_FIELD = "foto"


def _opls(request: Request) -> frozenset[int]:
    opls = frozenset(request.state.principal.opl_ids(PAPER))
    if not opls:
        raise HTTPException(status_code=404)
    return opls


async def _page_data(request: Request) -> PaperPage:
    """What the page lists: only the chosen process's aspirants when `?proceso=ID` is given (the forms post to
    the same query, so the filter stays after saving)."""
    opls, process_id = _opls(request), chosen_process(request)
    page = await call_reader(request, paper_page, opl_ids=opls, process_id=process_id)
    if not page.types:  # an OPL whose catalogue was never used: its defaults are written once
        await call_service(request, seed_catalogues, opl_ids=opls)
        page = await call_reader(request, paper_page, opl_ids=opls, process_id=process_id)
    return page


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(
        request, template, {"chosen": chosen_process(request), **context}, status_code=status_code)
    return response


def _outside_filter(request: Request, page: PaperPage, aspirant_id: int) -> str | None:
    """Why an aspirant sent from a page filtered by process is not taken: one the filtered list did not offer
    (a stale page) would put the citizens' supports under an aspirant nobody chose on screen."""
    if chosen_process(request) is None or aspirant_id in {choice.id for choice in page.aspirants}:
        return None
    return _("Ese aspirante no es del proceso elegido. Elige uno de la lista.")


def _listed(page: PaperPage, aspirant_id: int | None) -> int | None:
    """The aspirant to show as selected: only one the list offers, else none (the select then asks for one rather
    than showing its first aspirant as if chosen)."""
    return aspirant_id if any(choice.id == aspirant_id for choice in page.aspirants) else None


def _chosen(page: PaperPage, named: int | None) -> int | None:
    """The aspirant named (the last one used), or the only one there is."""
    ids = [choice.id for choice in page.aspirants]
    if named in ids:
        return named
    return ids[0] if len(ids) == 1 else None


# ---------------------------------------------------------------- one form


@requires(PAPER)
async def form_page(request: Request) -> Response:
    page = await _page_data(request)
    return _form(request, page, aspirant_id=_chosen(page, as_row_id(request.query_params.get("aspirante"))))


def _form(request: Request, page: PaperPage, *, aspirant_id: int | None, typed: PaperEntry | None = None,
          problems: dict[str, str] | None = None, messages: list[dict[str, str]] | None = None,
          status_code: int = 200) -> Response:
    problems = problems or {}
    summary = [(name, problems.get(name)) for name in ("aspirante", *FIELDS, PHOTO_FIELD)]
    return _render(request, "opl/paper_form.html", {
        "summary": summary, "page": page, "aspirant_id": _listed(page, aspirant_id), "typed": typed or PaperEntry(),
        "problems": problems,
        "messages": messages or [], "limits": LIMITS, "labels": {name: field_label(name) for name in FIELDS},
        "clave_rule": clave_rule(), "ocr_rule": ocr_rule()}, status_code=status_code)


def _entry(form: FormData) -> PaperEntry:
    # One character over each limit is kept, so an overlong value is reported rather than silently cut.
    return PaperEntry(**{name: text(form, name, LIMITS[name] + 1) for name in FIELDS})


@accepts_photos(1)
@requires(PAPER)
@image_work
async def capture(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    page = await _page_data(request)
    aspirant_id, entry = row_id(form, "aspirante"), _entry(form)
    problems: dict[str, str] = {}
    if aspirant_id is None:
        problems["aspirante"] = _("Elige el aspirante al que apoya el formato.")
    elif outside := _outside_filter(request, page, aspirant_id):
        problems["aspirante"] = outside
    photo, photo_problem = await _photo(request, form)
    if photo_problem:
        problems[PHOTO_FIELD] = photo_problem
    if aspirant_id is None or problems:
        return _form(request, page, aspirant_id=aspirant_id, typed=entry, problems=problems, status_code=400)
    try:
        captured = await call_service(request, capture_paper_form, capture=PaperCapture(
            aspirant_id=aspirant_id, entry=entry, form_image=photo), opl_ids=_opls(request),
            store=services(request).image_store, actor_account_id=request.state.principal.account_id,
            now=now(request))
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    except InvalidPaper as invalid:
        for problem in invalid.problems:
            problems.setdefault(problem.field, problem_text(problem, invalid.folio))
        return _form(request, page, aspirant_id=aspirant_id, typed=entry, problems=problems, status_code=400)
    done = (_("Guardamos el formato con el folio %(folio)s. Sigue con el siguiente.") if captured.created else
            _("Ese formato ya estaba capturado con el folio %(folio)s; no se guardó de nuevo.")) % {
        "folio": captured.folio}
    return _form(request, page, aspirant_id=aspirant_id, messages=[{"level": "ok", "text": done}])


async def _photo(request: Request, form: FormData) -> tuple[CleanImage | None, str | None]:
    data = await upload_bytes(request, form, PHOTO_FIELD)
    if data is None:
        return None, None
    try:
        return await clean_upload(request, data, ImageKind.PAPER_FORM), None
    except Refused:
        return None, _("La foto del formato no se pudo usar: elige una foto JPEG, PNG o WebP más ligera, o "
                       "guarda el formato sin foto.")


# ---------------------------------------------------------------- bulk file


@requires(PAPER)
async def file_page(request: Request) -> Response:
    page = await _page_data(request)
    return _file(request, page, aspirant_id=_chosen(page, as_row_id(request.query_params.get("aspirante"))))


def _file(request: Request, page: PaperPage, *, aspirant_id: int | None, report: FileReport | None = None,
          problems: dict[str, str] | None = None, dry_run: bool = False, status_code: int = 200) -> Response:
    rows = [{"line": p.line, "field": field_label(p.field) if p.field else "", "text": problem_text(p)}
            for p in (report.problems if report else ())]
    return _render(request, "opl/paper_file.html", {
        "page": page, "aspirant_id": _listed(page, aspirant_id), "report": report, "rows": rows,
        "problems": problems or {}, "dry_run": dry_run, "max_mb": MAX_FILE_BYTES // 1_000_000,
        "columns": ", ".join(FIELDS)},
        status_code=status_code)


@accepts_body(MAX_FILE_BYTES + 1_000_000)  # a file a little over the limit still gets the page's own answer
@requires(PAPER)
@csrf_in_stream
async def upload_file(request: Request) -> Response:
    directory = services(request).settings.data_dir / "paper-uploads"
    try:
        form = await stream_form(request, file_field=FILE_FIELD, directory=directory,
                                 before_file=lambda fields: streamed_csrf_ok(request, fields.get(CSRF_FIELD)))
    except StreamRefused as refused:
        if refused.status_code == 403:
            return render_error(request, 403, "errors/csrf.html")
        return render_error(request, 413 if refused.status_code == 413 else 400)
    try:
        return await _import(request, form)
    finally:
        form.discard()  # the file holds citizens' names and claves: no copy stays behind


async def _import(request: Request, form: StreamedForm) -> Response:
    if not streamed_csrf_ok(request, form.fields.get(CSRF_FIELD)):
        return render_error(request, 403, "errors/csrf.html")
    page = await _page_data(request)
    aspirant_id = as_row_id(form.fields.get("aspirante"))
    dry_run = form.fields.get("accion") != "importar"
    problems: dict[str, str] = {}
    if aspirant_id is None:
        problems["aspirante"] = _("Elige el aspirante al que apoyan los formatos del archivo.")
    elif outside := _outside_filter(request, page, aspirant_id):
        problems["aspirante"] = outside
    if form.path is None:
        problems[FILE_FIELD] = _("Elige el archivo CSV o XLSX.")
    elif form.size > MAX_FILE_BYTES:
        problems[FILE_FIELD] = _("El archivo pasa del límite de %(size)s MB. Divídelo en varios archivos.") % {
            "size": MAX_FILE_BYTES // 1_000_000}
    if aspirant_id is None or form.path is None or problems:
        return _file(request, page, aspirant_id=aspirant_id, problems=problems, status_code=400)
    upload = PaperUpload(aspirant_id=aspirant_id, file_name=form.filename, data=form.path.read_bytes(),
                         dry_run=dry_run)
    try:
        report = await call_service(request, import_paper_file, upload=upload, opl_ids=_opls(request),
                                    actor_account_id=request.state.principal.account_id, now=now(request))
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    except PaperFileError as error:
        return _file(request, page, aspirant_id=aspirant_id, problems={FILE_FIELD: file_problem_text(error)},
                     status_code=400)
    return _file(request, page, aspirant_id=aspirant_id, report=report, dry_run=dry_run,
                 status_code=400 if report.problems else 200)


routes = [
    Route("/opl/papel", form_page, name="opl_paper"),
    Route("/opl/papel", capture, methods=["POST"], name="opl_paper_capture"),
    Route("/opl/papel/archivo", file_page, name="opl_paper_file"),
    Route("/opl/papel/archivo", upload_file, methods=["POST"], name="opl_paper_file_upload"),
    Route("/opl/papel/plantilla.csv", download_endpoint(PAPER, csv_template, "apoyos_en_papel.csv"),
          name="opl_paper_template_csv"),
    Route("/opl/papel/plantilla.xlsx", download_endpoint(PAPER, xlsx_template, "apoyos_en_papel.xlsx"),
          name="opl_paper_template_xlsx"),
]
