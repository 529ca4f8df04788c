"""The OPL admin's Lista Nominal pages: the upload streamed to the private data dir, the import's page before and
after the worker ran it, refusals that leave no file behind, cancel and verify, and that one OPL's admin never
reaches another's imports, jobs or processes."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from bs4 import Tag
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message

from auth.roles import Role
from auth.sessions import SESSION_COOKIE
from core.clock import utcnow
from core.db import session_scope
from core.settings import Settings
from registry.models import Job, Opl, Process, RollImport
from registry.states import JobKind, JobState
from tests.conftest import SignedIn, SignInWithRole
from tests.factories.processes import make_opl, make_process
from tests.factories.roll import citizen, make_roll
from tests.web.roll_uploads import (
    PAGE,
    asgi_post,
    import_id,
    job_of,
    multipart,
    roll_csv,
    soup,
    stored,
    text,
    today,
    upload,
)
from web.security import CSRF_HEADER

CAP = 1_000_000
PHOTO_CAP = 100_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small cap for the roll upload (the real default is 4 GB), so going over it is cheap to test, and a
    smaller one for photos, so a roll past the photo cap is cheap too."""
    return settings.model_copy(update={"roll_upload_max_bytes": CAP, "upload_max_bytes": PHOTO_CAP})


@pytest.fixture
def opl(engine: Engine) -> Opl:
    with session_scope(engine) as session:
        return make_opl(session, short_name="IEE Sonora")


@pytest.fixture
def admin(client: TestClient, opl: Opl, sign_in_with_role: SignInWithRole) -> SignedIn:
    return sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl.id)


# ---------------------------------------------------------------- the upload and the import's page


def test_an_upload_is_queued_then_the_worker_puts_it_in_force(client: TestClient, admin: SignedIn, engine: Engine,
                                                             settings: Settings) -> None:
    from registry.worker import run_one

    number = import_id(upload(client))
    [kept] = stored(settings)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert "lista" not in kept.name  # a random name, never the admin's

    waiting = soup(client.get(f"{PAGE}/importaciones/{number}").text)
    assert text(waiting, ".import-state") == "En espera"
    assert isinstance(waiting.find("progress"), Tag)
    assert waiting.find("meta", attrs={"http-equiv": "refresh"}) is not None  # moves by itself while active
    assert waiting.select_one("form.job-cancel") is not None
    assert waiting.select("table.rejections") == []

    assert run_one(engine, utcnow) is not None
    done = soup(client.get(f"{PAGE}/importaciones/{number}").text)
    assert text(done, ".import-state") == "En vigor"
    assert text(done, ".import-rows") == "60"
    assert text(done, ".import-rejected") == "1"
    [(line, reason)] = [tuple(cell.get_text(strip=True) for cell in row.find_all("td"))
                        for row in done.select("table.rejections tbody tr")]
    assert line == "62" and reason.startswith("clave_elector")  # header is line 1, 60 good rows, then this one
    assert done.find("meta", attrs={"http-equiv": "refresh"}) is None
    assert done.select(".rejections-more") == []
    progress = done.find("progress")
    assert isinstance(progress, Tag) and progress["value"] == progress["max"]
    assert stored(settings) == []  # the worker deleted the uploaded copy when the job ended

    page = soup(client.get(PAGE).text)
    assert [dd.get_text(strip=True) for dd in page.select(".roll-current dd")][:2] == [
        today().strftime("%d/%m/%Y"), "60"]
    [row] = page.select("table.imports tbody tr")
    assert [td.get_text(strip=True) for td in row.find_all("td")][:5] == [
        "lista nominal.csv", today().strftime("%d/%m/%Y"), "En vigor", "60", "1"]


def test_the_import_page_says_how_many_rejected_rows_it_does_not_list(client: TestClient, admin: SignedIn,
                                                                     engine: Engine, opl: Opl) -> None:
    from registry.roll.imports import REJECTIONS_SHOWN
    from registry.worker import run_one

    bad = tuple(f"NOTACLAVE{n},1,2,3,X,Y,Z,26,1,1,1,vigente" for n in range(REJECTIONS_SHOWN + 5))
    number = import_id(upload(client, roll_csv(valid=3, bad_lines=bad)))
    run_one(engine, utcnow)
    page = soup(client.get(f"{PAGE}/importaciones/{number}").text)
    assert text(page, ".import-state") == "No se cargó"  # too many rejected rows
    assert len(page.select("table.rejections tbody tr")) == REJECTIONS_SHOWN
    assert text(page, ".rejections-more") == "y 5 más."
    assert "La Lista Nominal anterior sigue en vigor" in text(page, ".job-message")


