"""«¿Qué cambió?» in Chromium at phone size (390×844), on the demo data: the aspirant's own page and the
reviewer's, with the form used as a person would (no JavaScript needed), nothing wider than the phone, and
axe-clean."""

from __future__ import annotations

from typing import Any

import pytest

from auth.roles import Role
from tests.browser.page_audit import audit_at

pytestmark = pytest.mark.browser


def _fits_the_phone(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize(("role", "path"), [(Role.ASPIRANT, "/aspirante/avance/cambios"),
                                            (Role.REVIEWER, "/reportes/cambios")])
def test_what_changed_reads_on_a_phone(live_server: Any, page: Any, sign_in_as: Any, role: Role, path: str) -> None:
    audit = audit_at(page, "phone")
    sign_in_as(page, role)
    page.goto(live_server.path(path))
    page.get_by_role("heading", name="¿Qué cambió?", level=1).wait_for()
    audit.check()
    page.get_by_label("Desde").fill("2000-01-01T00:00")
    page.get_by_role("button", name="Ver qué cambió").click()
    page.get_by_role("heading", name="¿Qué cambió?", level=1).wait_for()
    came_in = page.locator("#lista-entraron > li")
    assert came_in.count() > 0  # every demo support came in since 2000
    assert page.locator('[data-cifra="antes"]').inner_text() == "0"
    assert _fits_the_phone(page)
    audit.check()
    audit.assert_clean()
