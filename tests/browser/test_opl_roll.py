"""The OPL admin imports a Lista Nominal in Chromium without JavaScript doing the work: the form's own CSRF field
(sent before the file) is what the server checks; the import page follows the job; every page passes axe-core."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from auth.roles import Role
from core.clock import to_local, utcnow
from tests.browser.citizen_live import collect_script_errors, load_axe, serious_violations
from tests.factories.roll import ROLL_HEADER, citizen

pytestmark = pytest.mark.browser


def test_an_opl_admin_uploads_a_roll_and_follows_its_import(live_server: Any, page: Any, sign_in_as: Any,
                                                            tmp_path: Path) -> None:
    from registry.worker import run_one

    checked = load_axe(page)
    script_errors = collect_script_errors(page)
    violations: list[str] = []
    roll = tmp_path / "lista.csv"
    roll.write_text("\n".join([ROLL_HEADER, *(citizen().csv_line() for _ in range(40)),
                               "NOTACLAVE,1,2,3,X,Y,Z,26,1,1,1,vigente"]) + "\n", encoding="utf-8")

    sign_in_as(page, Role.OPL_ADMIN)
    page.get_by_role("link", name="Lista Nominal: importar y verificar apoyos").click()
    page.get_by_role("heading", name="Lista Nominal", exact=True).wait_for()
    if checked:
        violations.extend(serious_violations(page))
    page.get_by_label("Fecha de corte").fill(to_local(utcnow()).date().isoformat())
    page.get_by_label("Archivo de la Lista Nominal").set_input_files(str(roll))
    page.get_by_role("button", name="Subir e importar").click()
    page.wait_for_url(re.compile(r"/opl/lista-nominal/importaciones/\d+$"))
    assert page.locator(".import-state").inner_text() == "En espera"

    run_one(live_server.app.state.engine, utcnow)
    page.reload()
    assert page.locator(".import-state").inner_text() == "En vigor"
    assert page.locator("table.rejections tbody tr").count() == 1
    if checked:
        violations.extend(serious_violations(page))
    assert script_errors == []
    assert violations == []