def test_the_page_shows_a_running_job_with_its_progress_in_text(client: TestClient, admin: SignedIn,
                                                                engine: Engine) -> None:
    number = import_id(upload(client))
    with session_scope(engine) as session:
        job = session.exec(select(Job).where(Job.roll_import_id == number)).one()
        job.state, job.progress_done, job.progress_total, job.rows_seen = JobState.RUNNING, 45, 100, 1_234_567
        session.add(job)
    page = soup(client.get(PAGE).text)
    assert page.find("meta", attrs={"http-equiv": "refresh", "content": "3"}) is not None
    item = page.select_one(f"#trabajo-{job.id}")
    assert item is not None
    progress = item.find("progress")
    assert isinstance(progress, Tag) and (progress["value"], progress["max"]) == ("45", "100")
    label = page.find("label", attrs={"for": progress["id"]})
    assert label is not None  # the bar has a name, and its value in words beside it
    assert text(item, ".job-percent") == "45 %"
    assert text(item, ".job-rows") == "1,234,567 filas leídas"
    paused = soup(client.get(PAGE + "?pausa=1").text)  # the reload can be turned off (WCAG 2.2.1)
    assert paused.find("meta", attrs={"http-equiv": "refresh"}) is None


def test_with_no_active_job_the_page_does_not_reload(client: TestClient, admin: SignedIn) -> None:
    page = soup(client.get(PAGE).text)
    assert page.find("meta", attrs={"http-equiv": "refresh"}) is None
    form = page.select_one("form[enctype='multipart/form-data']")
    assert form is not None
    names = [field["name"] for field in form.find_all("input")]
    assert names == ["csrf_token", "corte", "columnas", "archivo"]  # the token comes before the file
    for field in form.find_all("input", attrs={"type": ["date", "text", "file"]}):
        assert form.find("label", attrs={"for": field["id"]}) is not None
    cutoff = form.find("input", attrs={"type": "date"})
    assert isinstance(cutoff, Tag) and cutoff["max"] == today().isoformat()


# ---------------------------------------------------------------- refusals leave no file behind


@pytest.mark.parametrize(("content", "cutoff", "columns", "message"), [
    (b"", None, "", "El archivo está vacío."),
    (None, "31/10/2026", "", "La fecha de corte no es válida"),
    (None, "2026-02-30", "", "La fecha de corte no es válida"),
    (None, "", "", "Escribe la fecha de corte"),
    (None, "tomorrow", "", "La fecha de corte no es válida"),
    (None, "future", "", "La fecha de corte no puede ser posterior a hoy."),
    (None, None, "clave=CLAVE", "Las columnas no son válidas"),
    (None, None, "=,,", "Las columnas no son válidas"),
], ids=["empty", "day-first", "no-such-day", "no-date", "junk-date", "future", "unknown-column", "bad-spec"])
def test_a_bad_upload_is_refused_in_spanish_and_its_file_deleted(client: TestClient, admin: SignedIn,
                                                                 settings: Settings, engine: Engine,
                                                                 content: bytes | None, cutoff: str | None,
                                                                 columns: str, message: str) -> None:
    if cutoff == "future":
        cutoff = (today() + timedelta(days=1)).isoformat()
    answer = upload(client, content, cutoff=cutoff, columns=columns)
    assert answer.status_code == 400 and message in answer.text
    summary = soup(answer.text).select_one(".error-summary")
    assert summary is not None and message in summary.get_text()
    assert stored(settings) == []
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(RollImport)).all() == []


def test_an_upload_without_a_file_is_refused(client: TestClient, admin: SignedIn, settings: Settings) -> None:
    answer = client.post(PAGE, data={"corte": today().isoformat()}, files={"otro": ("x.txt", b"", "text/plain")})
    assert answer.status_code == 400 and "Elige el archivo de la Lista Nominal." in answer.text
    empty_choice = client.post(PAGE, data={"corte": today().isoformat()},
                               files={"archivo": ("", b"", "application/octet-stream")})
    assert empty_choice.status_code == 400 and "Elige el archivo" in empty_choice.text
    assert stored(settings) == []


def test_a_cutoff_older_than_the_roll_in_force_is_refused(client: TestClient, admin: SignedIn, opl: Opl,
                                                          settings: Settings, engine: Engine) -> None:
    # Such a switch would drop everyone registered after that date and turn their supports into "not found".
    with session_scope(engine) as session:
        make_roll(session, opl=opl, citizens=[citizen()], cutoff=today() - timedelta(days=10))
    older = upload(client, cutoff=(today() - timedelta(days=11)).isoformat())
    assert older.status_code == 400 and "anterior a la de la Lista Nominal en vigor" in older.text
    assert stored(settings) == []
    assert upload(client, cutoff=(today() - timedelta(days=10)).isoformat()).status_code == 303  # same cut-off


