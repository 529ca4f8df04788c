"""What each step of the citizen's support wizard asks the database (issue 14: every statement is paid for on every
support), and that the queries folded together still answer every case in the same words: the code's check reads
the collection window in its own query, and a step's look-ups share that query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from core.settings import Settings
from registry.models import Aspirant, Process
from tests.browser.citizen_live import MovableClock
from tests.conftest import TEST_ORIGIN, SignIn
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_process
from tests.web.citizen_pages import Journey, Page, hidden, quick_code
from web.app import create_app

WINDOW_CLOSED = "El periodo para recabar apoyo terminó, así que los códigos pendientes ya no sirven."
PROCESS_CLOSED = "El periodo para apoyar a esta persona ya terminó."


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(settings: Settings, clock: MovableClock) -> Starlette:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def aspirants(engine: Any) -> dict[str, int]:
    """Two aspirants of an open process, and one of a second process that is open too (until a test closes it)."""
    with session_scope(engine) as db:
        process = make_process(db)
        other = make_process(db, opl=None, name="Presidencia municipal 2027")
        ids = {"ana": make_aspirant(db, process=process, name="Ana Aspirante").id,
               "beto": make_aspirant(db, process=process, name="Beto Aspirante").id,
               "otra": make_aspirant(db, process=other, name="Olga Otra").id}
    return {name: value for name, value in ids.items() if value is not None}


@pytest.fixture
def citizen(client: TestClient, engine: Any, sign_in: SignIn) -> int:
    with session_scope(engine) as db:
        account = make_account(db, name="Carmen Ciudadana", email="carmen@correo.mx", role=Role.CITIZEN)
        account_id = account.id
    assert account_id is not None
    sign_in(client, account_id)
    return account_id


def _statements(engine: Any) -> list[str]:
    """Every statement the app's engine runs from now on, but SQLite's own BEGIN (core/db.py)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def _close_process_of(engine: Any, aspirant_id: int | None) -> None:
    """The process of `aspirant_id` (None: every process) ended a minute ago, as an OPL shortening its window."""
    with session_scope(engine) as db:
        aspirant = db.get(Aspirant, aspirant_id) if aspirant_id else None
        processes = [db.get(Process, aspirant.process_id)] if aspirant else db.exec(select(Process)).all()
        for process in processes:
            assert process is not None
            process.ends_at = utcnow() - timedelta(minutes=1)
            db.add(process)


# Each request of the wizard, at most: the session's look-up is one of them. SQLite stores the two photos one by
# one, hence its one more on that step; the give step's own writes are registry/supports.py's (not counted here).
BUDGET = {"type code": 2, "aspirant page": 2, "choose aspirant": 3, "photos page": 2, "photos": 5,
          "signature page": 2, "signature": 4, "confirmation page": 3, "receipt page": 2}


def test_every_step_of_the_wizard_keeps_to_its_statements(client: TestClient, app: Starlette, citizen: int,
                                                          aspirants: dict[str, int]) -> None:
    """The code and the collection window in one query on every step; with the aspirant list, the statement of
    will or the receipt's reason and flag besides: the wizard was 60 statements on PostgreSQL, 45 now."""
    journey, seen, counted = Journey(client), _statements(app.state.engine), {}

    def measured(name: str, call: Any) -> Page:
        seen.clear()
        page = call()
        counted[name] = len(seen)
        return page

    code = quick_code(app, citizen)
    typed = measured("type code", lambda: client.post("/ciudadano/apoyo", data={"codigo": code},
                                                      follow_redirects=False))
    page = measured("aspirant page", lambda: client.get(typed.headers["location"]))
    chosen = measured("choose aspirant", lambda: client.post(
        "/ciudadano/apoyo/aspirante", data={"flujo": hidden(page, "flujo"), "aspirante": aspirants["ana"]},
        follow_redirects=False))
    page = measured("photos page", lambda: client.get(chosen.headers["location"]))
    client.follow_redirects = False
    sent = measured("photos", lambda: journey.photos(page))
    page = measured("signature page", lambda: client.get(sent.headers["location"]))
    signed = measured("signature", lambda: journey.sign(page))
    page = measured("confirmation page", lambda: client.get(signed.headers["location"]))
    given = journey.give(page, manifiesto="si", privacidad="si")
    assert given.status_code == 303, given.text
    receipt = measured("receipt page", lambda: client.get(given.headers["location"]))
    assert receipt.status_code == 200 and "Ana Aspirante" in receipt.text
    assert {name: n for name, n in counted.items() if n > BUDGET[name]} == {}, counted


