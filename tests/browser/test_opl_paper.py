"""Paper capture in Chromium, at phone and desktop size, with the keyboard alone: the OPL admin chooses the aspirant,
types two forms in a row (Tab between fields, Enter saves), sees the live reason for a clave de elector of the
wrong length, and after each save finds the next blank form ready (focus on its first field, the aspirant kept,
the stored folio announced); every page passes axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from auth.roles import Role
from core.db import session_scope
from registry.models import PaperForm, Support
from registry.states import Channel
from tests.browser.page_audit import audit_at
from tests.factories.paper import paper_citizen
from tests.factories.roll import Citizen

pytestmark = pytest.mark.browser

CLAVE_RULE = "La clave de elector tiene 18 caracteres"


def _active_id(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id"))


def _type_form(page: Any, reference: str, person: Citizen, *, first_clave: str | None = None) -> None:
    """From the número de referencia (focused), every field by Tab; a wrong clave first when given."""
    assert _active_id(page) == "numero_referencia"
    for value in (reference, "María", "López", "Pérez"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    assert _active_id(page) == "clave_elector"
    if first_clave is not None:
        page.keyboard.type(first_clave)
        page.keyboard.press("Tab")  # leaving the field judges it
        live = page.locator("#clave_elector-live")
        assert CLAVE_RULE in live.inner_text()
        assert "10 de 18" in live.inner_text()
        assert page.get_attribute("#clave_elector", "aria-invalid") == "true"
        page.keyboard.press("Shift+Tab")
        for _ in first_clave:
            page.keyboard.press("Backspace")
    page.keyboard.type(person.clave_elector)
    assert page.locator("#clave_elector-live").inner_text() == ""  # right again: the message went away
    page.keyboard.press("Tab")
    page.keyboard.type(person.ocr)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_two_paper_forms_in_a_row_with_the_keyboard_only(live_server: Any, page: Any, sign_in_as: Any,
                                                         size: str) -> None:
    audit = audit_at(page, size)
    first, second = paper_citizen(), paper_citizen()

    sign_in_as(page, Role.OPL_ADMIN)
    page.get_by_role("link", name="Captura de formatos en papel").click()
    page.get_by_role("heading", name="Captura de formatos en papel").wait_for()
    audit.check()
    assert _active_id(page) == "aspirante"  # none chosen yet: the aspirant comes first
    page.keyboard.press("ArrowDown")
    chosen = page.locator("#aspirante").input_value()
    assert chosen
    page.keyboard.press("Tab")

    _type_form(page, "F-001", first, first_clave="LOPEMA9001")
    done = page.locator(".message-ok")
    done.wait_for()
    assert re.search(r"Guardamos el formato con el folio RC-\w+", done.inner_text())
    assert _active_id(page) == "numero_referencia"  # the next blank form is ready
    assert page.locator("#numero_referencia").input_value() == ""
    assert page.locator("#aspirante").input_value() == chosen
    audit.check()

    first_message = done.inner_text()
    _type_form(page, "F-002", second)
    page.wait_for_function("(before) => document.querySelector('.message-ok')?.innerText !== before",
                           arg=first_message)
    assert "Guardamos el formato con el folio" in page.locator(".message-ok").inner_text()
    assert _active_id(page) == "numero_referencia"

    with session_scope(live_server.app.state.engine, read_only=True) as session:
        forms = session.exec(select(PaperForm).order_by(PaperForm.id)).all()  # type: ignore[arg-type]
        supports = [session.get(Support, form.support_id) for form in forms]
    assert [form.numero_referencia for form in forms] == ["F-001", "F-002"]
    assert [(s.channel, s.clave_elector) for s in supports if s] == [(Channel.PAPER, first.clave_elector),
                                                                     (Channel.PAPER, second.clave_elector)]
    audit.assert_clean()
