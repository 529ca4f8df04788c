"""Garantía de audiencia in Chromium, at phone and desktop size: the aspirant opens a rejected support, sees its
reason and its evidence image, files an objection with the keyboard alone, and sees the support under objection;
once the reviewer upholds it (through the desk's service), the aspirant's counts move. Every page passes axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from auth.demo_people import DEMO_PEOPLE
from auth.models import Account
from auth.roles import Role
from core.db import session_scope
from registry.demo import ASPIRANT_NAMES
from registry.images import clean_image, store_image
from registry.models import Aspirant, Support
from registry.states import ImageKind, SituacionRegistral
from tests.browser.aspirant_pages import progress_counts
from tests.browser.page_audit import audit_at
from tests.factories.objections import rejected_support, uphold
from tests.factories.photos import plain_photo

pytestmark = pytest.mark.browser


def _uphold(app: Any, support_id: int) -> None:
    reviewer = next(person for person in DEMO_PEOPLE if person.role is Role.REVIEWER)
    with session_scope(app.state.engine) as db:
        account = db.exec(select(Account).where(Account.email == reviewer.email)).one()
        support = db.get(Support, support_id)
        assert support is not None and account.id is not None
        uphold(db, support=support, reviewer_account_id=account.id, resolution="La credencial está vigente.")


def _rejected_with_photo(app: Any) -> tuple[int, str]:
    """A support of the demo aspirant the compulsa found a baja, with its live photo; (id, folio)."""
    settings = app.state.settings
    clean = clean_image(plain_photo(110), kind=ImageKind.LIVE_PHOTO, max_bytes=settings.upload_max_bytes,
                        max_pixels=settings.upload_max_pixels)
    with session_scope(app.state.engine) as db:
        aspirant = db.exec(select(Aspirant).where(Aspirant.full_name == ASPIRANT_NAMES[0])).one()
        support = rejected_support(db, aspirant=aspirant, situacion=SituacionRegistral.BAJA)
        support.live_photo_id = store_image(session=db, store=app.state.image_store, image=clean).id
        db.add(support)
        assert support.id is not None
        return support.id, support.folio


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_aspirant_contests_a_rejected_support_with_the_keyboard(live_server: Any, page: Any, sign_in_as: Any,
                                                                     size: str) -> None:
    audit = audit_at(page, size)
    support_id, folio = _rejected_with_photo(live_server.app)

    sign_in_as(page, Role.ASPIRANT)
    before = progress_counts(page)
    page.get_by_role("link", name="Ver los apoyos que no cuentan y presentar objeciones").click()
    page.get_by_role("heading", name="Apoyos que no cuentan").wait_for()
    audit.check()
    page.get_by_role("link", name=folio).click()
    page.wait_for_url(re.compile(rf"/aspirante/apoyos/{support_id}$"))
    assert "Baja del padrón" in page.locator("#motivo").inner_text()
    image = page.get_by_role("img", name="Foto viva")
    image.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    audit.check()

    page.get_by_label("Argumento de tu objeción").focus()
    page.keyboard.type("La persona votó en 2024: su credencial sigue vigente.")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Presentar objeción"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?hecho=objecion$"))
    assert page.locator("#estado").inner_text() == "En objeción"
    assert "Objeción en espera de respuesta" in page.locator("section", has=page.locator("#objeciones")).inner_text()
    audit.check()

    _uphold(live_server.app, support_id)
    page.reload()
    assert page.locator("#estado").inner_text() == "Sí cuenta"
    assert "Objeción procedente" in page.locator("section", has=page.locator("#objeciones")).inner_text()
    page.get_by_role("link", name="Volver a los apoyos que no cuentan").click()
    page.get_by_role("link", name="Volver a tu candidatura").click()
    after = progress_counts(page)
    assert (after["Cuentan"], after["No cuentan"], after["En objeción"]) == (
        before["Cuentan"] + 1, before["No cuentan"] - 1, before["En objeción"])
    audit.assert_clean()
