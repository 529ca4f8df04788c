"""The paper pages: one form (saved, the next blank form ready with the aspirant kept; errors by field; the same
form twice), the bulk file (dry run and import, bad rows by line, idempotent), the templates, whole-file refusals
as pages (never a 500), the upload left nowhere on disk, and another OPL's aspirant out of reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from core.settings import Settings
from registry.models import Aspirant, Opl, PaperForm, PaperImport, Process, Support
from registry.paper.files import MAX_FILE_BYTES
from registry.paper.forms import FIELDS
from registry.states import Channel, SituacionRegistral
from tests.conftest import SignedIn, SignInWithRole
from tests.factories.paper import csv_file, entry_for, paper_citizen
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import make_roll
from tests.web.test_no_500 import ODD

PAGE = "/opl/papel"
FILE_PAGE = "/opl/papel/archivo"


@pytest.fixture
def aspirant(engine: Engine) -> Aspirant:
    with session_scope(engine) as session:
        return make_aspirant(session, process=make_process(session, opl=make_opl(session, short_name="IEE Sonora")))


@pytest.fixture
def staff(client: TestClient, aspirant: Aspirant, engine: Engine, sign_in_with_role: SignInWithRole) -> SignedIn:
    """An admin of the aspirant's OPL; another OPL has its own aspirant."""
    with session_scope(engine) as session:
        make_aspirant(session, process=make_process(session, opl=make_opl(session)), name="Otro Aspirante")
        process = session.get(Process, aspirant.process_id)
        assert process is not None
        own_opl = process.opl_id
    return sign_in_with_role(client, Role.OPL_ADMIN, opl_id=own_opl)


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def form_data(aspirant_id: int, **values: str) -> dict[str, str]:
    entry = entry_for(paper_citizen(), "F-1")
    fields = {name: getattr(entry, name) for name in entry.__dataclass_fields__}
    return {"aspirante": str(aspirant_id), **fields, **values}


def send_file(client: TestClient, aspirant_id: int, content: bytes, action: str, name: str = "apoyos.csv") -> Any:
    return client.post(FILE_PAGE, data={"aspirante": str(aspirant_id), "accion": action},
                       files={"archivo": (name, content, "text/csv")})


def supports(engine: Engine) -> list[Support]:
    with session_scope(engine, read_only=True) as session:
        return list(session.exec(select(Support)).all())


def test_the_form_lists_only_the_staffs_aspirants_and_keeps_the_last_one_after_saving(
        client: TestClient, staff: SignedIn, aspirant: Aspirant, engine: Engine) -> None:
    page = soup(client.get(PAGE).text)
    options = [o.get_text(strip=True) for o in page.select("#aspirante option")]
    assert options == ["Aspirante Prueba"]  # the only one: chosen, no other OPL's
    assert page.select_one("#aspirante optgroup")["label"] == "Gubernatura 2027"
    assert page.select_one("#numero_referencia").has_attr("autofocus")
    assert page.select_one("#tipo_inconsistencia option[value=otro]") is not None  # the OPL's catalogue

    sent = form_data(aspirant.id or 0)
    saved = client.post(PAGE, data=sent)
    assert saved.status_code == 200
    after = soup(saved.text)
    [stored] = supports(engine)
    assert stored.channel is Channel.PAPER
    assert stored.folio in after.select_one(".message-ok").get_text()
    assert after.select_one("#numero_referencia")["value"] == ""  # the next blank form
    assert after.select_one("#numero_referencia").has_attr("autofocus")
    assert after.select_one("#aspirante option[selected]")["value"] == str(aspirant.id)

    again = soup(client.post(PAGE, data=sent).text)
    assert "ya estaba capturado" in again.select_one(".message-ok").get_text()
    assert len(supports(engine)) == 1
    clash = client.post(PAGE, data={**sent, "nombre": "OTRA"})
    assert clash.status_code == 400
    assert stored.folio in soup(clash.text).select_one("#numero_referencia-error").get_text()


def test_a_bad_form_comes_back_with_each_problem_by_its_field_and_what_was_typed(
        client: TestClient, staff: SignedIn, aspirant: Aspirant, engine: Engine) -> None:
    answer = client.post(PAGE, data=form_data(aspirant.id or 0, clave_elector="LOPEMA9001", ocr="12",
                                              apellido_paterno="", apellido_materno=""))
    assert answer.status_code == 400
    page = soup(answer.text)
    assert page.select_one("#clave_elector-error").get_text(strip=True) == (
        "La clave de elector tiene 18 caracteres: 6 letras, 8 dígitos, H o M y 3 dígitos.")
    assert page.select_one("#ocr-error") is not None and page.select_one("#apellido_paterno-error") is not None
    assert page.select_one("#clave_elector")["aria-invalid"] == "true"
    assert page.select_one("#clave_elector")["value"] == "LOPEMA9001"
    assert [a["href"] for a in page.select("#errores a")] == ["#apellido_paterno", "#clave_elector", "#ocr"]
    assert supports(engine) == []


