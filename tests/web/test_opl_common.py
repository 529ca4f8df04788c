"""What the OPL pages share: the bulk files' templates as downloads (the processes' and the paper forms', through
one helper)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from tests.conftest import SignInWithRole
from tests.factories.processes import make_opl

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def admin(client: TestClient, engine: Engine, sign_in_with_role: SignInWithRole) -> TestClient:
    with session_scope(engine) as session:
        opl_id = make_opl(session).id
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_id)
    return client


@pytest.mark.parametrize(("path", "name", "first_column"), [
    ("/opl/procesos/plantilla", "procesos", "nombre"),
    ("/opl/papel/plantilla", "apoyos_en_papel", "numero_referencia"),
])
def test_each_template_downloads_as_csv_and_xlsx_under_its_name(admin: TestClient, path: str, name: str,
                                                                 first_column: str) -> None:
    as_csv = admin.get(f"{path}.csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    header, example = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert header[0] == first_column and len(example) == len(header)

    as_xlsx = admin.get(f"{path}.xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == XLSX
    assert as_xlsx.headers["content-disposition"] == f'attachment; filename="{name}.xlsx"'
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]] == header
