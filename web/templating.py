"""Jinja2 environment with the translation layer installed and the helpers every template needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, Template, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.templating import Jinja2Templates, _TemplateResponse
from starlette.types import Receive, Scope, Send

from core.clock import as_utc, to_local
from web import i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"
LOCAL_TIME_FORMAT = "%d/%m/%Y %H:%M"  # es-MX, 24-hour, in both languages: "30/11/2026 14:07"
LOCAL_DATE_FORMAT = "%d/%m/%Y"
# Form fields that carry a step's state; a page answering a form (shown again with its errors) keeps them in
# its language switch, since its own address has no query to keep.
STEP_STATE_FIELDS = ("flujo",)


def local_time(moment: object, fmt: str = LOCAL_TIME_FORMAT, zone: str | None = None) -> str:
    """Every time the server shows (pages and e-mails): central Mexico time (or the process's time zone, where a
    page speaks in it), day first, 24-hour clock."""
    if not isinstance(moment, datetime):
        return ""
    local = to_local(moment) if zone is None else as_utc(moment).astimezone(ZoneInfo(zone))
    return local.strftime(fmt)


def wall_clock(moment: object, fmt: str = LOCAL_TIME_FORMAT) -> str:
    """A moment already in the zone it is shown in (a report's local moment, a form's value), as it reads."""
    return moment.strftime(fmt) if isinstance(moment, datetime) else ""


def machine_time(moment: object) -> str:
    """The ISO 8601 text of a date or time, for <time datetime="..."> (read by machines, not people)."""
    return moment.isoformat() if isinstance(moment, date) else ""


def local_date(day: object) -> str:
    """A calendar date (a roll's cut-off) as every page writes one: day first."""
    return day.strftime(LOCAL_DATE_FORMAT) if isinstance(day, date) else ""


@pass_context
def _language_url(context: Context, locale: str) -> str:
    """This same page in `locale`: its path and query (where a step's token rides) with only `lang` changed."""
    request = context["request"]
    params = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    if request.method != "GET":
        params += [(name, context[name]) for name in STEP_STATE_FIELDS
                   if isinstance(context.get(name), str) and name not in request.query_params]
    # The decoded path may hold anything the address did (a NUL, a quote, spaces): percent-encode it again.
    return f"{quote(request.url.path, safe='/')}?{urlencode([*params, ('lang', locale)])}"


# Starlette finds a route's path by trying every route in turn and each page asks for dozens: a seventh of the
# event loop's time under load (bench/load.py). Paths never change while an app lives, so each app keeps its own.
_PATHS: WeakKeyDictionary[object, dict[tuple[str, tuple[tuple[str, object], ...]], URLPath]] = WeakKeyDictionary()
_PATHS_PER_APP = 20_000  # paths with ids in them are many: start over rather than grow without end


def cached_path(app: object, resolve: Callable[..., URLPath], name: str, params: dict[str, Any]) -> URLPath:
    """`resolve(name, **params)` (a route's path), worked out once per app."""
    key = (name, tuple(sorted(params.items())))
    paths = _PATHS.setdefault(app, {})
    try:
        return paths[key]
    except KeyError:
        pass
    except TypeError:  # a parameter that cannot be a key: no cache for it
        return resolve(name, **params)
    if len(paths) >= _PATHS_PER_APP:
        paths.clear()
    paths[key] = path = resolve(name, **params)
    return path


class App(Starlette):
    """The app: handlers' redirects and links (`request.app.url_path_for`, 40-odd places) share the page
    templates' path cache, as every wizard step's redirect and each report page's links ask for the same paths."""

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return cached_path(self, super().url_path_for, name, path_params)


@pass_context
def _path_for(context: Context, name: str, /, **params: object) -> str:
    """A site-relative path (not an absolute URL), so pages work the same behind any proxy."""
    app = context["request"].app
    return str(cached_path(app, app.url_path_for, name, params))


@pass_context
def _csrf_field(context: Context) -> Markup:
    token = getattr(context["request"].state, "csrf_token", "") or ""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


@pass_context
def _principal(context: Context) -> object:
    return getattr(context["request"].state, "principal", None)


class OffLoopTemplateResponse(_TemplateResponse):
    """A page rendered in the thread pool when it is sent, not on the event loop when the handler builds it: a
    big page (a report, the desk) would otherwise hold the loop, and /healthz and every other request with it.
    The body (and its Content-Length) exists only once the response is sent."""

    def __init__(self, template: Template, context: dict[str, Any], status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None,
                 background: BackgroundTask | None = None) -> None:
        self.template, self.context = template, context
        super(_TemplateResponse, self).__init__(b"", status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The worker thread runs in a copy of this context: the request's locale and request id go with it.
        self.body = self.render(await run_in_threadpool(self.template.render, self.context))
        self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


class Templates(Jinja2Templates):
    """Pages render off the event loop; `inline=True` for the answers that must not wait for a free worker
    thread (a busy worker's 503, an error page)."""

    def TemplateResponse(  # Starlette's name and arguments, plus `inline`
            self, request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
            headers: Mapping[str, str] | None = None, media_type: str | None = None,
            background: BackgroundTask | None = None, *, inline: bool = False) -> _TemplateResponse:
        if inline:
            return super().TemplateResponse(request, name, context, status_code, headers, media_type, background)
        context = context or {}
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return OffLoopTemplateResponse(self.get_template(name), context, status_code, headers, media_type,
                                       background)


def build_templates(*, production: bool = False) -> Templates:
    """In production templates never change while the app runs: no file check on every page (auto_reload off)
    and every template compiled once, ahead (`compile_all`), instead of on a citizen's first request."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=not production,
        cache_size=-1 if production else 400,  # -1: keep every compiled template (there are about a hundred)
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["html_lang"] = i18n.html_lang
    env.globals["current_locale"] = i18n.current_locale
    env.globals["path_for"] = _path_for
    env.globals["csrf_field"] = _csrf_field
    env.globals["principal"] = _principal
    env.globals["language_url"] = _language_url
    env.filters["local_time"] = local_time
    env.filters["local_date"] = local_date
    env.filters["wall_clock"] = wall_clock
    env.filters["machine_time"] = machine_time
    return Templates(env=env)


def compile_all(templates: Jinja2Templates) -> int:
    """Compile every template into the environment's cache (about 1.5 s of CPU: run it before serving, off the
    loop); returns how many."""
    names = templates.env.list_templates()
    for name in names:
        templates.env.get_template(name)
    return len(names)