def test_staff_cannot_capture_or_import_for_another_opls_aspirant(
        client: TestClient, staff: SignedIn, engine: Engine) -> None:
    with session_scope(engine, read_only=True) as session:
        other = session.exec(select(Aspirant).where(Aspirant.full_name == "Otro Aspirante")).one()
    assert client.post(PAGE, data=form_data(other.id or 0)).status_code == 404
    rows = csv_file([entry_for(paper_citizen(), "F-1")])
    assert send_file(client, other.id or 0, rows, "importar").status_code == 404
    assert client.get(f"{PAGE}?aspirante={other.id}").status_code == 200  # not offered, not chosen
    assert supports(engine) == []


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ASPIRANT, Role.CITIZEN])
def test_only_opl_admins_reach_the_paper_pages(client: TestClient, aspirant: Aspirant, role: Role,
                                               sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, role)
    for path in (PAGE, FILE_PAGE, f"{PAGE}/plantilla.csv"):
        assert client.get(path).status_code in (403, 404)


def test_a_file_with_bad_rows_is_listed_by_line_then_the_corrected_file_imports_once(
        client: TestClient, staff: SignedIn, aspirant: Aspirant, engine: Engine, settings: Settings) -> None:
    people = [paper_citizen() for _ in range(3)]
    good = [entry_for(person, f"F-{n}") for n, person in enumerate(people, start=1)]
    bad = csv_file([good[0], entry_for(people[1], "F-2", ocr="12AB"), good[2]])

    for action in ("revisar", "importar"):
        answer = send_file(client, aspirant.id or 0, bad, action)
        assert answer.status_code == 400
        rows = [[td.get_text(strip=True) for td in tr.find_all("td")]
                for tr in soup(answer.text).select("table.paper-problems tbody tr")]
        assert [row[:2] for row in rows] == [["3", "OCR"]]
        assert people[1].ocr not in answer.text
    assert supports(engine) == []

    dry = soup(send_file(client, aspirant.id or 0, csv_file(good), "revisar").text)
    assert dry.select_one(".paper-added").get_text() == "3" and supports(engine) == []

    done = soup(send_file(client, aspirant.id or 0, csv_file(good), "importar").text)
    assert done.select_one("#resultado").get_text() == "Archivo importado"
    assert done.select_one(".paper-added").get_text() == "3"
    assert {s.channel for s in supports(engine)} == {Channel.BULK_IMPORT}

    again = soup(send_file(client, aspirant.id or 0, csv_file(good), "importar").text)
    assert (again.select_one(".paper-added").get_text(), again.select_one(".paper-present").get_text()) == ("0", "3")
    assert len(supports(engine)) == 3
    with session_scope(engine, read_only=True) as session:
        assert len(session.exec(select(PaperForm)).all()) == 3
        assert [i.file_name for i in session.exec(select(PaperImport))] == ["apoyos.csv", "apoyos.csv"]
    folder = settings.data_dir / "paper-uploads"
    assert not folder.exists() or list(folder.iterdir()) == []  # no copy of the citizens' data stays behind


@pytest.mark.parametrize(("content", "name", "says"), [
    (b"", "vacio.csv", "está vacío"),
    (b"\n\n", "vacio.csv", "está vacío"),
    (b"uno,dos\n1,2\n", "a.csv", "La primera línea debe ser el encabezado"),
    (b"numero_referencia,nombre\nF-1,A\n", "a.csv", "Faltan columnas en el encabezado"),
    (b"numero_referencia,nombre,apellido_paterno,apellido_materno,clave_elector,ocr,tipo_inconsistencia,"
     b"comentario\nF-1,A\x00,B,,C,D,,\n", "a.csv", "byte nulo"),
    (b"not a zip at all", "apoyos.xlsx", "no es un XLSX válido"),
])
def test_an_unusable_file_is_a_clear_message_not_a_500(client: TestClient, staff: SignedIn, aspirant: Aspirant,
                                                       content: bytes, name: str, says: str) -> None:
    answer = send_file(client, aspirant.id or 0, content, "revisar", name=name)
    assert answer.status_code == 400
    assert says in soup(answer.text).select_one("#archivo-error").get_text()


def test_a_file_over_the_limit_is_refused_with_its_size(client: TestClient, staff: SignedIn,
                                                        aspirant: Aspirant) -> None:
    answer = send_file(client, aspirant.id or 0, b"x" * (MAX_FILE_BYTES + 10), "revisar")
    assert answer.status_code == 400
    assert "pasa del límite" in soup(answer.text).select_one("#archivo-error").get_text()
    too_big = send_file(client, aspirant.id or 0, b"x" * (MAX_FILE_BYTES + 2_000_000), "revisar")
    assert too_big.status_code == 413


