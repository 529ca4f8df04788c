"""Two pages of Generar código in Chromium at phone size, checked with axe-core: the one that says what to do when
the bottom lines of the back cannot be read (nothing to type any more), and the claim of a credential that
another account registered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.applications import Starlette

from auth.roles import Role
from core.db import session_scope
from registry.codes import issue_code
from registry.models import CredentialReading
from registry.states import ReadingSource
from tests.browser.citizen_live import collect_script_errors, load_axe, serious_violations
from tests.browser.conftest import SignInAs
from tests.factories.accounts import make_account
from tests.factories.photos import BackPhoto, back_photo, warm_up_reader
from tests.factories.processes import make_process

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def backs() -> dict[str, BackPhoto]:
    warm_up_reader()
    return {"good": back_photo(11), "no_mrz": back_photo(12, hide_mrz=True)}


def bind_elsewhere(app: Starlette, cic: str) -> None:
    """Another account holds a code for this CIC, with a QR of its own (what typing a CIC used to allow)."""
    with session_scope(app.state.engine) as db:
        make_process(db)
        other = make_account(db, name="Suplantadora Prueba", email="suplanta@correo.mx")
        reading = CredentialReading(source=ReadingSource.PIPELINE, cic=cic,
                                    qr_text="http://qr.ine.mx/000000000000000000000077/20200101/P/000001")
        db.add(reading)
        db.flush()
        assert other.id is not None and reading.id is not None
        issued = issue_code(session=db, account_id=other.id, reading_id=reading.id,
                            secret_key=app.state.settings.secret_key, now=app.state.clock())
        assert issued.issued is not None


def send_back(page: Any, url: str, photo: BackPhoto) -> None:
    page.goto(url + "/ciudadano/codigo")
    page.set_input_files("#reverso", files=[{"name": "reverso.jpg", "mimeType": "image/jpeg",
                                             "buffer": photo.data}])
    page.get_by_role("button", name=re.compile("Leer")).click()


def test_unreadable_lines_and_the_claim_say_what_to_do(page: Any, live_server: Any, sign_in_as: SignInAs,
                                                        backs: dict[str, BackPhoto]) -> None:
    axe, errors, violations = load_axe(page), collect_script_errors(page), []
    sign_in_as(page, Role.CITIZEN)
    bind_elsewhere(live_server.app, backs["good"].cic)

    send_back(page, live_server.url, backs["no_mrz"])
    page.get_by_role("heading", name="No pudimos leer las líneas de abajo").wait_for()
    assert page.locator("#cic").count() == 0 and page.locator("#linea_mrz").count() == 0
    violations += serious_violations(page) if axe else []

    send_back(page, live_server.url, backs["good"])  # the retry form is on that page
    page.get_by_role("button", name=re.compile("Sí, es mi credencial")).click()
    page.locator("#errores").get_by_text("ya está registrada con otra cuenta").wait_for()
    violations += serious_violations(page) if axe else []
    page.get_by_label("Declaro que esta credencial es mía").check()
    page.get_by_role("button", name="Reclamar mi credencial y generar mi código").click()
    page.locator("#codigo-activacion").wait_for()
    violations += serious_violations(page) if axe else []
    assert errors == [] and violations == []