def test_choosing_an_aspirant_and_the_photos_take_few_statements(client: TestClient, app: Starlette,
                                                                 citizen: int, aspirants: dict[str, int]) -> None:
    """The code's check shares the step's own look-ups' query (the statement of will in one query, not three),
    and both photos are stored together: each wizard step was 9 and 7 statements."""
    journey = Journey(client)
    entered = client.post("/ciudadano/apoyo", data={"codigo": quick_code(app, citizen)}, follow_redirects=False)
    page = client.get(entered.headers["location"])
    seen = _statements(app.state.engine)
    chosen = client.post("/ciudadano/apoyo/aspirante", data={"flujo": hidden(page, "flujo"),
                                                             "aspirante": aspirants["ana"]}, follow_redirects=False)
    assert chosen.status_code == 303 and len(seen) <= 3, seen
    photos = client.get(chosen.headers["location"])
    seen.clear()
    client.follow_redirects = False
    sent = journey.photos(photos)
    assert sent.status_code == 303 and len(seen) <= 5, seen  # SQLite inserts the two rows one by one


def to_confirmation(client: TestClient, code: str, aspirant_id: int) -> Page:
    journey = Journey(client)
    page = journey.choose(journey.type_code(code), aspirant_id)
    confirm = journey.sign(journey.photos(page))
    assert confirm.url.path == "/ciudadano/apoyo/confirmar", confirm.text
    return confirm


def test_a_code_that_expires_mid_way_stops_the_aspirant_and_confirmation_steps(
        client: TestClient, app: Starlette, citizen: int, sign_in: SignIn, clock: MovableClock,
        aspirants: dict[str, int]) -> None:
    code = quick_code(app, citizen)
    confirm = to_confirmation(client, code, aspirants["ana"])
    page = client.get(client.post("/ciudadano/apoyo", data={"codigo": code}, follow_redirects=False)
                      .headers["location"])
    clock.offset = timedelta(hours=25)
    sign_in(client, citizen)
    chosen = client.post("/ciudadano/apoyo/aspirante", data={"flujo": hidden(page, "flujo"),
                                                             "aspirante": aspirants["ana"]})
    assert chosen.status_code == 400 and "venció" in chosen.text
    again = client.get(str(confirm.url))
    assert again.status_code == 400 and "venció" in again.text


def test_when_every_window_closes_each_step_says_so_at_once(client: TestClient, app: Starlette, engine: Any,
                                                           citizen: int, aspirants: dict[str, int]) -> None:
    """The window read beside the code: a code not expired yet stops when no process collects any more."""
    code = quick_code(app, citizen)
    confirm = to_confirmation(client, code, aspirants["ana"])
    aspirant_page = Journey(client).type_code(code)
    _close_process_of(engine, None)
    for answer in (client.get(str(aspirant_page.url)), client.get(str(confirm.url)),
                   Journey(client).choose(aspirant_page, aspirants["ana"]),
                   client.post("/ciudadano/apoyo", data={"codigo": code}),
                   Journey(client).give(confirm, manifiesto="si", privacidad="si")):
        assert answer.status_code == 400 and WINDOW_CLOSED in answer.text, answer.text


def test_one_process_closing_refuses_its_aspirant_while_another_process_is_open(
        client: TestClient, app: Starlette, engine: Any, citizen: int, aspirants: dict[str, int]) -> None:
    """The aspirant's process is not the window: with another process open the code still works, and choosing
    the closed one's aspirant says that process ended (not that the codes stopped)."""
    journey = Journey(client)
    page = journey.type_code(quick_code(app, citizen))
    _close_process_of(engine, aspirants["ana"])
    chosen = journey.choose(page, aspirants["ana"])
    assert chosen.status_code == 400 and PROCESS_CLOSED in chosen.text and WINDOW_CLOSED not in chosen.text
    listed = client.get(str(page.url))
    assert listed.status_code == 200 and "Olga Otra" in listed.text and "Ana Aspirante" not in listed.text


def test_a_used_or_replaced_code_typed_again_says_which(client: TestClient, app: Starlette, citizen: int,
                                                        aspirants: dict[str, int]) -> None:
    first = quick_code(app, citizen)
    second = quick_code(app, citizen)  # the first stops working
    replaced = Journey(client).type_code(first)
    assert replaced.status_code == 400 and "pediste uno más nuevo" in replaced.text, replaced.text
    confirm = to_confirmation(client, second, aspirants["beto"])
    assert Journey(client).give(confirm, manifiesto="si", privacidad="si").status_code == 200
    again = Journey(client).type_code(second)
    assert again.status_code == 400 and "ya se usó" in again.text, again.text