def test_the_templates_download_as_csv_and_xlsx(client: TestClient, staff: SignedIn) -> None:
    csv_answer = client.get(f"{PAGE}/plantilla.csv")
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.content.decode("utf-8-sig").splitlines()[0] == ",".join(FIELDS)
    xlsx = client.get(f"{PAGE}/plantilla.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:4] == b"PK\x03\x04"
    assert "attachment" in xlsx.headers["content-disposition"]


def test_the_command_line_checks_with_dry_run_then_imports_once_and_verifies(
        engine: Engine, aspirant: Aspirant, tmp_path: Path, database_url: str) -> None:
    from click.testing import CliRunner

    from registry.models import Opl
    from web.cli import main

    with session_scope(engine) as session:
        process = session.get(Process, aspirant.process_id)
        opl = session.get(Opl, process.opl_id if process else 0)
        assert opl is not None
        people = [paper_citizen() for _ in range(3)]
        make_roll(session, opl=opl, citizens=people)
    good = [entry_for(person, f"F-{n}") for n, person in enumerate(people, start=1)]
    bad, fixed = tmp_path / "con_errores.csv", tmp_path / "apoyos.csv"
    bad.write_bytes(csv_file([good[0], entry_for(people[1], "F-2", clave_elector="X"), good[2]]))
    fixed.write_bytes(csv_file(good))
    env = {"REGISTRO_ENV": "test", "REGISTRO_DATABASE_URL": database_url, "REGISTRO_DATA_DIR": str(tmp_path / "v"),
           "REGISTRO_SECRET_KEY": "cli-test-" + "x" * 40}

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["paper", "import", *args, "--aspirant", str(aspirant.id)], env=env)

    for args in ((str(bad), "--dry-run"), (str(bad),)):
        refused = cli(*args)
        assert refused.exit_code == 1, refused.output
        assert "línea 3, clave_elector: La clave de elector tiene 18 caracteres" in refused.output
        assert people[1].clave_elector not in refused.output and "Traceback" not in refused.output
    checked = cli(str(fixed), "--dry-run")
    assert checked.exit_code == 0 and "se guardarían 3 apoyos nuevos" in checked.output
    assert supports(engine) == []

    imported = cli(str(fixed))
    assert imported.exit_code == 0, imported.output
    assert "Guardamos 3 apoyos nuevos" in imported.output and "Compulsa terminada" in imported.output
    # Paper from a municipality the process did not authorise: the compulsa says so, not "valid".
    assert {s.situacion_registral for s in supports(engine)} == {SituacionRegistral.FUERA_REGIMEN_EXCEPCION}
    again = cli(str(fixed))
    assert again.exit_code == 0 and "Guardamos 0 apoyos nuevos; 3 ya estaban" in again.output
    assert len(supports(engine)) == 3
    missing = CliRunner().invoke(main, ["paper", "import", str(fixed), "--aspirant", "999999"], env=env)
    assert missing.exit_code == 1 and "no active aspirant" in missing.output


