"""The OPL admin's people pages: a process's aspirants (register and invite, deactivate, reactivate), the OPL's
reviewers (invite by e-mail, remove), and the invitation link both receive (public: it asks the person to sign
in, then grants the role only to an account of the invited address; see registry/opl_admin/people.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from auth.roles import Role
from registry.opl_admin.people import (
    InvalidPerson,
    InvitationRefused,
    Mailer,
    accept_invitation,
    aspirants_of_process,
    invite_reviewer,
    preview_invitation,
    register_aspirant,
    remove_reviewer,
    resend_aspirant_invitation,
    reviewers_of_opl,
    set_aspirant_active,
)
from registry.opl_admin.processes import process_names
from web.fields import as_typed
from web.i18n import gettext as _
from web.notices import done_notice
from web.ratelimit import INVITATION_RESEND, rate_limited
from web.routes.opl_common import in_opl, opl_of, posted_form, render
from web.routes.opl_messages import invitation_problem_message, person_problem_message
from web.security import login_first, login_then, public, requires
from web.services import accept_invitation_link, call_reader, call_service, mail_delivery, now
from web.state import services

ASPIRANTS = Permission.OPL_ASPIRANT_MANAGE
REVIEWERS = Permission.OPL_REVIEWER_MANAGE
TEXT_CHARS = 400


def mailer(request: Request) -> Mailer:
    settings = services(request).settings

    def url_for(token: str) -> str:
        return settings.public_origin + str(request.app.url_path_for("opl_invitation", token=token))

    return Mailer(secret=settings.secret_key, url_for=url_for)


def _done(request: Request) -> list[dict[str, str]]:
    return done_notice(request, {
        "registrado": _("Registramos a la persona aspirante y le enviamos la invitación por correo."),
        "desactivado": _("Desactivaste a la persona aspirante: sus apoyos nuevos ya no se aceptan."),
        "reactivado": _("Reactivaste a la persona aspirante."),
        "reenviado": _("Enviamos de nuevo la invitación por correo."),
        "invitado": _("Enviamos la invitación por correo. La persona será revisora cuando la acepte."),
        "quitado": _("Quitamos a la persona revisora; sus ítems apartados vuelven a la fila."),
    })


# ---------------------------------------------------------------- aspirants


@requires(ASPIRANTS)
async def aspirants_page(request: Request) -> Response:
    return await _aspirants_page(request, typed={}, problems={})


async def _aspirants_page(request: Request, *, typed: dict[str, str], problems: dict[str, str],
                          status_code: int = 200) -> Response:
    opl_id = opl_of(request, ASPIRANTS)
    process, aspirants = await in_opl(call_reader(request, aspirants_of_process, opl_id=opl_id,
                                                  process_id=request.path_params["process_id"]))
    names = await call_reader(request, process_names, opl_id=opl_id)
    return render(request, "opl/people_aspirants.html", {
        "process": process, "aspirants": aspirants, "typed": typed, "problems": problems,
        "process_names": names, "messages": _done(request)}, status_code)


@requires(ASPIRANTS)
async def register(request: Request) -> Response:
    opl_id = opl_of(request, ASPIRANTS)
    process_id = request.path_params["process_id"]
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = {"nombre": as_typed(form, "nombre", TEXT_CHARS), "correo": as_typed(form, "correo", TEXT_CHARS)}
    try:
        await in_opl(call_service(request, register_aspirant, opl_id=opl_id, process_id=process_id,
                                  full_name=typed["nombre"], email=typed["correo"], mailer=mailer(request),
                                  actor_account_id=request.state.principal.account_id, now=now(request)))
    except InvalidPerson as invalid:
        problems = {name: person_problem_message(p) for name, p in invalid.problems.items()}
        return await _aspirants_page(request, typed=typed, problems=problems, status_code=400)
    target = f"{request.app.url_path_for('opl_aspirants', process_id=process_id)}?hecho=registrado"
    return RedirectResponse(target, status_code=303, background=mail_delivery(request))


async def _set_active(request: Request, active: bool) -> Response:
    aspirant = await in_opl(call_service(request, set_aspirant_active, opl_id=opl_of(request, ASPIRANTS),
                                         aspirant_id=request.path_params["aspirant_id"], active=active,
                                         actor_account_id=request.state.principal.account_id))
    done = "reactivado" if active else "desactivado"
    target = f"{request.app.url_path_for('opl_aspirants', process_id=aspirant.process_id)}?hecho={done}"
    return RedirectResponse(target, status_code=303)


@requires(ASPIRANTS)
async def deactivate(request: Request) -> Response:
    return await _set_active(request, False)


@requires(ASPIRANTS)
async def reactivate(request: Request) -> Response:
    return await _set_active(request, True)


@requires(ASPIRANTS)
@rate_limited(INVITATION_RESEND)
async def resend(request: Request) -> Response:
    aspirant = await in_opl(call_service(request, resend_aspirant_invitation, opl_id=opl_of(request, ASPIRANTS),
                                         aspirant_id=request.path_params["aspirant_id"], mailer=mailer(request),
                                         actor_account_id=request.state.principal.account_id, now=now(request)))
    target = f"{request.app.url_path_for('opl_aspirants', process_id=aspirant.process_id)}?hecho=reenviado"
    return RedirectResponse(target, status_code=303, background=mail_delivery(request))


# ---------------------------------------------------------------- reviewers


@requires(REVIEWERS)
async def reviewers_page(request: Request) -> Response:
    return await _reviewers_page(request, typed="", problems={})


async def _reviewers_page(request: Request, *, typed: str, problems: dict[str, str],
                          status_code: int = 200) -> Response:
    reviewers = await call_reader(request, reviewers_of_opl, opl_id=opl_of(request, REVIEWERS))
    return render(request, "opl/people_reviewers.html", {
        "reviewers": reviewers, "typed": typed, "problems": problems,
        "messages": _done(request)}, status_code)


@requires(REVIEWERS)
async def invite(request: Request) -> Response:
    opl_id = opl_of(request, REVIEWERS)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    typed = as_typed(form, "correo", TEXT_CHARS)
    try:
        await call_service(request, invite_reviewer, opl_id=opl_id, email=typed, mailer=mailer(request),
                           actor_account_id=request.state.principal.account_id, now=now(request))
    except InvalidPerson as invalid:
        problems = {name: person_problem_message(p) for name, p in invalid.problems.items()}
        return await _reviewers_page(request, typed=typed, problems=problems, status_code=400)
    return RedirectResponse(f"{request.app.url_path_for('opl_reviewers')}?hecho=invitado", status_code=303,
                            background=mail_delivery(request))


@requires(REVIEWERS)
async def remove(request: Request) -> Response:
    await in_opl(call_service(request, remove_reviewer, opl_id=opl_of(request, REVIEWERS),
                              account_id=request.path_params["account_id"],
                              actor_account_id=request.state.principal.account_id, now=now(request)))
    return RedirectResponse(f"{request.app.url_path_for('opl_reviewers')}?hecho=quitado", status_code=303)


# ---------------------------------------------------------------- the invitation link


def _invitation(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, "opl/people_invitation.html", context, status_code)


@public
async def invitation_page(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        preview = await call_reader(request, preview_invitation, token=token, now=now(request))
    except InvitationRefused as refused:
        return _invitation(request, {"problem": invitation_problem_message(refused.error)}, 400)
    login = login_then(request, request.url.path)
    return _invitation(request, {"preview": preview, "token": token, "login_url": login})


@public
async def invitation_accept(request: Request) -> Response:
    if (login := login_first(request)) is not None:
        return login
    try:
        role = await accept_invitation_link(request, accept_invitation)
    except InvitationRefused as refused:
        return _invitation(request, {"problem": invitation_problem_message(refused.error)}, 400)
    home = "aspirant_home" if role is Role.ASPIRANT else "review_home"
    return RedirectResponse(str(request.app.url_path_for(home)), status_code=303)


routes = [
    Route("/opl/procesos/{process_id:row_id}/aspirantes", aspirants_page, name="opl_aspirants"),
    Route("/opl/procesos/{process_id:row_id}/aspirantes", register, methods=["POST"], name="opl_aspirant_create"),
    Route("/opl/aspirantes/{aspirant_id:row_id}/desactivar", deactivate, methods=["POST"],
          name="opl_aspirant_deactivate"),
    Route("/opl/aspirantes/{aspirant_id:row_id}/reactivar", reactivate, methods=["POST"],
          name="opl_aspirant_reactivate"),
    Route("/opl/aspirantes/{aspirant_id:row_id}/reenviar", resend, methods=["POST"], name="opl_aspirant_resend"),
    Route("/opl/revisores", reviewers_page, name="opl_reviewers"),
    Route("/opl/revisores", invite, methods=["POST"], name="opl_reviewer_invite"),
    Route("/opl/revisores/{account_id:row_id}/quitar", remove, methods=["POST"], name="opl_reviewer_remove"),
    Route("/opl/invitacion/{token:str}", invitation_page, name="opl_invitation"),
    Route("/opl/invitacion/{token:str}", invitation_accept, methods=["POST"], name="opl_invitation_accept"),
]
