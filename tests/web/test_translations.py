from web.i18n_extract import read_catalogue, source_messages


def test_every_ui_string_has_an_english_translation() -> None:
    catalogue = read_catalogue("en")
    untranslated = sorted(m for m in source_messages() if not (catalogue.get(m) and catalogue.get(m).string))
    assert untranslated == []


def test_the_catalogue_holds_no_stale_strings() -> None:
    stale = {m.id for m in read_catalogue("en") if m.id} - source_messages()
    assert stale == set()
