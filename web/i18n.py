"""Translation layer. Source strings are Spanish (es-MX), the primary UI; English is the second locale.

Catalogues are gettext .po files (one per area of the UI) read at start-up (no compiled .mo files in git).
The current locale lives in a context variable set per request by `LocaleMiddleware`, so templates and code
share one `gettext`.
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
SOURCE_LOCALE = "es_MX"
LOCALES = ("es_MX", "en")
LOCALE_COOKIE = "lang"

_current_locale: ContextVar[str] = ContextVar("locale", default=SOURCE_LOCALE)


def read_catalogue(locale: str) -> Catalog:
    """All .po files of a locale merged: each area of the UI keeps its own file (auth.po, citizen.po, ...)."""
    merged = Catalog(locale=locale)
    for po_path in sorted((TRANSLATIONS_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as po_file:
            for message in read_po(po_file, locale=locale):
                if message.id and message.string:
                    merged.add(message.id, message.string)
    return merged


def _load_catalogue(locale: str) -> gettext_module.NullTranslations:
    buffer = BytesIO()
    write_mo(buffer, read_catalogue(locale))
    buffer.seek(0)
    return Translations(buffer)


_CATALOGUES: dict[str, gettext_module.NullTranslations] = {loc: _load_catalogue(loc) for loc in LOCALES}


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in _CATALOGUES else SOURCE_LOCALE)


def current_locale() -> str:
    return _current_locale.get()


def html_lang() -> str:
    return "es-MX" if current_locale() == SOURCE_LOCALE else current_locale()


def gettext(message: str) -> str:
    return _CATALOGUES[current_locale()].gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _CATALOGUES[current_locale()].ngettext(singular, plural, count)


_ = gettext


def choose_locale(requested: str | None, cookie: str | None, accept_language: str) -> str:
    """An explicit switch wins, then the remembered choice, then the browser's Accept-Language."""
    for choice in (requested, cookie):
        if choice in LOCALES:
            return choice
    preferred = [part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",") if part]
    negotiated = negotiate_locale(preferred, ["es_MX", "es", "en"], sep="_")
    if negotiated in ("en",):
        return "en"
    return SOURCE_LOCALE


def locale_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(locale) or locale