def test_one_import_at_a_time(client: TestClient, admin: SignedIn, settings: Settings) -> None:
    import_id(upload(client))
    second = upload(client)
    assert second.status_code == 409 and "Ya hay una importación en cola o en curso" in second.text
    assert len(stored(settings)) == 1


def test_an_upload_over_the_cap_is_refused_before_it_is_stored(client: TestClient, admin: SignedIn,
                                                               settings: Settings) -> None:
    answer = upload(client, b"x" * (CAP + 100_000))
    assert answer.status_code == 413
    assert stored(settings) == []


def test_a_chunked_upload_that_passes_the_cap_leaves_no_file(app: Starlette, client: TestClient, admin: SignedIn,
                                                             settings: Settings) -> None:
    head = multipart([("csrf_token", admin.csrf_token.encode(), None), ("corte", b"2026-10-31", None)])
    head = head.removesuffix(b"--limite--\r\n") + (
        b'--limite\r\nContent-Disposition: form-data; name="archivo"; filename="l.csv"\r\n\r\n')
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": head if pulled == 1 else b"a" * 64_000, "more_body": True}

    status = asgi_post(app, PAGE, receive, {"content-type": "multipart/form-data; boundary=limite",
                                       "cookie": f"{SESSION_COOKIE}={admin.session_token}",
                                       "sec-fetch-site": "same-origin"})
    assert status == 413 and pulled * 64_000 > CAP  # it did start storing the file, then dropped it
    assert stored(settings) == []


def test_a_body_that_is_not_multipart_is_a_400_not_a_500(client: TestClient, admin: SignedIn) -> None:
    client.headers.pop(CSRF_HEADER)
    answer = client.post(PAGE, data={"csrf_token": admin.csrf_token, "corte": today().isoformat()})
    assert answer.status_code == 400 and "No recibimos el formulario completo" in answer.text
    garbled = client.post(PAGE, content=b"--limite\r\nsin cabeceras", headers={
        "content-type": "multipart/form-data; boundary=limite", CSRF_HEADER: admin.csrf_token})
    assert garbled.status_code == 400


def test_the_pages_in_english(client: TestClient, admin: SignedIn) -> None:
    number = import_id(upload(client))
    page = client.get(PAGE, headers={"accept-language": "en"})
    assert "Import a Lista Nominal" in page.text and "up to 1 MB." in page.text
    detail = client.get(f"{PAGE}/importaciones/{number}", headers={"accept-language": "en"})
    assert "Waiting" in detail.text and "No progress yet" in detail.text


# ---------------------------------------------------------------- CSRF without JavaScript: a field before the file


def test_the_token_as_a_field_before_the_file_is_accepted(client: TestClient, admin: SignedIn) -> None:
    client.headers.pop(CSRF_HEADER)
    body = multipart([("csrf_token", admin.csrf_token.encode(), None),
                       ("corte", today().isoformat().encode(), None), ("archivo", roll_csv(), "lista.csv")])
    answer = client.post(PAGE, content=body, headers={"content-type": "multipart/form-data; boundary=limite"},
                         follow_redirects=False)
    import_id(answer)


def test_the_csrf_check_does_not_parse_the_roll_as_a_form(client: TestClient, admin: SignedIn,
                                                          settings: Settings) -> None:
    # Parsed as a form by the guard, a file past the photo cap was refused (413) and spooled to /tmp first.
    client.headers.pop(CSRF_HEADER)
    content = roll_csv(valid=3000)
    assert PHOTO_CAP < len(content) < CAP
    body = multipart([("csrf_token", admin.csrf_token.encode(), None),
                       ("corte", today().isoformat().encode(), None), ("archivo", content, "lista.csv")])
    answer = client.post(PAGE, content=body, headers={"content-type": "multipart/form-data; boundary=limite"},
                         follow_redirects=False)
    import_id(answer)
    [kept] = stored(settings)
    assert kept.read_bytes() == content


@pytest.mark.parametrize("token", ["after-the-file", "wrong", "missing"])
def test_a_forged_upload_stores_nothing(client: TestClient, admin: SignedIn, settings: Settings,
                                        token: str) -> None:
    client.headers.pop(CSRF_HEADER)
    file_part = ("archivo", roll_csv(), "lista.csv")
    date_part = ("corte", today().isoformat().encode(), None)
    parts = {"after-the-file": [date_part, file_part, ("csrf_token", admin.csrf_token.encode(), None)],
             "wrong": [("csrf_token", b"x" * 43, None), date_part, file_part],
             "missing": [date_part, file_part]}[token]
    answer = client.post(PAGE, content=multipart(parts),
                         headers={"content-type": "multipart/form-data; boundary=limite"})
    assert answer.status_code == 403
    assert stored(settings) == []


