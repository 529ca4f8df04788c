import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import registry.field
from core.clock import utcnow
from core.db import session_scope
from registry.field import record_capture
from registry.models import Auxiliary, Support, SupportEvent
from registry.states import InvitationState
from registry.supports import SupportReceipt
from tests.factories.photos import flat_back, flat_identity, plain_photo, signature_png, unreadable_back
from tests.factories.processes import make_field_auxiliary, make_process
from web.security import CSRF_HEADER

BATCH = "/api/campo/lote"


class Team:
    def __init__(self, app: Starlette, *, opens: datetime | None = None, closes: datetime | None = None) -> None:
        with session_scope(app.state.engine) as db:
            auxiliary = make_field_auxiliary(db, process=make_process(db, opens=opens, closes=closes))
            self.aspirant_id, self.account_id = auxiliary.aspirant_id, auxiliary.account_id
            self.auxiliary_id = auxiliary.id


@pytest.fixture
def team(app: Starlette, client: TestClient, sign_in: Callable[..., Any]) -> Team:
    made = Team(app)
    sign_in(client, made.account_id)
    return made


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def item(key: str, aspirant_id: int, *, seed: int = 0, back: bytes | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key, "aspirant_id": aspirant_id, "captured_at": (utcnow() - timedelta(minutes=3)).isoformat(),
        "signature_method": "drawn",
        "images": {"back": "data:image/jpeg;base64," + _b64(back or flat_back(seed)), "front": _b64(plain_photo(170)),
                   "live_photo": _b64(plain_photo(150)), "signature": _b64(signature_png())}}
    return {**body, **changes}


def _send(client: TestClient, *items: Any) -> list[dict[str, Any]]:
    response = client.post(BATCH, json={"items": list(items)})
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["items"]
    return answers


def _stored(app: Starlette) -> list[tuple[Any, ...]]:
    """Every support and event as stored: what must not change when a batch is refused or fails."""
    with Session(app.state.engine) as db:
        supports = [tuple(s.model_dump().values()) for s in db.exec(select(Support).order_by(col(Support.id)))]
        events = [tuple(e.model_dump().values()) for e in db.exec(select(SupportEvent).order_by(col(SupportEvent.id)))]
    return supports + events


def test_a_batch_item_gets_a_folio_and_the_server_reads_the_back_itself(client: TestClient, app: Starlette,
                                                                        team: Team) -> None:
    [answer] = _send(client, item("clave-cliente-aaaa", team.aspirant_id,
                                  identifiers={"cic": "999999999"}))  # a device's reading is never trusted
    assert (answer["status"], answer["replay"], answer["manual_capture"]) == ("received", False, False)
    with Session(app.state.engine) as db:
        support = db.exec(select(Support)).one()
    assert (support.folio, support.cic, support.auxiliary_id) == (answer["folio"], flat_identity(0).cic,
                                                                  team.auxiliary_id)


def test_repeated_keys_get_the_same_folio_and_store_one_support(client: TestClient, app: Starlette,
                                                                 team: Team) -> None:
    first = _send(client, item("clave-cliente-aaaa", team.aspirant_id))
    again = _send(client, item("clave-cliente-aaaa", team.aspirant_id), item("clave-cliente-aaaa", team.aspirant_id))
    assert {a["folio"] for a in again} == {first[0]["folio"]} and all(a["replay"] for a in again)
    assert len(_stored(app)) == 2  # one support, one event


def test_multipart_batches_carry_the_photos_as_file_parts(client: TestClient, team: Team) -> None:
    meta = {"items": [{"key": "clave-cliente-mmmm", "aspirant_id": team.aspirant_id,
                       "captured_at": utcnow().isoformat(),
                       "images": {"back": "p0.back", "front": "p0.front", "live_photo": "p0.live",
                                  "signature": "p0.sig"}}]}
    files = {"p0.back": ("back.jpg", flat_back(1), "image/jpeg"), "p0.front": ("f.jpg", plain_photo(170)),
             "p0.live": ("l.jpg", plain_photo(150)), "p0.sig": ("s.png", signature_png(), "image/png")}
    response = client.post(BATCH, data={"lote": json.dumps(meta)}, files=files)
    assert response.status_code == 200 and response.json()["items"][0]["status"] == "received"


