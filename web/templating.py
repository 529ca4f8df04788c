"""Jinja2 environment with the translation layer installed and the helpers every template needs."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.templating import Jinja2Templates

from core.clock import to_local
from web import i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _local_time(moment: object, fmt: str = "%d/%m/%Y %H:%M") -> str:
    from datetime import datetime

    return to_local(moment).strftime(fmt) if isinstance(moment, datetime) else ""


@pass_context
def _path_for(context: Context, name: str, /, **params: object) -> str:
    """A site-relative path (not an absolute URL), so pages work the same behind any proxy."""
    return str(context["request"].app.url_path_for(name, **params))


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
    env.filters["local_time"] = _local_time
    return Jinja2Templates(env=env)
