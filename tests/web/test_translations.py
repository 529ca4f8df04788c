from web.i18n import read_catalogue
from web.i18n_extract import source_messages, stale_messages


def test_every_ui_string_has_an_english_translation() -> None:
    catalogue = read_catalogue("en")
    untranslated = sorted(message for message in source_messages() if message not in catalogue)
    assert untranslated == []


def test_the_catalogues_hold_no_stale_strings() -> None:
    assert stale_messages("en") == set()
