"""The mesa de control (reviewers and OPL admins): the desk's home with the counts per process, each process's
first-level queue with its filters and the second level, one item at a time with its evidence, and the
decisions, each followed by the next item of the same queue.

Every id in a path is looked up within the reviewer's own OPLs (registry.review): another OPL's is a 404. Filters
travel in the query string and in the forms' hidden fields: ids, states and a date, never personal data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from core.text import as_row_id
from registry.evidence import read_evidence, support_in_opls
from registry.review.decisions import DecisionRefused, NotFound, Problem, Verdict, mark_double_check
from registry.review.desk import answer_then_next, decide_then_next, second_look_then_next, skip_then_next
from registry.review.item import item_view
from registry.review.queue import (
    NotInScope,
    QueueFilters,
    claim_first_level,
    claim_second_level,
    desk_home,
    first_level_queue,
    second_level_queue,
)
from registry.states import Channel, ImageKind, ReviewFlag, SituacionRegistral, SupportStatus
from web.fields import as_typed
from web.i18n import gettext as _
from web.security import requires
from web.services import call_reader, call_service, now
from web.state import services

DECIDE = Permission.REVIEW_SUPPORT_DECIDE
E = TypeVar("E", bound=StrEnum)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FORM_TEXT_MAX = 20_000  # a comment is refused beyond 2,000 characters; longer input is cut before it is checked


def _opls(request: Request, permission: Permission = DECIDE) -> frozenset[int]:
    return frozenset(request.state.principal.opl_ids(permission))


def _me(request: Request) -> int:
    return int(request.state.principal.account_id)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    return response


# ---------------------------------------------------------------- filters


def _enum(kind: type[E], value: object) -> E | None:
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _day(value: object) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def filters_from(source: Mapping[str, Any]) -> QueueFilters:
    """The queue's filters from a query or a form; a value that is not one of the filter's is ignored."""
    return QueueFilters(status=_enum(SupportStatus, source.get("estado")),
                        situacion=_enum(SituacionRegistral, source.get("situacion")),
                        aspirant_id=as_row_id(source.get("aspirante")), auxiliary_id=as_row_id(source.get("auxiliar")),
                        channel=_enum(Channel, source.get("canal")), flag=_enum(ReviewFlag, source.get("marca")),
                        received_on=_day(source.get("fecha")))


def filter_params(filters: QueueFilters) -> list[tuple[str, str]]:
    values = {"estado": filters.status, "situacion": filters.situacion, "aspirante": filters.aspirant_id,
              "auxiliar": filters.auxiliary_id, "canal": filters.channel, "marca": filters.flag,
              "fecha": filters.received_on.isoformat() if filters.received_on else None}
    return [(name, str(value)) for name, value in values.items() if value is not None]


def _query(params: list[tuple[str, str]]) -> str:
    return f"?{urlencode(params)}" if params else ""


# ---------------------------------------------------------------- pages


@requires(Permission.REVIEW_HOME_VIEW)
async def home(request: Request) -> Response:
    counts = await call_reader(request, desk_home, opl_ids=_opls(request, Permission.REVIEW_HOME_VIEW),
                               reviewer_account_id=_me(request))
    return _render(request, "review/home.html", {"counts": counts})


@requires(DECIDE)
async def queue_page(request: Request) -> Response:
    filters = filters_from(request.query_params)
    try:
        queue = await call_reader(request, first_level_queue, process_id=request.path_params["process_id"],
                                  opl_ids=_opls(request), filters=filters)
    except NotInScope as missing:
        raise HTTPException(status_code=404) from missing
    empty = request.query_params.get("aviso") == "vacio"
    messages = [{"level": "ok", "text": _("No quedan apoyos por revisar con estos filtros.")}] if empty else []
    return _render(request, "review/queue.html", {"queue": queue, "params": filter_params(filters),
                                                  "messages": messages})


@requires(DECIDE)
async def second_page(request: Request) -> Response:
    try:
        process, items = await call_reader(request, second_level_queue, process_id=request.path_params["process_id"],
                                           opl_ids=_opls(request), reviewer_account_id=_me(request))
    except NotInScope as missing:
        raise HTTPException(status_code=404) from missing
    notice = request.query_params.get("aviso")
    messages = [{"level": "ok", "text": _("No quedan apoyos en la segunda revisión.")}] if notice == "vacio" else []
    return _render(request, "review/second.html", {"process": process, "items": items, "messages": messages})


async def _item(request: Request, *, status_code: int = 200, errors: list[str] | None = None,
                typed: dict[str, str] | None = None, messages: list[dict[str, str]] | None = None) -> Response:
    try:
        view = await call_service(request, item_view, support_id=request.path_params["support_id"],
                                  opl_ids=_opls(request), viewer_account_id=_me(request), now=now(request))
    except NotInScope as missing:
        raise HTTPException(status_code=404) from missing
    principal = request.state.principal
    return _render(request, "review/item.html", {
        "view": view, "params": filter_params(filters_from(request.query_params)),
        "errors": errors or [], "typed": typed or {},
        "messages": messages or [],
        "explanations": flag_explanations(),
        "can_mark": view.process.opl_id in principal.opl_ids(Permission.OPL_DECISION_DOUBLE_CHECK),
        "can_answer": view.process.opl_id in principal.opl_ids(Permission.REVIEW_OBJECTION_RESOLVE),
    }, status_code=status_code)


@requires(DECIDE)
async def item_page(request: Request) -> Response:
    marked = request.query_params.get("aviso") == "marcado"
    return await _item(request, messages=[{"level": "ok", "text": _("Pediste una doble revisión de esta decisión.")}]
                       if marked else None)


@requires(Permission.REVIEW_EVIDENCE_VIEW)
async def image(request: Request) -> Response:
    kind = _enum(ImageKind, request.path_params["kind"])
    found = None
    if kind is not None:
        found = await call_reader(request, _evidence, support_id=request.path_params["support_id"],
                                  opl_ids=_opls(request, Permission.REVIEW_EVIDENCE_VIEW), kind=kind,
                                  store=services(request).image_store)
    if found is None:
        raise HTTPException(status_code=404)
    return Response(found.data, media_type=found.content_type,
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _evidence(*, session: Any, support_id: int, opl_ids: frozenset[int], kind: ImageKind, store: Any) -> Any:
    support = support_in_opls(session=session, support_id=support_id, opl_ids=opl_ids)
    return read_evidence(session=session, store=store, support=support, kind=kind)


# ---------------------------------------------------------------- claiming and deciding


@requires(DECIDE)
async def start(request: Request) -> Response:
    form = await request.form()
    filters = filters_from(form)
    process_id = request.path_params["process_id"]
    try:
        next_id = await call_service(request, claim_first_level, process_id=process_id, opl_ids=_opls(request),
                                     reviewer_account_id=_me(request), filters=filters, now=now(request))
    except NotInScope as missing:
        raise HTTPException(status_code=404) from missing
    return _to_next(request, next_id, filters, process_id=process_id)


@requires(DECIDE)
async def start_second(request: Request) -> Response:
    process_id = request.path_params["process_id"]
    try:
        next_id = await call_service(request, claim_second_level, process_id=process_id, opl_ids=_opls(request),
                                     reviewer_account_id=_me(request), now=now(request))
    except NotInScope as missing:
        raise HTTPException(status_code=404) from missing
    return _to_next(request, next_id, None, process_id=process_id)


def _to_next(request: Request, next_id: int | None, filters: QueueFilters | None, *,
             process_id: int | None = None) -> Response:
    """To the next item claimed, or back to its queue (with the same filters) when there is none."""
    params = filter_params(filters) if filters is not None else [("nivel", "segunda")]
    if next_id is not None:
        target = str(request.app.url_path_for("review_item", support_id=next_id)) + _query(params)
    elif filters is None:
        target = str(request.app.url_path_for("review_second", process_id=process_id)) + "?aviso=vacio"
    else:
        target = str(request.app.url_path_for("review_queue", process_id=process_id)) + _query(
            [*params, ("aviso", "vacio")])
    return RedirectResponse(target, status_code=303)


def _text(form: FormData, name: str) -> str:
    return as_typed(form, name, FORM_TEXT_MAX)


def _verdict(form: FormData) -> Verdict:
    choice = _text(form, "decision")
    return Verdict(valid=choice == "valido", inconsistency_id=as_row_id(choice), comment=_text(form, "comentario"))


async def _act(request: Request, service: Any, queue_filters: QueueFilters | None, **kwargs: Any) -> Response:
    """Run one desk action on the item in the path, then go to the next item (or show why nothing changed)."""
    support_id = request.path_params["support_id"]
    try:
        next_id = await call_service(request, service, support_id=support_id, opl_ids=_opls(request),
                                     reviewer_account_id=_me(request), now=now(request), **kwargs)
    except (NotFound, NotInScope) as missing:
        raise HTTPException(status_code=404) from missing
    except DecisionRefused as refused:
        typed = {"argumento": kwargs["answer"]} if isinstance(kwargs.get("answer"), str) else {}
        verdict = kwargs.get("verdict")
        if isinstance(verdict, Verdict):
            typed |= {"comentario": verdict.comment, "decision": "valido" if verdict.valid else
                      str(verdict.inconsistency_id or "")}
        conflict = refused.problem in {Problem.NOT_HELD, Problem.NOT_IN_REVIEW, Problem.NOT_CONTESTED,
                                       Problem.NOTHING_TO_CHECK}
        return await _item(request, status_code=409 if conflict else 400, errors=[problem_message(refused.problem)],
                           typed=typed)
    process_id = await call_reader(request, _process_id, support_id=support_id, opl_ids=_opls(request))
    return _to_next(request, next_id, queue_filters, process_id=process_id)


def _process_id(*, session: Any, support_id: int, opl_ids: frozenset[int]) -> int | None:
    support = support_in_opls(session=session, support_id=support_id, opl_ids=opl_ids)
    return support.process_id if support is not None else None


@requires(DECIDE)
async def decide(request: Request) -> Response:
    form = await request.form()
    filters = filters_from(form)
    return await _act(request, decide_then_next, filters, verdict=_verdict(form), filters=filters)


@requires(DECIDE)
async def skip(request: Request) -> Response:
    form = await request.form()
    second = form.get("nivel") == "segunda"
    filters = None if second else filters_from(form)
    return await _act(request, skip_then_next, filters, filters=filters or QueueFilters(), second=second)


@requires(DECIDE)
async def check_again(request: Request) -> Response:
    form = await request.form()
    return await _act(request, second_look_then_next, None, verdict=_verdict(form))


@requires(Permission.REVIEW_OBJECTION_RESOLVE)
async def answer(request: Request) -> Response:
    form = await request.form()
    uphold = form.get("respuesta") == "procedente"
    if form.get("respuesta") not in ("procedente", "improcedente"):
        return await _item(request, status_code=400, errors=[_("Elige si la objeción es procedente o improcedente.")],
                           typed={"argumento": _text(form, "argumento")})
    return await _act(request, answer_then_next, None, uphold=uphold, answer=_text(form, "argumento"))


@requires(Permission.OPL_DECISION_DOUBLE_CHECK)
async def mark(request: Request) -> Response:
    support_id = request.path_params["support_id"]
    try:
        await call_service(request, mark_double_check, support_id=support_id,
                           opl_ids=_opls(request, Permission.OPL_DECISION_DOUBLE_CHECK), actor_account_id=_me(request),
                           now=now(request))
    except (NotFound, NotInScope) as missing:
        raise HTTPException(status_code=404) from missing
    except DecisionRefused as refused:
        return await _item(request, status_code=409, errors=[problem_message(refused.problem)])
    target = str(request.app.url_path_for("review_item", support_id=support_id)) + "?aviso=marcado"
    return RedirectResponse(target, status_code=303)


# ---------------------------------------------------------------- messages


def problem_message(problem: Problem) -> str:
    return {
        Problem.NOT_HELD: _("Este apoyo ya no está asignado a ti (tu turno venció o lo tomó otra persona). No se "
                            "registró nada; toma el siguiente de la cola."),
        Problem.NOT_IN_REVIEW: _("Este apoyo ya fue decidido mientras lo revisabas. No se registró nada."),
        Problem.NO_CHOICE: _("Elige «Válido» o una inconsistencia."),
        Problem.UNKNOWN_INCONSISTENCY: _("Esa inconsistencia no está en el catálogo de tu OPL. Elige una de la lista."),
        Problem.COMMENT_REQUIRED: _("Esta inconsistencia necesita un comentario: escribe por qué."),
        Problem.DISOWNED_NEEDS_COMMENT: _("La persona ciudadana informó que no dio este apoyo. Para darlo por válido "
                                          "escribe por qué; otra persona lo revisará de nuevo."),
        Problem.TEXT_TOO_LONG: _("El texto es demasiado largo (máximo 2,000 caracteres)."),
        Problem.TEXT_CHARACTERS: _("El texto tiene caracteres no permitidos (invisibles o de control). Escríbelo de "
                                   "nuevo en lugar de copiarlo y pegarlo."),
        Problem.ANSWER_REQUIRED: _("Escribe la respuesta a la objeción: el aspirante la verá."),
        Problem.NOTHING_TO_CHECK: _("Ninguna decisión de este apoyo espera una doble revisión."),
        Problem.OWN_DECISION: _("La doble revisión la hace otra persona: tú tomaste la primera decisión."),
        Problem.NOT_DECIDED: _("Este apoyo todavía no tiene una decisión de la mesa de control."),
        Problem.ALREADY_MARKED: _("Esta decisión ya espera una doble revisión."),
        Problem.NOT_CONTESTED: _("Esta objeción ya fue respondida. No se registró nada."),
    }[problem]


def flag_explanations() -> dict[str, str]:
    """Why each flag sent the support to the desk, in the reviewer's language."""
    return {
        ReviewFlag.MANUAL_CAPTURE: _("Captura manual: los datos de la credencial se teclearon, no se leyeron de la "
                                     "imagen"),
        ReviewFlag.IMAGE_REUSED: _("La misma imagen de la credencial aparece en otro apoyo"),
        ReviewFlag.CAPTURE_RATE: _("El auxiliar capturó más rápido de lo que una persona puede, de forma sostenida"),
        ReviewFlag.DEVICE_TIME: _("La hora del teléfono estaba muy lejos de la hora del servidor"),
        ReviewFlag.QR_OTHER_CIC: _("El código QR de esta credencial se vio antes con otro CIC"),
        ReviewFlag.DISOWNED: _("La persona ciudadana informó que nunca dio este apoyo"),
        ReviewFlag.CLAIMED: _("La credencial fue reclamada desde otra cuenta"),
        ReviewFlag.SAMPLE: _("Elegido al azar para la muestra de revisión del OPL"),
    }


SUPPORT = "/mesa/apoyos/{support_id:row_id}"
routes = [
    Route("/mesa", home, name="review_home"),
    Route("/mesa/procesos/{process_id:row_id}", queue_page, name="review_queue"),
    Route("/mesa/procesos/{process_id:row_id}/revisar", start, methods=["POST"], name="review_start"),
    Route("/mesa/procesos/{process_id:row_id}/segunda", second_page, name="review_second"),
    Route("/mesa/procesos/{process_id:row_id}/segunda/revisar", start_second, methods=["POST"],
          name="review_start_second"),
    Route(SUPPORT, item_page, name="review_item"),
    Route(SUPPORT + "/imagen/{kind:str}", image, name="review_image"),
    Route(SUPPORT + "/decidir", decide, methods=["POST"], name="review_decide"),
    Route(SUPPORT + "/saltar", skip, methods=["POST"], name="review_skip"),
    Route(SUPPORT + "/segunda-revision", check_again, methods=["POST"], name="review_second_look"),
    Route(SUPPORT + "/objecion", answer, methods=["POST"], name="review_answer"),
    Route(SUPPORT + "/doble-revision", mark, methods=["POST"], name="review_mark"),
]
