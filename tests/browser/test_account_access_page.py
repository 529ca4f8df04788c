"""In Chromium, on a phone: «Formas de entrar» is reached from the signed-in header, lists the provider the person
signed in with (without the subject), keeps the only way in, and passes axe-core (WCAG 2.1 AA) without the page
getting wider than the phone."""

from __future__ import annotations

from typing import Any

import pytest

from auth.roles import Role
from tests.browser.conftest import LiveServer, SignInAs
from tests.browser.page_audit import audit_at

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_accounts_page_from_the_header(page: Any, live_server: LiveServer, sign_in_as: SignInAs,
                                           size: str) -> None:
    sign_in_as(page, Role.REVIEWER)
    audit = audit_at(page, size)
    page.get_by_role("link", name="Formas de entrar").click()
    page.wait_for_url(live_server.path("/cuenta/accesos"))
    linked = page.get_by_role("list", name="Cuentas vinculadas")
    assert "Proveedor local de pruebas" in linked.inner_text() and "demo-revisora" not in page.content()
    assert "Es tu única forma de entrar" in linked.inner_text()
    assert page.get_by_role("button", name="Desvincular Proveedor local de pruebas").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    audit.check()
    audit.assert_clean()