def test_a_cross_site_upload_is_refused_even_with_the_token(client: TestClient, admin: SignedIn,
                                                            settings: Settings) -> None:
    client.headers.pop(CSRF_HEADER)
    body = multipart([("csrf_token", admin.csrf_token.encode(), None), ("archivo", roll_csv(), "lista.csv")])
    answer = client.post(PAGE, content=body, headers={"content-type": "multipart/form-data; boundary=limite",
                                                      "sec-fetch-site": "cross-site"})
    assert answer.status_code == 403 and stored(settings) == []


# ---------------------------------------------------------------- cancel and verify


def test_cancelling_a_queued_import(client: TestClient, admin: SignedIn, engine: Engine) -> None:
    number = import_id(upload(client))
    job = job_of(engine, number)
    answer = client.post(f"/opl/trabajos/{job.id}/cancelar", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"{PAGE}/importaciones/{number}"
    assert job_of(engine, number).state is JobState.CANCELLED
    page = soup(client.get(answer.headers["location"]).text)
    assert text(page, ".job-state") == "Cancelado"
    assert page.select("form.job-cancel") == []


def _process(engine: Engine, opl: Opl, *, with_roll: bool = True) -> Process:
    with session_scope(engine) as session:
        process = make_process(session, opl=opl, name="Gubernatura 2027")
        if with_roll:
            make_roll(session, opl=opl, citizens=[citizen()])
    return process


def _verify_jobs(engine: Engine) -> list[Job]:
    with session_scope(engine, read_only=True) as session:
        return list(session.exec(select(Job).where(Job.kind == JobKind.VERIFY)))


def test_verify_queues_the_compulsa_of_that_process_once(client: TestClient, admin: SignedIn, opl: Opl,
                                                          engine: Engine) -> None:
    process = _process(engine, opl)
    form = soup(client.get(PAGE).text).select_one("form.process-verify")
    assert form is not None and form["action"] == f"/opl/procesos/{process.id}/verificar"
    answer = client.post(f"/opl/procesos/{process.id}/verificar", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"{PAGE}?aviso=verificacion"
    [job] = _verify_jobs(engine)
    assert (job.process_id, job.opl_id, job.state) == (process.id, opl.id, JobState.QUEUED)
    again = client.post(f"/opl/procesos/{process.id}/verificar")
    assert again.status_code == 200 and "Ya hay una verificación en cola o en curso" in again.text
    assert len(_verify_jobs(engine)) == 1


def test_verify_without_a_roll_in_force_is_refused(client: TestClient, admin: SignedIn, opl: Opl,
                                                   engine: Engine) -> None:
    process = _process(engine, opl, with_roll=False)
    answer = client.post(f"/opl/procesos/{process.id}/verificar")
    assert "No hay Lista Nominal en vigor" in answer.text and _verify_jobs(engine) == []


def test_another_opl_admin_gets_404_everywhere(client: TestClient, admin: SignedIn, opl: Opl, engine: Engine,
                                               sign_in_with_role: SignInWithRole) -> None:
    number = import_id(upload(client))
    job = job_of(engine, number)
    process = _process(engine, opl)
    with session_scope(engine) as session:
        other = make_opl(session, short_name="IEPC Durango", state_code=10)
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=other.id)
    assert client.get(f"{PAGE}/importaciones/{number}").status_code == 404
    assert client.post(f"/opl/trabajos/{job.id}/cancelar").status_code == 404
    assert client.post(f"/opl/procesos/{process.id}/verificar").status_code == 404
    page = soup(client.get(PAGE).text)
    assert page.select("table.imports") == [] and page.select(".jobs") == []
    assert page.select("form.process-verify") == []
    assert job_of(engine, number).state is JobState.QUEUED and _verify_jobs(engine) == []


@pytest.mark.parametrize("number", ["0", "99999999999999999999", "2147483648", "9" * 5000])
def test_an_id_no_row_can_have_is_a_404_not_a_500(client: TestClient, admin: SignedIn, number: str) -> None:
    assert client.get(f"{PAGE}/importaciones/{number}").status_code == 404
    assert client.post(f"/opl/trabajos/{number}/cancelar").status_code == 404
    assert client.post(f"/opl/procesos/{number}/verificar").status_code == 404


def test_a_reviewer_may_not_open_the_pages(client: TestClient, opl: Opl, sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.REVIEWER, opl_id=opl.id)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/importaciones/1").status_code == 403
    assert upload(client).status_code == 403


def test_the_opl_home_links_to_the_roll_page(client: TestClient, admin: SignedIn) -> None:
    link = soup(client.get("/opl").text).find("a", href=PAGE)
    assert link is not None
