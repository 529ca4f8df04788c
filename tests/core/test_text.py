import pytest

from core.text import (
    TextRefusal,
    UnsafeText,
    as_row_id,
    checked_text,
    has_unsafe_characters,
    required_text,
    without_unsafe_characters,
)

SPANISH_NAMES = ["José María Núñez Peña", "Ñandú Güemes O'Higgins", "Ana-Lucía de la Cruz", "Mónica D’Ávila",
                 "J. Ángel Íñiguez Üc", "Xóchitl Cuauhtémoc Pérez", "Mariꞌa Saltillo"]
REFUSED = ["\x00", "\x07", "\x1b", "\x1f", "\x7f", "\x85", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
           "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200d", "\u200e", "\u200f", "\u061c", "\ufeff",
           "\u00ad", "\u2028", "\u2029", "\ud800", "\U000e0041"]


@pytest.mark.parametrize("name", SPANISH_NAMES)
def test_ordinary_spanish_names_pass_unchanged(name: str) -> None:
    assert not has_unsafe_characters(name)
    assert checked_text(name) == name


@pytest.mark.parametrize("character", REFUSED)
def test_control_format_and_bidi_characters_are_refused(character: str) -> None:
    with pytest.raises(UnsafeText) as refused:
        checked_text(f"Ana{character}López")
    assert "Ana" not in str(refused.value)  # the message names the code point, never the text


def test_whitespace_is_collapsed_and_decomposed_accents_are_composed() -> None:
    assert checked_text("  Jose\u0301\tMari\u0301a \r\n Lo\u0301pez ") == "José María López"


def test_a_profile_name_loses_only_the_refused_characters() -> None:
    assert without_unsafe_characters("\u202eAna\x00 María\u200b López ") == "Ana María López"


@pytest.mark.parametrize(("typed", "expected"), [
    ("3", 3), ("2147483647", 2147483647), ("2147483648", None), ("0", None), ("", None), ("-3", None),
    ("²", None), ("٣", None), ("9" * 5001, None), (None, None), (" 3", None),
])
def test_row_ids_from_forms_and_queries(typed: object, expected: int | None) -> None:
    assert as_row_id(typed) == expected


@pytest.mark.parametrize(("typed", "expected"), [
    ("  Ana   María ", ("Ana María", None)),
    ("x" * 200, ("x" * 200, None)),
    ("x" * 201, ("x" * 201, TextRefusal.TOO_LONG)),
    (" \t ", ("", TextRefusal.MISSING)),
    ("Ana\u202e", ("", TextRefusal.CHARACTERS)),
    ("\x00" + "x" * 300, ("", TextRefusal.CHARACTERS)),  # the characters are named before the length
])
def test_a_required_text_is_cleaned_or_refused_with_one_reason(typed: str,
                                                               expected: tuple[str, TextRefusal | None]) -> None:
    assert required_text(typed, 200) == expected
