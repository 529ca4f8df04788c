"""The user guides (/ayuda): one per role, public, printable, the same for everybody.

The guides are the Spanish documents an OPL can cite in its convocatoria (seed 003 asks INE for a "documento
rector"): their text lives in web/templates/help/<rol>.html and is not translated. In English the page around it
(title, index, print button, a notice) is English and the guide keeps `lang="es-MX"`, so screen readers read it
in Spanish. No session is read and no cookie set under /ayuda (web.security.COOKIELESS_PREFIXES): an aspirant reads
them before having an account, and caches may keep them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.i18n import gettext as _
from web.security import public
from web.state import services

MAX_AGE = 3600


@dataclass(frozen=True)
class Guide:
    slug: str  # the address: /ayuda/<slug>
    title: str  # in the request's language (the index and the page title)
    summary: str


def guides() -> list[Guide]:
    """Every guide, in the order a process meets its people; words in the request's language."""
    return [
        Guide("ciudadano", _("Ciudadanía"),
              _("Generar tu código de activación, dar tu apoyo, «Mis apoyos» y «Verifica tu apoyo».")),
        Guide("auxiliar", _("Auxiliares"),
              _("Aceptar la invitación y capturar apoyos en campo, con o sin señal.")),
        Guide("aspirante", _("Aspirantes"),
              _("Registrar auxiliares, seguir tu avance y objetar los apoyos que no cuentan.")),
        Guide("revisor", _("Mesa de control"),
              _("Revisar apoyos uno a uno, con filtros y teclas, y la segunda revisión.")),
        Guide("opl", _("Administración del OPL"),
              _("Procesos, Lista Nominal y compulsa, formatos en papel, reportes y archivos para el INE.")),
        Guide("sistema", _("Administración del sistema"),
              _("Instalar, actualizar y operar el servidor; el reporte de cada mañana.")),
    ]


def _version() -> str:
    """Which release a guide describes (printed at its foot, so a printed copy says what it documents)."""
    try:
        return version("registro-ciudadano")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return ""


def _cacheable(request: Request, response: Response) -> Response:
    # The same bytes for everybody in one language; a ?lang= switch answers with a cookie, which no shared cache
    # should keep.
    if "lang" not in request.query_params:
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
        response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@public
async def index(request: Request) -> Response:
    page = services(request).templates.TemplateResponse(request, "help/index.html", {"guides": guides()})
    return _cacheable(request, page)


@public
async def guide(request: Request) -> Response:
    chosen = next((g for g in guides() if g.slug == request.path_params["rol"]), None)
    if chosen is None:
        raise HTTPException(status_code=404)
    context = {"guide": chosen, "base_url": services(request).settings.base_url.rstrip("/"), "version": _version()}
    page = services(request).templates.TemplateResponse(request, f"help/{chosen.slug}.html", context)
    return _cacheable(request, page)


routes = [
    Route("/ayuda", index, name="help_index"),
    Route("/ayuda/{rol:str}", guide, name="help_guide"),
]
