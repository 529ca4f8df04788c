"""/metrics: only for a scraper on this machine or one with the token; requests counted by route template (never
the path as sent); decode time and queue; gauges read from the database; several worker processes added up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.clock import utcnow
from core.settings import Settings, SettingsError, load_settings
from registry.intake.credential import CredentialData
from registry.jobs import JobRequest, enqueue
from registry.models import Process
from registry.states import Channel, JobKind, ReadingSource
from registry.supports import SupportSubmission, submit_support
from tests.conftest import REPO_ROOT, TEST_ORIGIN
from tests.factories.objections import valid_support
from tests.factories.processes import make_aspirant
from web.app import create_app
from web.metrics import MULTIPROC_ENV, multiprocess_metrics

TOKEN = "metrics-token-" + "k" * 40
CLAVE = "PRMRJN85031209H400"
LOOPBACK = ("127.0.0.1", 40000)


def _scrape(app: Starlette, **headers: str) -> str:
    with TestClient(app, base_url=TEST_ORIGIN, client=LOOPBACK) as local:
        answer = local.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_a_client_elsewhere_is_refused_without_the_token(client: TestClient) -> None:
    answer = client.get("/metrics")  # the test client's address is "testclient", not loopback
    assert answer.status_code == 403 and "registro_" not in answer.text
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403  # none set


def test_a_proxied_request_is_refused_even_from_loopback(app: Starlette) -> None:
    """Behind a proxy on this machine every visitor connects from 127.0.0.1; the forwarding header tells them
    apart from a local scraper."""
    with TestClient(app, base_url=TEST_ORIGIN, client=LOOPBACK) as local:
        assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403
        assert local.get("/metrics").status_code == 200


def test_the_token_lets_a_scraper_elsewhere_in(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}))
    with TestClient(app, base_url=TEST_ORIGIN) as remote:
        assert remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 403
        assert remote.get("/metrics", headers={"Authorization": TOKEN}).status_code == 403


def test_requests_are_counted_by_route_template_never_by_path(app: Starlette, client: TestClient) -> None:
    route = "/opl/procesos/{process_id}/reportes"
    before = _value(_scrape(app), "registro_http_requests_total", route=route, method="GET", status="303")
    client.get("/opl/procesos/4242/reportes?correo=maria@example.com")  # anonymous: sent to sign in (303)
    client.get(f"/{CLAVE}")  # matches no route
    text = _scrape(app)
    after = _value(text, "registro_http_requests_total", route=route, method="GET", status="303")
    assert after == before + 1
    assert _value(text, "registro_http_request_duration_seconds_count", route=route) >= 1
    assert _value(text, "registro_http_requests_total", route="[unmatched]", status="404") >= 1
    # The id may turn up inside a number (a byte count, a start time): only the labels must never carry it.
    assert not any("4242" in value for value in _label_values(text))
    assert CLAVE not in text and "example.com" not in text


def test_the_database_gauges_count_jobs_the_compulsa_queue_and_supports_by_status(app: Starlette,
                                                                                  session: Session) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    submission = SupportSubmission(idempotency_key="metrics-1", aspirant_id=aspirant.id, channel=Channel.CITIZEN,
                                   credential=_credential(), captured_at=utcnow())
    submit_support(session=session, submission=submission, actor_account_id=None, now=utcnow())
    valid_support(session, aspirant=aspirant)
    process = aspirant.process_id
    enqueue(session=session, actor_account_id=None, now=utcnow(),
            request=JobRequest(kind=JobKind.VERIFY, opl_id=_opl_of(session, process), process_id=process))
    session.commit()
    text = _scrape(app)
    assert _value(text, "registro_database_up") == 1
    assert _value(text, "registro_jobs", kind="verify", state="queued") == 1
    assert _value(text, "registro_jobs", kind="roll_import", state="queued") == 0
    assert _value(text, "registro_supports", status="received") == 1
    assert _value(text, "registro_supports", status="valid") == 1
    assert _value(text, "registro_pending_verifications") >= 1


def _credential() -> CredentialData:
    return CredentialData(source=ReadingSource.PIPELINE, cic="123456789", identificador_ciudadano="987654321",
                          qr_text="http://qr.ine.mx/000000000000000000000001/20200101/P/000001")


def _opl_of(session: Session, process_id: int) -> int:
    process = session.get(Process, process_id)
    assert process is not None
    return process.opl_id


def test_a_decode_is_timed_and_leaves_the_queue_gauges_as_it_found_them(app: Starlette) -> None:
    before = _scrape(app)
    read = partial(app.state.decoder.read_back, b"not a photo at all", today=date(2026, 11, 30))
    with ThreadPoolExecutor(1) as thread:  # an event loop of its own, whatever ran before in this process
        decoded = thread.submit(anyio.run, read).result()
    assert not decoded.reading.ok
    after = _scrape(app)
    assert _value(after, "registro_decode_seconds_count") == _value(before, "registro_decode_seconds_count") + 1
    assert _value(after, "registro_decode_in_flight") == 0 and _value(after, "registro_decode_waiting") == 0


def test_serve_with_several_workers_gets_a_fresh_private_metrics_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_metrics(1):
        assert MULTIPROC_ENV not in os.environ  # one process keeps its metrics in memory
    with multiprocess_metrics(2):
        directory = Path(os.environ[MULTIPROC_ENV])
        assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700 and not any(directory.iterdir())
    assert not directory.exists() and MULTIPROC_ENV not in os.environ


# Two worker processes (a fork, like a server's workers), then a scrape from the parent.
_WORKERS_THEN_SCRAPE = """
import os
from sqlalchemy import create_engine
from web.metrics import exposition, observe_request
child = os.fork()
observe_request(route="/healthz", method="GET", status=200, seconds=0.01)
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
print(exposition(create_engine("sqlite://")).decode())
"""


def test_the_workers_metrics_are_added_up_across_processes(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (what `serve --workers N` sets), each process writes its own files and any
    worker's /metrics reports the sum. Real processes: the variable is read when prometheus-client is imported."""
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    scraped = subprocess.run([sys.executable, "-c", _WORKERS_THEN_SCRAPE], env=env, cwd=REPO_ROOT, check=True,
                             timeout=120, capture_output=True, text=True).stdout
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    assert _value(scraped, "registro_http_requests_total", route="/healthz", status="200") == 2
    assert _value(scraped, "registro_database_up") == 0  # an empty database: the scrape still answers


@pytest.mark.parametrize("token", ["short-token", "x" * 31, "spaces are not " + "y" * 30])
def test_a_guessable_metrics_token_stops_the_start_without_printing_it(tmp_path: Path, token: str) -> None:
    with pytest.raises(SettingsError, match="REGISTRO_METRICS_TOKEN") as refused:
        load_settings(env="test", data_dir=tmp_path, metrics_token=token, secret_key="test-secret-" + "x" * 40)
    assert token not in str(refused.value)


def _label_values(text: str) -> set[str]:
    return {value for family in text_string_to_metric_families(text) for sample in family.samples
            for value in sample.labels.values()}
