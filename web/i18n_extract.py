"""Developer tool: collect every translatable string (templates, including `_partials`, and Python) and add
the missing ones to the English catalogue. Run `python -m web.i18n_extract`, then fill in the empty msgstr lines
(in messages.po, or move them to the .po file of their area)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from web.i18n import TRANSLATIONS_DIR, read_catalogue

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
    """Where new strings go; areas may keep their own files beside it (all are merged at start-up)."""
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"


def catalogue_files(locale: str) -> list[Path]:
    return sorted((TRANSLATIONS_DIR / locale / "LC_MESSAGES").glob("*.po"))


def stale_messages(locale: str = "en") -> set[str]:
    """Messages a catalogue file holds that no template or module uses any more."""
    known: set[str] = set()
    for path in catalogue_files(locale):
        with path.open("rb") as po_file:
            known.update(message.id for message in read_po(po_file, locale=locale) if isinstance(message.id, str))
    return known - source_messages() - {""}


def update_catalogue(locale: str = "en") -> int:
    """Add messages no catalogue file has (empty, to messages.po); returns how many are untranslated."""
    translated = read_catalogue(locale)
    with catalogue_path(locale).open("rb") as po_file:
        main_file = read_po(po_file, locale=locale)
    for message_id in sorted(source_messages()):
        if message_id not in translated and message_id not in main_file:
            main_file.add(message_id, "")
    with catalogue_path(locale).open("wb") as po_file:
        write_po(po_file, main_file, width=0, omit_header=False, sort_output=True)
    return sum(1 for message_id in source_messages() if message_id not in translated)


if __name__ == "__main__":
    print(f"untranslated: {update_catalogue()}")
