"""Jinja2 environment with the translation layer installed and the helpers every template needs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.templating import Jinja2Templates

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
    return f"{request.url.path}?{urlencode([*params, ('lang', locale)])}"


# Starlette finds a route's path by trying every route in turn and each page asks for dozens: a seventh of the
# event loop's time under load (bench/load.py). Paths never change while an app lives, so each app keeps its own.
_PATHS: WeakKeyDictionary[object, dict[tuple[str, tuple[tuple[str, object], ...]], str]] = WeakKeyDictionary()
_PATHS_PER_APP = 20_000  # paths with ids in them are many: start over rather than grow without end


@pass_context
def _path_for(context: Context, name: str, /, **params: object) -> str:
    """A site-relative path (not an absolute URL), so pages work the same behind any proxy."""
    app = context["request"].app
    key = (name, tuple(sorted(params.items())))
    paths = _PATHS.setdefault(app, {})
    try:
        return paths[key]
    except KeyError:
        pass
    except TypeError:  # a parameter that cannot be a key: no cache for it
        return str(app.url_path_for(name, **params))
    if len(paths) >= _PATHS_PER_APP:
        paths.clear()
    paths[key] = path = str(app.url_path_for(name, **params))
    return path


@pass_context
def _csrf_field(context: Context) -> Markup:
    token = getattr(context["request"].state, "csrf_token", "") or ""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


@pass_context
def _principal(context: Context) -> object:
    return getattr(context["request"].state, "principal", None)


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
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
    return Jinja2Templates(env=env)