@given(data=st.data())
@examples(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_value_of_any_form_field_gets_a_500(client: TestClient, staff: SignedIn, aspirant: Aspirant,
                                               data: st.DataObject) -> None:
    sent = form_data(aspirant.id or 0)
    name = data.draw(st.sampled_from(sorted(sent)))
    answer = client.post(PAGE, data={**sent, name: data.draw(ODD)})
    assert answer.status_code < 500


def test_a_photo_of_the_form_is_kept_and_an_unusable_one_is_a_clear_message(
        client: TestClient, staff: SignedIn, aspirant: Aspirant, engine: Engine) -> None:
    from tests.factories.photos import plain_photo

    broken = client.post(PAGE, data=form_data(aspirant.id or 0),
                         files={"foto": ("formato.jpg", b"not an image", "image/jpeg")})
    assert broken.status_code == 400
    assert "La foto del formato no se pudo usar" in soup(broken.text).select_one("#foto-error").get_text()
    assert supports(engine) == []

    kept = client.post(PAGE, data=form_data(aspirant.id or 0),
                       files={"foto": ("formato.jpg", plain_photo(), "image/jpeg")})
    assert kept.status_code == 200
    with session_scope(engine, read_only=True) as session:
        form = session.exec(select(PaperForm)).one()
        assert form.form_image_id is not None


@pytest.fixture
def two_processes(engine: Engine, aspirant: Aspirant) -> tuple[int, int, int]:
    """A second process of the same OPL with its own aspirants: (its id, its first aspirant's id, the other
    process's id, where the `aspirant` fixture is)."""
    with session_scope(engine) as session:
        first = session.get(Process, aspirant.process_id)
        assert first is not None and first.id is not None
        opl = session.get(Opl, first.opl_id)
        town = make_process(session, opl=opl, name="Ayuntamiento de Álamos")
        make_aspirant(session, process=town, name="Zoila Álamos")
        chosen = make_aspirant(session, process=town, name="Beatriz Álamos")
        assert town.id is not None and chosen.id is not None
        return town.id, chosen.id, first.id


def _groups(page: BeautifulSoup) -> dict[str, list[str]]:
    return {group["label"]: [o.get_text(strip=True) for o in group.select("option")]
            for group in page.select("#aspirante optgroup")}


@pytest.mark.parametrize("path", [PAGE, FILE_PAGE])
def test_the_aspirants_are_grouped_by_process_and_the_filter_lists_one_process(
        client: TestClient, staff: SignedIn, two_processes: tuple[int, int, int], path: str) -> None:
    town, _chosen, first = two_processes
    every = soup(client.get(path).text)
    assert _groups(every) == {"Ayuntamiento de Álamos": ["Beatriz Álamos", "Zoila Álamos"],
                              "Gubernatura 2027": ["Aspirante Prueba"]}  # never another OPL's
    assert every.select_one("#aspirante option")["value"] == ""  # several: nobody chosen for the staff
    assert [o["value"] for o in every.select("#proceso option")] == ["", str(town), str(first)]

    one = soup(client.get(f"{path}?proceso={town}").text)
    assert _groups(one) == {"Ayuntamiento de Álamos": ["Beatriz Álamos", "Zoila Álamos"]}
    assert one.select_one("#proceso option[selected]")["value"] == str(town)
    assert one.select_one("form[enctype='multipart/form-data']")["action"] == f"{path}?proceso={town}"  # kept
    other_page = PAGE if path == FILE_PAGE else FILE_PAGE
    assert one.select_one(f"a[href^='{other_page}?']")["href"] == f"{other_page}?proceso={town}"


def test_a_process_filter_on_no_process_of_the_opl_lists_nobody(
        client: TestClient, staff: SignedIn, engine: Engine) -> None:
    with session_scope(engine, read_only=True) as session:
        other = session.exec(select(Aspirant).where(Aspirant.full_name == "Otro Aspirante")).one()
    for path in (PAGE, FILE_PAGE):
        page = soup(client.get(f"{path}?proceso={other.process_id}").text)
        assert page.select("#aspirante option") == []
        assert "El proceso elegido no tiene aspirantes registrados" in page.get_text()
        assert soup(client.get(f"{path}?proceso=x").text).select("#aspirante option")  # no filter: all


def test_a_form_saved_on_a_filtered_page_keeps_the_filter_and_the_aspirant(
        client: TestClient, staff: SignedIn, two_processes: tuple[int, int, int], engine: Engine) -> None:
    town, chosen, _first = two_processes
    saved = client.post(f"{PAGE}?proceso={town}", data=form_data(chosen))
    assert saved.status_code == 200
    after = soup(saved.text)
    assert list(_groups(after)) == ["Ayuntamiento de Álamos"]
    assert after.select_one("#aspirante option[selected]")["value"] == str(chosen)
    assert [s.aspirant_id for s in supports(engine)] == [chosen]


def test_an_aspirant_the_filtered_page_did_not_offer_is_not_given_the_supports(
        client: TestClient, staff: SignedIn, two_processes: tuple[int, int, int], aspirant: Aspirant,
        engine: Engine) -> None:
    """A stale page (the filter changed in another tab) must not put citizens' supports under an aspirant
    nobody chose on screen: the form comes back asking for an aspirant of the list, and nothing is stored."""
    town, _chosen, _first = two_processes
    refused = client.post(f"{PAGE}?proceso={town}", data=form_data(aspirant.id or 0))
    assert refused.status_code == 400
    page = soup(refused.text)
    assert "no es del proceso elegido" in page.select_one("#aspirante-error").get_text()
    assert page.select_one("#aspirante option")["value"] == ""  # asks again, never shows one as chosen
    assert page.select_one("#numero_referencia")["value"] == "F-1"  # what was typed is kept
    rows = csv_file([entry_for(paper_citizen(), "F-2")])
    answer = client.post(f"{FILE_PAGE}?proceso={town}", data={"aspirante": str(aspirant.id), "accion": "importar"},
                         files={"archivo": ("apoyos.csv", rows, "text/csv")})
    assert answer.status_code == 400
    assert "no es del proceso elegido" in soup(answer.text).select_one("#aspirante-error").get_text()
    assert supports(engine) == []
