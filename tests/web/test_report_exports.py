"""The INE roll-office export over the web and the command line: OPL admins of the aspirant's OPL only (a
reviewer, who also reads reports, gets 403; another OPL's admin 404), streamed CSV and XLSX named with the
aspirant's name, nothing cached, and an audit row saying who exported what, never the contents."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from auth.roles import Role
from core.audit import AuditEvent
from core.clock import utcnow
from core.db import session_scope
from registry.models import Aspirant, Process
from registry.reports.ine_export import EXPORTED, HEADER
from registry.verification.compulsa import verify_process
from tests.conftest import SignInWithRole
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support


@pytest.fixture
def people() -> list[Citizen]:
    return [citizen(seccion=1500 + n) for n in range(3)]


@pytest.fixture
def aspirant(engine: Engine, people: list[Citizen]) -> Aspirant:
    """María López Hernández, of the Sonora OPL, with three verified supports; another OPL has its own aspirant."""
    with session_scope(engine) as session:
        opl = make_opl(session, short_name="IEE Sonora")
        process = make_process(session, opl=opl)
        made = make_aspirant(session, process=process, name="María López Hernández")
        make_roll(session, opl=opl, citizens=people)
        for person in people:
            place_support(session, aspirant_id=made.id or 0, process_id=process.id or 0, cic=person.cic)
        verify_process(session=session, process_id=process.id or 0, now=utcnow())
        make_aspirant(session, process=make_process(session, opl=make_opl(session)), name="Otro Aspirante")
        return made


def opl_of(engine: Engine, aspirant: Aspirant) -> int:
    with session_scope(engine, read_only=True) as session:
        process = session.get(Process, aspirant.process_id)
        assert process is not None
        return process.opl_id


def url(aspirant: Aspirant, fmt: str = "csv", category: str | None = None) -> str:
    query = f"?categoria={category}" if category is not None else ""
    return f"/opl/reportes/aspirante/{aspirant.id}/ine.{fmt}{query}"


def audits(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine, read_only=True) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == EXPORTED)))


def test_an_opl_admin_downloads_the_csv_named_after_the_aspirant(
        client: TestClient, engine: Engine, aspirant: Aspirant, people: list[Citizen],
        sign_in_with_role: SignInWithRole) -> None:
    admin = sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_of(engine, aspirant))
    answer = client.get(url(aspirant))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="Maria_Lopez_Hernandez.csv"'
    assert "no-store" in answer.headers["cache-control"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == list(HEADER)
    assert rows[1:] == [["26", str(p.seccion), "MARIA", "LOPEZ", "PEREZ", p.clave_elector, "", p.cic]
                        for p in people]
    [audit] = audits(engine)
    assert audit.actor_account_id == admin.account_id
    assert (audit.object_type, audit.object_id, audit.after_summary) == (
        "aspirant", str(aspirant.id), "categoria=todas formato=csv")
    assert not any(p.clave_elector in audit.after_summary or p.cic in audit.after_summary for p in people)


def test_the_xlsx_by_category(client: TestClient, engine: Engine, aspirant: Aspirant, people: list[Citizen],
                              sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_of(engine, aspirant))
    answer = client.get(url(aspirant, "xlsx", "en_lista_nominal"))
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == (
        'attachment; filename="Maria_Lopez_Hernandez_en_lista_nominal.xlsx"')
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(answer.content)).get_sheet_by_index(0).to_python()
    assert sheet[0] == list(HEADER)
    assert [row[5] for row in sheet[1:]] == [p.clave_elector for p in people]
    empty = client.get(url(aspirant, "csv", "con_inconsistencia"))
    assert empty.status_code == 200 and empty.content.decode("utf-8-sig").splitlines() == [",".join(HEADER)]
    assert [a.after_summary for a in audits(engine)] == ["categoria=en_lista_nominal formato=xlsx",
                                                         "categoria=con_inconsistencia formato=csv"]


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ASPIRANT, Role.AUXILIARY, Role.CITIZEN])
def test_only_opl_admins_export_personal_data(client: TestClient, engine: Engine, aspirant: Aspirant, role: Role,
                                              sign_in_with_role: SignInWithRole) -> None:
    grant: dict[str, Any] = {"opl_id": opl_of(engine, aspirant)} if role is Role.REVIEWER else {}
    if role is Role.ASPIRANT:
        grant = {"aspirant_id": aspirant.id}
    sign_in_with_role(client, role, **grant)
    assert client.get(url(aspirant)).status_code == 403
    assert audits(engine) == []


def test_an_anonymous_visitor_is_sent_to_sign_in(client: TestClient, aspirant: Aspirant) -> None:
    answer = client.get(url(aspirant), follow_redirects=False)
    assert answer.status_code in (302, 303)


def test_another_opls_admin_gets_404(client: TestClient, engine: Engine, aspirant: Aspirant,
                                     sign_in_with_role: SignInWithRole) -> None:
    with session_scope(engine) as session:
        elsewhere = make_opl(session, state_code=10)
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=elsewhere.id)
    assert client.get(url(aspirant)).status_code == 404
    assert audits(engine) == []


@pytest.mark.parametrize("path", ["/opl/reportes/aspirante/{id}/ine.pdf", "/opl/reportes/aspirante/{id}/ine.",
                                  "/opl/reportes/aspirante/{id}/ine.csv?categoria=todas",
                                  "/opl/reportes/aspirante/{id}/ine.csv?categoria=%00",
                                  "/opl/reportes/aspirante/987654/ine.csv",
                                  "/opl/reportes/aspirante/99999999999999999999999/ine.xlsx"])
def test_bad_requests_are_404_never_500_and_export_nothing(client: TestClient, engine: Engine, aspirant: Aspirant,
                                                           path: str, sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_of(engine, aspirant))
    answer = client.get(path.format(id=aspirant.id))
    assert answer.status_code == 404
    assert "Traceback" not in answer.text
    assert audits(engine) == []


def test_the_command_line_writes_a_private_file_named_after_the_aspirant(
        engine: Engine, aspirant: Aspirant, people: list[Citizen], tmp_path: Path, database_url: str) -> None:
    from click.testing import CliRunner

    from web.cli import main
    env = {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(tmp_path / "v"),
           "REGISTRO_SECRET_KEY": "cli-test-" + "x" * 40}
    out = tmp_path / "ine"

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["report", "ine-export", *args, "--out", str(out)], env=env)

    done = cli("--aspirant", str(aspirant.id), "--format", "csv")
    assert done.exit_code == 0, done.output
    written = out / "Maria_Lopez_Hernandez.csv"
    assert done.output.strip() == str(written)
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(written.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == list(HEADER) and [r[7] for r in rows[1:]] == [p.cic for p in people]
    by_category = cli("--aspirant", str(aspirant.id), "--format", "xlsx", "--category", "en_lista_nominal")
    assert by_category.exit_code == 0, by_category.output
    sheet = CalamineWorkbook.from_path(str(out / "Maria_Lopez_Hernandez_en_lista_nominal.xlsx"))
    assert len(sheet.get_sheet_by_index(0).to_python()) == 1 + len(people)
    assert sorted(p.name for p in out.iterdir()) == ["Maria_Lopez_Hernandez.csv",
                                                     "Maria_Lopez_Hernandez_en_lista_nominal.xlsx"]
    assert [(a.actor_account_id, a.after_summary) for a in audits(engine)] == [
        (None, "categoria=todas formato=csv"), (None, "categoria=en_lista_nominal formato=xlsx")]
    missing = cli("--aspirant", "987654", "--format", "csv")
    assert missing.exit_code == 1 and "no aspirant with id 987654" in missing.output
    unknown = cli("--aspirant", str(aspirant.id), "--format", "csv", "--category", "todas")
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_the_page_links_every_aspirants_files_by_category(client: TestClient, engine: Engine, aspirant: Aspirant,
                                                          sign_in_with_role: SignInWithRole) -> None:
    from bs4 import BeautifulSoup

    from registry.reports.categories import CATEGORIES
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_of(engine, aspirant))
    home = BeautifulSoup(client.get("/opl").text, "html.parser")
    page_link = home.find("a", href=f"/opl/reportes/{aspirant.process_id}/ine")
    assert page_link is not None
    page = client.get(str(page_link["href"]))
    assert page.status_code == 200
    html = BeautifulSoup(page.text, "html.parser")
    assert html.h2 is not None and html.h2.text == "María López Hernández"
    links = [str(a["href"]) for a in html.select("table a[download]")]
    expected = [url(aspirant, fmt, category) for category in (None, *CATEGORIES) for fmt in ("csv", "xlsx")]
    assert links == expected
    assert all(client.get(link).status_code == 200 for link in links[:2])
    assert len(audits(engine)) == 2  # the two files fetched; the page itself exports nothing


def test_the_page_is_for_the_processs_own_opl_admins(client: TestClient, engine: Engine, aspirant: Aspirant,
                                                     sign_in_with_role: SignInWithRole) -> None:
    page = f"/opl/reportes/{aspirant.process_id}/ine"
    sign_in_with_role(client, Role.REVIEWER, opl_id=opl_of(engine, aspirant))
    assert client.get(page).status_code == 403
    with session_scope(engine) as session:
        elsewhere = make_opl(session, state_code=10)
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=elsewhere.id)
    assert client.get(page).status_code == 404
    assert client.get("/opl/reportes/987654/ine").status_code == 404
