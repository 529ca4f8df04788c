"""The aspirant's progress pages in Chromium at phone size (390×844): from their home to /aspirante/avance, the
threshold's progress bar and the dispersion table, then by place (one level down and back up) and by day. The
numbers are the figures' for the demo aspirant (whatever the demo supports are), nothing overflows the phone's
width (wide tables scroll inside their own region), and every page passes axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from auth.roles import Role
from registry.demo import ASPIRANT_NAMES
from registry.models import Aspirant
from registry.reports.figures import AspirantSummary, summary
from tests.browser.page_audit import audit_at

pytestmark = pytest.mark.browser


def _demo_figures(app: Any) -> AspirantSummary:
    with Session(app.state.engine) as db:
        aspirant = db.exec(select(Aspirant).where(Aspirant.full_name == ASPIRANT_NAMES[0])).one()
        [row] = summary(session=db, process_id=aspirant.process_id, aspirant_id=aspirant.id)
        return row


def _fits_the_phone(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def _cell(page: Any, column: str) -> int:
    return int(page.locator(f'#tabla-resumen [data-columna="{column}"]').inner_text().replace(",", ""))


def test_the_aspirant_follows_their_progress_on_a_phone(live_server: Any, page: Any, sign_in_as: Any) -> None:
    audit = audit_at(page, "phone")
    sign_in_as(page, Role.ASPIRANT)
    page.get_by_role("link", name="Ver tu avance: umbral, dispersión, por lugar y por día").click()
    page.get_by_role("heading", name="Tu avance", level=1).wait_for()
    mine = _demo_figures(live_server.app)
    assert _cell(page, "enviados") == mine.tally.enviados
    assert _cell(page, "en_lista_nominal") == mine.tally.en_lista_nominal
    assert _cell(page, "en_mesa_de_control") == mine.tally.en_mesa_de_control
    bar = page.get_by_role("progressbar")
    assert bar.count() == 1 and bar.is_visible()
    threshold = mine.threshold
    assert threshold.requeridos is not None
    assert int(bar.get_attribute("max")) == threshold.requeridos
    assert int(bar.get_attribute("value")) == min(threshold.contados, threshold.requeridos)
    assert page.get_by_role("img", name="Apoyos por categoría").is_visible()  # the chart, named by its title
    if threshold.dispersion is not None:
        rows = page.locator("#tabla-dispersion tbody tr")
        assert rows.count() == len(threshold.dispersion.units)
    assert _fits_the_phone(page)
    audit.check()

    page.get_by_role("link", name="Por lugar").click()
    page.get_by_role("heading", name="Apoyos por lugar", level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()
    down = page.locator("#tabla-lugar tbody th a").first
    if down.count():
        down.click()
        page.wait_for_url(re.compile(r"estado=\d+"))
        assert _fits_the_phone(page)
        audit.check()
        page.locator(".report-crumbs a").first.click()
        page.wait_for_url(re.compile(r"/aspirante/avance/lugar$"))

    page.get_by_role("link", name="Por día").click()
    page.get_by_role("heading", name="Apoyos por día", level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()
    audit.assert_clean()
