"""The OPL admin's staff sign-in page in Chromium at phone size: usable without a script, no serious axe-core
finding as it opens and as it shows the refusal that keeps the admin from locking themself out. (Signing in
through a real institutional provider is tests/browser/test_institutional_sign_in.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from auth.roles import Role
from core.oidc_providers import OidcProviderConfig
from core.settings import Settings
from tests.browser.page_audit import PageAudit


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Never contacted here: the page only names the provider; the admin signs in through the local provider.
    provider = OidcProviderConfig.model_validate({
        "name": "iepc", "display_name": "IEPC Institucional", "client_id": "registro", "client_secret": "x",
        "discovery_url": "https://sso.invalid/realms/iepc/.well-known/openid-configuration",
        "roles": ["reviewer", "opl_admin"], "amr_values": ["otp"]})
    return settings.model_copy(update={"oidc_providers": [provider]})


def test_the_policy_page_and_its_lock_out_refusal_are_accessible(live_server: Any, page: Any,
                                                                  sign_in_as: Any) -> None:
    audit = PageAudit(page)
    sign_in_as(page, Role.OPL_ADMIN)
    page.get_by_role("link", name="Acceso del personal").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Acceso del personal"
    assert page.get_by_label("Con cualquiera (sin regla)").is_checked()
    audit.check()
    page.get_by_label("Solo con IEPC Institucional").check()
    page.get_by_label("Pedir un segundo factor de autenticación").check()
    page.get_by_role("button", name="Guardar").click()
    assert "te dejaría fuera" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Con cualquiera (sin regla)").is_checked()  # nothing changed
    audit.check()
    audit.assert_clean()