def test_a_write_failing_mid_batch_answers_retry_for_that_item_only(client: TestClient, app: Starlette,
                                                                    team: Team,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_second_write(**kwargs: Any) -> SupportReceipt:
        receipt = record_capture(**kwargs)  # the real write happens, then the transaction fails
        # Each time the second item is written: the batch writes it again, with a savepoint, after a failure.
        if kwargs["capture"].client_key == "clave-cliente-0001":
            raise ConnectionError("database went away mid-write")
        return receipt

    monkeypatch.setattr(registry.field, "record_capture", fail_second_write)
    items = [item(f"clave-cliente-{n:04d}", team.aspirant_id, seed=n) for n in range(3)]
    answers = _send(client, *items)
    assert [(a["status"], a.get("retryable")) for a in answers] == [("received", None), ("error", True),
                                                                    ("received", None)]
    assert "Se enviará de nuevo" in answers[1]["message"]
    before = _stored(app)
    monkeypatch.undo()
    retried = _send(client, *items)
    assert [a["status"] for a in retried] == ["received"] * 3 and [a["replay"] for a in retried] == [True, False, True]
    assert set(before) < set(_stored(app)) and len(_stored(app)) == 6


def test_inactive_auxiliary_gets_per_item_refusals_and_keeps_earlier_receipts(client: TestClient, app: Starlette,
                                                                              team: Team) -> None:
    [stored] = _send(client, item("clave-cliente-aaaa", team.aspirant_id))
    with session_scope(app.state.engine) as db:
        auxiliary = db.get(Auxiliary, team.auxiliary_id)
        assert auxiliary is not None
        auxiliary.state = InvitationState.SUSPENDED
    before = _stored(app)
    answers = _send(client, item("clave-cliente-aaaa", team.aspirant_id), item("clave-cliente-bbbb", team.aspirant_id,
                                                                              seed=1))
    assert [(a["status"], a.get("folio"), a.get("code")) for a in answers] == [
        ("received", stored["folio"], None), ("refused", None, "auxiliary_inactive")]
    assert "suspendido" in answers[1]["message"] and _stored(app) == before


def test_another_aspirants_team_is_refused_per_item(client: TestClient, app: Starlette, team: Team) -> None:
    other = Team(app)
    answers = _send(client, item("clave-cliente-aaaa", other.aspirant_id), item("clave-cliente-bbbb", 987654))
    assert [(a["status"], a["code"]) for a in answers] == [("refused", "auxiliary_not_of_aspirant")] * 2
    assert _stored(app) == []


def test_malformed_items_get_their_own_errors_beside_a_good_one(client: TestClient, app: Starlette,
                                                                 team: Team) -> None:
    _send(client, item("clave-cliente-aaaa", team.aspirant_id))
    before = _stored(app)
    good = item("clave-cliente-gggg", team.aspirant_id, seed=2)
    answers = _send(client,
                    "not an object",
                    item("x", team.aspirant_id),  # key too short
                    item("clave-cliente-t000", team.aspirant_id, captured_at="ayer"),
                    item("clave-cliente-t001", team.aspirant_id, captured_at="0001-01-01T00:00:00+05:00"),
                    item("clave-cliente-a001", 2**40),
                    item("clave-cliente-i000", team.aspirant_id, images={"back": "%%% no es base64 %%%"}),
                    item("clave-cliente-a000", "uno"),
                    item("clave-cliente-s000", team.aspirant_id, signature_method="huella"),
                    good)
    assert [(a["status"], a.get("code"), a.get("detail")) for a in answers] == [
        ("error", "malformed", "key"), ("error", "malformed", "key"), ("error", "malformed", "captured_at"),
        ("error", "malformed", "captured_at"), ("error", "malformed", "aspirant_id"),
        ("error", "malformed", "images.back"), ("error", "malformed", "aspirant_id"),
        ("error", "malformed", "signature_method"), ("received", None, None)]
    assert all(a["retryable"] is False for a in answers[:-1]) and set(before) < set(_stored(app))


def test_unreadable_backs_are_refused_until_identifiers_are_typed(client: TestClient, app: Starlette,
                                                                  team: Team) -> None:
    blind = item("clave-cliente-cccc", team.aspirant_id, back=unreadable_back())
    [refused] = _send(client, blind)
    assert (refused["status"], refused["code"]) == ("refused", "unreadable") and "CIC" in refused["message"]
    [fixed] = _send(client, {**blind, "identifiers": {"cic": "183657717"}})
    assert (fixed["status"], fixed["manual_capture"]) == ("received", True)


def test_whole_batch_problems_are_4xx_json_never_500(client: TestClient, team: Team) -> None:
    assert client.post(BATCH, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(BATCH, json={"elementos": []}).status_code == 400
    too_many = client.post(BATCH, json={"items": [{"key": f"clave-extra-{n:04d}"} for n in range(12)]}).json()
    assert [a["code"] for a in too_many["items"][10:]] == ["batch_limit"] * 2
    assert all(a["retryable"] for a in too_many["items"][10:])
    client.headers.pop(CSRF_HEADER)
    assert client.post(BATCH, json={"items": []}).status_code == 403


def test_signed_out_phones_hear_401(app: Starlette) -> None:
    with TestClient(app, base_url="https://registro.test") as anonymous:
        assert anonymous.post(BATCH, json={"items": []}).status_code == 401
        assert anonymous.get("/api/campo/sesion").status_code == 401


def test_the_session_probe_gives_the_current_token_and_teams(client: TestClient, team: Team) -> None:
    probe = client.get("/api/campo/sesion")
    assert probe.headers["cache-control"] == "no-store"
    body = probe.json()
    assert body["account_id"] == team.account_id and body["csrf_token"] == client.headers[CSRF_HEADER]
    assert body["teams"] == [{"aspirant_id": team.aspirant_id, "aspirant": "Aspirante Prueba", "can_capture": True}]


def test_reading_a_back_while_online_shows_the_cic_and_stores_nothing(client: TestClient, app: Starlette,
                                                                      team: Team) -> None:
    read = client.post("/api/campo/leer", files={"reverso": ("r.jpg", flat_back(3), "image/jpeg")}).json()
    assert read == {"ok": True, "cic": flat_identity(3).cic, "qr": True}
    blind = client.post("/api/campo/leer", files={"reverso": ("r.jpg", unreadable_back(), "image/jpeg")}).json()
    assert blind["ok"] is False and blind["advice"]
    assert _stored(app) == []


def test_the_service_worker_may_control_the_field_pages(client: TestClient) -> None:
    response = client.get("/campo/sw.js")
    assert response.headers["service-worker-allowed"] == "/campo"
    assert response.headers["content-type"].startswith("text/javascript") and "caches" in response.text
    manifest = client.get("/static/manifest.webmanifest").json()
    assert manifest["start_url"].startswith(manifest["scope"]) and manifest["scope"] == "/campo"


def test_captures_outside_the_window_are_refused_per_item_with_a_clear_message(
        client: TestClient, app: Starlette, sign_in: Callable[..., Any]) -> None:
    now = utcnow()
    late = Team(app, opens=now - timedelta(days=20), closes=now - timedelta(days=1))  # closed, inside the grace
    sign_in(client, late.account_id)
    answers = _send(client,
                    item("clave-cliente-dent", late.aspirant_id, captured_at=(now - timedelta(days=2)).isoformat()),
                    item("clave-cliente-desp", late.aspirant_id, seed=1,
                         captured_at=(now - timedelta(hours=2)).isoformat()),
                    item("clave-cliente-ante", late.aspirant_id, seed=2,
                         captured_at=(now - timedelta(days=25)).isoformat()))
    assert [(a["status"], a.get("code")) for a in answers] == [
        ("received", None), ("refused", "captured_after_window"), ("refused", "captured_before_window")]
    assert "después de que terminó el periodo" in answers[1]["message"]
    assert "Revisa la fecha y la hora del teléfono" in answers[2]["message"]
    with Session(app.state.engine) as db:
        support = db.exec(select(Support)).one()
    assert support.folio == answers[0]["folio"] and support.device_time_suspect  # accepted late: flagged
    client.headers["accept-language"] = "en"
    [english] = _send(client, item("clave-cliente-engl", late.aspirant_id, seed=3,
                                   captured_at=(now - timedelta(hours=2)).isoformat()))
    assert english["message"].startswith("The phone's date says")


def test_after_the_grace_the_server_refuses_whatever_the_phone_claims(client: TestClient, app: Starlette,
                                                                       sign_in: Callable[..., Any]) -> None:
    now = utcnow()
    closed = Team(app, opens=now - timedelta(days=20), closes=now - timedelta(days=4))  # 72-hour grace is over
    sign_in(client, closed.account_id)
    [answer] = _send(client, item("clave-cliente-tard", closed.aspirant_id,
                                  captured_at=(now - timedelta(days=5)).isoformat()))
    assert (answer["status"], answer["code"]) == ("refused", "window_closed") and "plazo" in answer["message"]
    assert _stored(app) == []


def test_the_grace_is_the_setting(client: TestClient, app: Starlette, sign_in: Callable[..., Any]) -> None:
    now = utcnow()
    app.state.settings = app.state.settings.model_copy(update={"field_grace_hours": 12})
    late = Team(app, opens=now - timedelta(days=20), closes=now - timedelta(days=1))
    sign_in(client, late.account_id)
    [answer] = _send(client, item("clave-cliente-grac", late.aspirant_id,
                                  captured_at=(now - timedelta(days=2)).isoformat()))
    assert (answer["status"], answer["code"]) == ("refused", "window_closed")
