"""Routes for the aspirant's garantía de audiencia: the supports that do not count (filters, pages, counts), one
support's detail with its evidence, and objections filed per support or for a selection.

Every support id is looked up within the signed-in person's own aspirant records: anybody else's is a 404, the
same answer as an id that does not exist."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from core.clock import as_utc
from core.text import as_row_id
from registry.objections.filing import (
    ARGUMENT_MAX_CHARS,
    MAX_SELECTION,
    ArgumentProblem,
    ObjectionPeriod,
    ObjectionsRefused,
    Refusal,
    SupportRefusal,
    file_objections,
)
from registry.objections.rejected import RejectedQuery, aspirant_evidence, rejected_page, support_detail
from registry.states import Channel, ImageKind, SituacionRegistral, SupportStatus
from web.fields import as_typed, read_form
from web.i18n import gettext as _
from web.notices import done_notice
from web.security import requires
from web.services import call_reader, call_service, now
from web.state import services
from web.templating import local_time

VIEW = Permission.ASPIRANT_SUPPORT_VIEW
OBJECT = Permission.ASPIRANT_OBJECTION_CREATE
ARGUMENT_FIELD_CHARS = 2 * ARGUMENT_MAX_CHARS  # read this much, so "too long" is said rather than cut silently


def _aspirant_ids(request: Request, permission: Permission) -> frozenset[int]:
    return frozenset(request.state.principal.aspirant_ids(permission))


def _chosen_aspirant(request: Request, permission: Permission, form: FormData | None = None) -> int:
    """The aspirant record shown: the one named (when the person manages several), else theirs."""
    managed = _aspirant_ids(request, permission)
    number = as_row_id(form.get("aspirante") if form is not None else request.query_params.get("aspirante"))
    if number is not None and number in managed:
        return number
    if not managed:
        raise HTTPException(status_code=404)
    return min(managed)


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    words = {"situacion_words": situacion_words(), "channel_words": channel_words(), "status_words": status_words()}
    response: Response = services(request).templates.TemplateResponse(request, template, {**words, **context},
                                                                      status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # the pages carry citizens' identifiers
    return response


def _enum(value: str | None, kind: Any) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------- the list


@requires(VIEW)
async def supports_page(request: Request) -> Response:
    return await _list_page(request, messages=done_notice(request, {"objeciones": _(
        "Presentamos tus objeciones. La mesa de control del OPL las responderá y verás aquí su respuesta.")}))


async def _list_page(request: Request, *, form: FormData | None = None, status_code: int = 200,
                     **context: Any) -> Response:
    params = request.query_params
    query = RejectedQuery(aspirant_id=_chosen_aspirant(request, VIEW, form),
                          category=_enum(params.get("categoria"), SituacionRegistral),
                          channel=_enum(params.get("canal"), Channel), before_id=as_row_id(params.get("antes")))
    page = await call_reader(request, rejected_page, query=query)
    can_object = query.aspirant_id in _aspirant_ids(request, OBJECT)
    return _render(request, "aspirant/supports.html", {
        "page": page, "query": query, "can_object": can_object, "period_text": period_text(page.period),
        "period_open": page.period.refusal_at(now(request)) is None, "max_chars": ARGUMENT_MAX_CHARS,
        "messages": context.pop("messages", []), "errors": context.pop("errors", []),
        "argument": context.pop("argument", ""), "selected": context.pop("selected", frozenset()), **context},
        status_code=status_code)


# ---------------------------------------------------------------- one support


@requires(VIEW)
async def support_page(request: Request) -> Response:
    return await _detail_page(request, messages=done_notice(request, {"objecion": _(
        "Presentamos tu objeción. La mesa de control del OPL la responderá y verás aquí su respuesta.")}))


async def _detail_page(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    detail = await call_reader(request, support_detail, aspirant_ids=_aspirant_ids(request, VIEW),
                               support_id=request.path_params["support_id"], now=now(request))
    if detail is None:
        raise HTTPException(status_code=404)
    can_object = detail.support.aspirant_id in _aspirant_ids(request, OBJECT)
    return _render(request, "aspirant/support_detail.html", {
        "detail": detail, "can_object": can_object, "period_text": period_text(detail.period),
        "why_not": refusal_message(detail.objection_refusal, detail.period) if detail.objection_refusal else None,
        "max_chars": ARGUMENT_MAX_CHARS, "argument": context.pop("argument", ""),
        "argument_error": context.pop("argument_error", None), "messages": context.pop("messages", []),
        "errors": context.pop("errors", []), **context}, status_code=status_code)


@requires(VIEW)
async def evidence(request: Request) -> Response:
    kind = _enum(request.path_params["kind"], ImageKind)
    if kind is None:
        raise HTTPException(status_code=404)
    found = await call_reader(request, aspirant_evidence, aspirant_ids=_aspirant_ids(request, VIEW),
                              support_id=request.path_params["support_id"], kind=kind,
                              store=services(request).image_store)
    if found is None:  # not theirs, or no image of that kind: the same answer
        raise HTTPException(status_code=404)
    return Response(found.data, media_type=found.content_type,
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# ---------------------------------------------------------------- filing


def _argument(form: FormData) -> str:
    return as_typed(form, "argumento", ARGUMENT_FIELD_CHARS)


@requires(OBJECT)
async def object_one(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    support_id = request.path_params["support_id"]
    argument = _argument(form)
    try:
        await call_service(request, file_objections, aspirant_ids=_aspirant_ids(request, OBJECT),
                           support_ids=[support_id], argument=argument,
                           actor_account_id=request.state.principal.account_id, now=now(request))
    except ObjectionsRefused as refused:
        if any(r.refusal is Refusal.NOT_FOUND for r in refused.supports):
            raise HTTPException(status_code=404) from refused
        return await _detail_page(request, status_code=400, argument=argument,
                                  argument_error=argument_message(refused.argument) if refused.argument else None,
                                  errors=[] if refused.argument else refused_messages(refused))
    target = request.app.url_path_for("aspirant_support", support_id=support_id)
    return RedirectResponse(f"{target}?hecho=objecion", status_code=303)


@requires(OBJECT)
async def object_selection(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    aspirant_id = _chosen_aspirant(request, OBJECT, form)
    chosen = [as_row_id(value) for value in form.getlist("apoyo")[:MAX_SELECTION + 1]]
    selected = [number for number in chosen if number is not None]
    argument = _argument(form)
    try:
        await call_service(request, file_objections, aspirant_ids=_aspirant_ids(request, OBJECT),
                           support_ids=selected, argument=argument,
                           actor_account_id=request.state.principal.account_id, now=now(request))
    except ObjectionsRefused as refused:
        errors = [argument_message(refused.argument)] if refused.argument else refused_messages(refused)
        return await _list_page(request, form=form, status_code=400, errors=errors, argument=argument,
                                selected=frozenset(selected), argument_invalid=refused.argument is not None)
    target = request.app.url_path_for("aspirant_supports")
    return RedirectResponse(f"{target}?aspirante={aspirant_id}&hecho=objeciones", status_code=303)


# ---------------------------------------------------------------- messages


def period_text(period: ObjectionPeriod) -> str:
    """The objection period in central Mexico time, as every page states it."""
    opens, closes = period.opens_at, period.closes_at
    if opens and closes:
        return _("Puedes presentar objeciones del %(opens)s al %(closes)s (hora del centro de México).") % {
            "opens": local_time(as_utc(opens)), "closes": local_time(as_utc(closes))}
    if closes:
        return _("Puedes presentar objeciones hasta el %(closes)s (hora del centro de México).") % {
            "closes": local_time(as_utc(closes))}
    if opens:
        return _("Puedes presentar objeciones a partir del %(opens)s (hora del centro de México), sin fecha "
                 "límite.") % {"opens": local_time(as_utc(opens))}
    return _("El OPL no fijó un periodo: puedes presentar objeciones en cualquier momento.")


def argument_message(problem: ArgumentProblem) -> str:
    return {
        ArgumentProblem.MISSING: _("Escribe por qué el apoyo debe contar: es lo que leerá la mesa de control."),
        ArgumentProblem.TOO_LONG: _("El argumento es demasiado largo: máximo %(max)s caracteres.") % {
            "max": ARGUMENT_MAX_CHARS},
        ArgumentProblem.CHARACTERS: _("El argumento tiene caracteres no permitidos (invisibles o de control, como "
                                      "el carácter nulo). Escríbelo de nuevo en lugar de copiarlo y pegarlo."),
    }[problem]


def refusal_message(refusal: Refusal, period: ObjectionPeriod | None) -> str:
    dates = period_text(period) if period is not None else ""
    return {
        Refusal.NOT_FOUND: _("No encontramos ese apoyo entre los tuyos."),
        Refusal.NOT_REJECTED: _("Este apoyo no está rechazado: solo se objetan los apoyos que no cuentan."),
        Refusal.ALREADY_OPEN: _("Ya presentaste una objeción para este apoyo; espera la respuesta de la mesa de "
                                "control."),
        Refusal.BEFORE_PERIOD: _("El periodo de objeciones todavía no empieza.") + " " + dates,
        Refusal.AFTER_PERIOD: _("El periodo de objeciones ya terminó.") + " " + dates,
    }[refusal].strip()


def _one_refusal(refused: SupportRefusal, period: ObjectionPeriod | None) -> str:
    if refused.folio is None:
        return refusal_message(refused.refusal, period)
    return _("Folio %(folio)s: %(reason)s") % {"folio": refused.folio,
                                               "reason": refusal_message(refused.refusal, period)}


def refused_messages(refused: ObjectionsRefused) -> list[str]:
    if refused.none_selected:
        return [_("Marca al menos un apoyo para objetar.")]
    if refused.too_many:
        return [_("Marca como máximo %(max)s apoyos a la vez.") % {"max": MAX_SELECTION}]
    head = _("No presentamos ninguna objeción. Quita de la selección estos apoyos y envíala de nuevo:")
    return [head] + [_one_refusal(r, refused.period) for r in refused.supports]


def situacion_words() -> dict[SituacionRegistral, str]:
    return {
        SituacionRegistral.SIN_VERIFICAR: _("Sin verificar"),
        SituacionRegistral.EN_LISTA_NOMINAL: _("En Lista Nominal"),
        SituacionRegistral.DUPLICADO_MISMO_ASPIRANTE: _("Duplicado: la misma persona ya te apoyó"),
        SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE: _("Duplicado con otro aspirante: solo cuenta el primer apoyo"),
        SituacionRegistral.EN_PADRON_NO_EN_LISTA: _("En el padrón pero no en la Lista Nominal"),
        SituacionRegistral.BAJA: _("Baja del padrón (defunción, suspensión de derechos o pérdida de vigencia)"),
        SituacionRegistral.DATOS_NO_ENCONTRADOS: _("Datos no encontrados en la Lista Nominal"),
        SituacionRegistral.FUERA_DE_AMBITO: _("Fuera del ámbito geográfico del cargo"),
        SituacionRegistral.FUERA_REGIMEN_EXCEPCION: _("Fuera del régimen de excepción (papel de un municipio no "
                                                      "autorizado)"),
        SituacionRegistral.CON_INCONSISTENCIA: _("Con inconsistencia (mesa de control)"),
    }


def channel_words() -> dict[Channel, str]:
    return {Channel.CITIZEN: _("App ciudadana"), Channel.AUXILIARY: _("Auxiliar"), Channel.PAPER: _("Papel"),
            Channel.BULK_IMPORT: _("Archivo de papel")}


def status_words() -> dict[SupportStatus, str]:
    return {
        SupportStatus.RECEIVED: _("Recibido"),
        SupportStatus.VERIFYING: _("En verificación"),
        SupportStatus.IN_REVIEW: _("En mesa de control"),
        SupportStatus.VALID: _("Sí cuenta"),
        SupportStatus.INVALID: _("No cuenta"),
        SupportStatus.CONTESTED: _("En objeción"),
    }


routes = [
    Route("/aspirante/apoyos", supports_page, name="aspirant_supports"),
    Route("/aspirante/apoyos/objeciones", object_selection, methods=["POST"], name="aspirant_objections_file"),
    Route("/aspirante/apoyos/{support_id:row_id}", support_page, name="aspirant_support"),
    Route("/aspirante/apoyos/{support_id:row_id}/objecion", object_one, methods=["POST"],
          name="aspirant_objection_file"),
    Route("/aspirante/apoyos/{support_id:row_id}/imagen/{kind}", evidence, name="aspirant_support_image"),
]
