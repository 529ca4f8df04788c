"""The one rule for text people type or providers send (names, e-mails, CSV cells, typed data): what characters
are refused before anything is stored or shown.

Refused: control characters (NUL breaks PostgreSQL text columns; others corrupt CSV exports and logs), format
characters such as the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and zero-width
characters (they make a name display as something else, "Trojan Source"-style), unpaired surrogates (not
encodable as UTF-8) and line/paragraph separators. Ordinary Spanish text — letters with accents, ñ, ü,
apostrophes, hyphens, dots and spaces — always passes. Tab, line feed and carriage return are allowed as
whitespace: callers collapse whitespace anyway."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

# Unicode general categories refused: Cc control, Cf format (bidi, zero-width, soft hyphen, BOM, tags),
# Cs surrogate, Zl line separator, Zp paragraph separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ALLOWED_WHITESPACE = frozenset("\t\n\r")


class UnsafeText(ValueError):
    """The text carries a character that is refused; the message names the code point, never the text."""


def unsafe_character(text: str) -> str | None:
    """The first refused character in `text`, or None when all of it may be stored."""
    for character in text:
        if character not in _ALLOWED_WHITESPACE and unicodedata.category(character) in _REFUSED_CATEGORIES:
            return character
    return None


def has_unsafe_characters(text: str) -> bool:
    return unsafe_character(text) is not None


def checked_text(text: str) -> str:
    """`text` in Unicode NFC (a decomposed "é" from some keyboards is stored like a composed one), whitespace
    collapsed to single spaces; raises UnsafeText when it carries a refused character."""
    bad = unsafe_character(text)
    if bad is not None:
        raise UnsafeText(f"refused character U+{ord(bad):04X}")
    return " ".join(unicodedata.normalize("NFC", text).split())


class TextRefusal(StrEnum):
    """Why `required_text` refused a text; each form names these in its own problem type."""

    CHARACTERS = "characters"
    MISSING = "missing"
    TOO_LONG = "too_long"


def required_text(text: str, max_chars: int) -> tuple[str, TextRefusal | None]:
    """A required text field (a name, a label) through `checked_text`: (the clean text, None), or with why it is
    refused: its characters (the text is then ""), nothing left, or over `max_chars`."""
    try:
        value = checked_text(text)
    except UnsafeText:
        return "", TextRefusal.CHARACTERS
    if not value:
        return value, TextRefusal.MISSING
    return value, TextRefusal.TOO_LONG if len(value) > max_chars else None


def without_unsafe_characters(text: str) -> str:
    """For text we cannot send back to be corrected (a provider's profile name): the refused characters dropped,
    NFC, whitespace collapsed."""
    kept = "".join(c for c in text if c in _ALLOWED_WHITESPACE or unicodedata.category(c) not in _REFUSED_CATEGORIES)
    return " ".join(unicodedata.normalize("NFC", kept).split())


MAX_ROW_ID = 2_147_483_647  # integer primary keys (PostgreSQL INTEGER)


def as_row_id(value: object) -> int | None:
    """A row number typed in a form or query (`aspirante=3`), or None. Only ASCII digits, and few of them:
    "²" passes str.isdigit() yet int() refuses it, and int() refuses more than 4,300 digits; either was a 500."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ROW_ID)):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ROW_ID else None
