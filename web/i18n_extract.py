"""Developer tool: collect every translatable string (templates, including `_partials`, and Python) and merge
them into the English catalogue. Run `python -m web.i18n_extract`, then fill in the empty msgstr lines."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from web.i18n import TRANSLATIONS_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("web", "auth", "registry")
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _every_directory(_dirname: str) -> bool:
    # Babel skips folders that start with "_" by default, which would hide templates/_partials.
    return True


def source_messages() -> set[str]:
    messages: set[str] = set()
    for folder in SOURCE_DIRS:
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO_ROOT / folder, METHOD_MAP, OPTIONS_MAP, directory_filter=_every_directory
        ):
            messages.update([message] if isinstance(message, str) else [m for m in message if m])
    return messages


def catalogue_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"


def read_catalogue(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as po_file:
        return read_po(po_file, locale=locale)


def update_catalogue(locale: str = "en") -> int:
    """Add missing messages (empty translations) and drop ones no longer in the source; returns how many are
    still untranslated."""
    catalogue = read_catalogue(locale)
    wanted = source_messages()
    for message in list(catalogue):
        if message.id and message.id not in wanted:
            catalogue.delete(message.id)
    for message_id in sorted(wanted):
        if message_id not in catalogue:
            catalogue.add(message_id, "")
    with catalogue_path(locale).open("wb") as po_file:
        write_po(po_file, catalogue, width=0, omit_header=False, sort_output=True)
    return sum(1 for message in catalogue if message.id and not message.string)


if __name__ == "__main__":
    print(f"untranslated: {update_catalogue()}")
