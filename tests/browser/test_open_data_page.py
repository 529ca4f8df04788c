"""The public pages in Chromium at phone size (390×844), with no account: from the home page to the open data of a
process (its tables show the published figures, wide tables scroll inside their own region, nothing overflows)
and «Verifica tu apoyo» (the form, a wrong entry, an answer). Every page passes axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from registry.reports.open_data import process_data, shown
from tests.browser.page_audit import audit_at
from tests.registry.reports.test_open_data import seed_open_data

pytestmark = pytest.mark.browser


def _fits_the_phone(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_open_data_on_a_phone(live_server: Any, page: Any) -> None:
    with Session(live_server.app.state.engine, expire_on_commit=False) as db:
        seeded = seed_open_data(db)
        published = process_data(session=db, process_id=seeded.process_id, k=5)
    assert published is not None
    audit = audit_at(page, "phone")
    page.goto(live_server.path("/"))
    page.get_by_role("link", name="Datos abiertos: avance de cada proceso").click()
    page.get_by_role("heading", name="Datos abiertos", level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()

    page.get_by_role("link", name="Gubernatura Sonora 2027").click()
    page.get_by_role("heading", name="Gubernatura Sonora 2027", level=1).wait_for()
    rosa = published.aspirantes[0]
    table = page.get_by_role("table", name="Apoyos por municipio: Rosa Aspirante")
    first = table.locator("tbody tr").first
    assert first.locator("th").inner_text() == rosa.municipios[0].name
    assert first.locator("td").first.inner_text() == str(shown(rosa.municipios[0].cells["enviados"]))
    days = page.get_by_role("table", name="Apoyos por día de recepción: Rosa Aspirante")
    assert days.locator("tbody tr").count() == len(rosa.dias)
    assert page.get_by_role("region", name="Apoyos por municipio: Rosa Aspirante").is_visible()
    assert _fits_the_phone(page)
    audit.check()
    audit.assert_clean()


def test_verifica_tu_apoyo_on_a_phone(live_server: Any, page: Any) -> None:
    audit = audit_at(page, "phone")
    page.goto(live_server.path("/"))
    page.get_by_role("link", name="Verifica si se registró un apoyo con tu credencial").click()
    page.get_by_role("heading", name="Verifica tu apoyo", level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()

    page.get_by_label("Clave de elector").fill("no es una clave")
    page.get_by_label("CIC (código de identificación de la credencial)").fill("123456789")
    page.get_by_role("button", name="Verificar").click()
    page.get_by_role("alert").filter(has_text="La clave de elector tiene 18 caracteres").wait_for()
    audit.check()

    page.get_by_label("Clave de elector").fill("GOVAMA80070526M123")
    page.get_by_role("button", name="Verificar").click()
    page.get_by_text("No encontramos ningún apoyo registrado con esa clave de elector y ese CIC.").wait_for()
    assert _fits_the_phone(page)
    audit.check()
    audit.assert_clean()
