"""Crash safety of the intake (issue 14, deliverable 6): the real server is killed with SIGKILL while a phone sends
supports, restarted, and the phone sends again every request it got no answer for, with the same keys. Every
support the server acknowledged is stored exactly once, no retry adds a duplicate, and the report counters still
equal a recount (the `engine` fixture checks that too)."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import utcnow
from core.db import session_scope
from core.settings import Settings
from registry.models import Support, SupportEvent
from registry.reports.counters import counter_differences
from tests.crash.servers import Server, base_env, children, free_port, session_headers
from tests.factories.photos import flat_back, plain_photo, signature_png
from tests.factories.processes import make_field_auxiliary

BATCH = "/api/campo/lote"
CLIENT_SECONDS = 240.0  # the whole stream, restart included, must end well within this


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _item(key: str, aspirant_id: int, seed: int) -> dict[str, Any]:
    return {"key": key, "aspirant_id": aspirant_id, "captured_at": (utcnow() - timedelta(minutes=3)).isoformat(),
            "signature_method": "drawn",
            "images": {"back": _b64(flat_back(seed)), "front": _b64(plain_photo(170)),
                       "live_photo": _b64(plain_photo(150)), "signature": _b64(signature_png())}}


@dataclass
class Phone:
    """A phone's queue: sends batches in order and sends a batch again, same keys, until it gets an answer."""

    url: str
    headers: dict[str, str]
    batches: list[list[dict[str, Any]]]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # the key's acknowledged answer
    acknowledged: list[dict[str, Any]] = field(default_factory=list)  # every answer received, replays included
    unanswered: int = 0  # requests sent that got no answer (the server died under them, or was down)
    failure: BaseException | None = None
    progress: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        try:
            deadline = threading.Event()
            timer = threading.Timer(CLIENT_SECONDS, deadline.set)
            timer.start()
            try:
                for batch in self.batches:
                    self._send_until_answered(batch, deadline)
            finally:
                timer.cancel()
        except BaseException as error:
            self.failure = error
        with self.progress:
            self.progress.notify_all()

    def _send_until_answered(self, batch: list[dict[str, Any]], deadline: threading.Event) -> None:
        while not deadline.is_set():
            try:
                response = httpx.post(self.url + BATCH, json={"items": batch}, headers=self.headers, timeout=60)
            except httpx.TransportError:
                self.unanswered += 1
                deadline.wait(0.2)  # the server is down: try again shortly, like the service worker's queue
                continue
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            assert [answer["status"] for answer in items] == ["received"] * len(batch), items
            with self.progress:
                for answer in items:
                    self.answers.setdefault(answer["key"], answer)
                    self.acknowledged.append(answer)
                self.progress.notify_all()
            return
        raise AssertionError("the phone's queue did not drain in time")

    def wait_for(self, acknowledged: int) -> None:
        with self.progress:
            done = self.progress.wait_for(lambda: len(self.answers) >= acknowledged or self.failure is not None,
                                          timeout=CLIENT_SECONDS)
        assert done and self.failure is None, self.failure


@pytest.fixture
def server(settings: Settings, database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = base_env(database_url=database_url, data_dir=settings.data_dir, secret_key=settings.secret_key, port=port)
    with children() as made:
        started = Server(args=["serve", "--port", str(port)], env=env, log_path=tmp_path / "server.log", port=port)
        made.append(started)
        started.start_and_wait()
        yield started


def _phone(engine: Engine, server: Server, *, items: int, per_batch: int) -> Phone:
    with session_scope(engine) as db:
        auxiliary = make_field_auxiliary(db)
        aspirant_id, account_id = auxiliary.aspirant_id, auxiliary.account_id
    keys = [f"crash-key-{n:04d}" for n in range(items)]
    all_items = [_item(key, aspirant_id, n) for n, key in enumerate(keys)]
    batches = [all_items[at:at + per_batch] for at in range(0, items, per_batch)]
    return Phone(url=server.url, headers=session_headers(engine, account_id), batches=batches)


def _kill_mid_stream_and_restart(phone: Phone, server: Server, *, after: int) -> None:
    sender = threading.Thread(target=phone.run, name="phone", daemon=True)
    sender.start()
    phone.wait_for(after)
    server.kill()  # SIGKILL: no shutdown, no flush, whatever request is in flight dies with it
    server.start_and_wait()
    sender.join(CLIENT_SECONDS)
    assert not sender.is_alive(), "the phone's queue did not drain"
    assert phone.failure is None, phone.failure


def _assert_each_acknowledged_support_stored_once(engine: Engine, phone: Phone, *, items: int) -> None:
    assert len(phone.answers) == items  # every key was acknowledged in the end
    folio_of_key = {key: answer["folio"] for key, answer in phone.answers.items()}
    for answer in phone.acknowledged:  # a retry of a stored key answers with the same folio (a replay)
        assert answer["folio"] == folio_of_key[answer["key"]]
    with Session(engine) as db:
        stored = Counter(db.exec(select(Support.folio)).all())
        events = db.exec(select(func.count()).select_from(SupportEvent)).one()
        assert counter_differences(session=db) == []
    assert stored == Counter(folio_of_key.values())  # each exactly once, nothing else
    assert events == items  # one event per support: a retry wrote no second "received"


def test_a_server_killed_during_a_stream_of_submissions_loses_and_duplicates_nothing(engine: Engine,
                                                                                   server: Server) -> None:
    items = 16
    phone = _phone(engine, server, items=items, per_batch=1)
    _kill_mid_stream_and_restart(phone, server, after=6)
    assert phone.unanswered >= 1  # the kill landed in the stream: at least one request had to be sent again
    assert server.starts == 2
    _assert_each_acknowledged_support_stored_once(engine, phone, items=items)


def test_a_server_killed_during_a_batch_sync_loses_and_duplicates_nothing(engine: Engine, server: Server) -> None:
    items = 30
    phone = _phone(engine, server, items=items, per_batch=10)
    _kill_mid_stream_and_restart(phone, server, after=10)
    assert phone.unanswered >= 1
    _assert_each_acknowledged_support_stored_once(engine, phone, items=items)

