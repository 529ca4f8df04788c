"""The mesa de control's pages: the desk's home and queues, one item with its evidence and decision, the next item
after each decision; another OPL's processes, items and images are a 404 (direct URLs included); hostile input gets
a clear message and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.catalogue import catalogue
from registry.models import Objection, ReviewDecision, Support
from registry.states import ImageKind, ObjectionState, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.conftest import TEST_ORIGIN, SignIn
from tests.factories.accounts import make_account
from tests.factories.review import Desk, contested, in_review, make_desk, with_image
from web.i18n import set_locale
from web.routes.review import flag_explanations


@dataclass
class World:
    app: Starlette
    desk: Desk
    other: Desk
    items: list[int]
    reviewer: TestClient


@pytest.fixture
def world(app: Starlette, sign_in: SignIn) -> Iterator[World]:
    with session_scope(app.state.engine) as db:
        desk, other = make_desk(db), make_desk(db, reviewers=1)
        supports = [in_review(db, desk, desk.people[n], flags=(ReviewFlag.MANUAL_CAPTURE, ReviewFlag.DISOWNED)
                              if n == 2 else (ReviewFlag.MANUAL_CAPTURE,)) for n in range(3)]
        for support in supports:
            with_image(db, app.state.image_store, support, ImageKind.BACK)
        in_review(db, other, other.people[0])
        items = sorted(s.id for s in supports if s.id is not None)
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as reviewer:
        sign_in(reviewer, desk.reviewer_ids[0])
        yield World(app, desk, other, items, reviewer)


def _support(world: World, support_id: int) -> Support:
    with session_scope(world.app.state.engine, read_only=True) as db:
        support = db.get(Support, support_id)
        assert support is not None
        return support


def _start(world: World) -> int:
    answer = world.reviewer.post(f"/mesa/procesos/{world.desk.process_id}/revisar", follow_redirects=False)
    assert answer.status_code == 303
    found = re.fullmatch(r"/mesa/apoyos/(\d+)", answer.headers["location"])
    assert found is not None
    return int(found.group(1))


def test_the_home_shows_each_process_with_its_counts(world: World) -> None:
    page = world.reviewer.get("/mesa")
    assert page.status_code == 200 and world.desk.process.name in page.text
    assert re.search(r'class="count-in-review">3<', page.text)
    assert f"/mesa/procesos/{world.other.process_id}" not in page.text


def test_start_then_decide_shows_the_next_item_and_the_item_shows_its_evidence(world: World) -> None:
    first = _start(world)
    page = world.reviewer.get(f"/mesa/apoyos/{first}")
    assert page.status_code == 200
    assert f"/mesa/apoyos/{first}/imagen/back" in page.text and "MARIA LOPEZ PEREZ" in page.text
    assert "los datos de la credencial se teclearon" in page.text and 'data-key="v"' in page.text
    image = world.reviewer.get(f"/mesa/apoyos/{first}/imagen/back")
    assert image.status_code == 200 and image.headers["cache-control"] == "no-store"
    assert image.headers["content-type"] == "image/jpeg"
    answer = world.reviewer.post(f"/mesa/apoyos/{first}/decidir", data={"decision": "valido"},
                                 follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/mesa/apoyos/{world.items[1]}"
    assert _support(world, first).status is SupportStatus.VALID


def test_filters_ride_along_to_the_next_item(world: World) -> None:
    query = "?marca=disowned"
    answer = world.reviewer.post(f"/mesa/procesos/{world.desk.process_id}/revisar", data={"marca": "disowned"},
                                 follow_redirects=False)
    assert answer.headers["location"] == f"/mesa/apoyos/{world.items[2]}{query}"
    queue = world.reviewer.get(f"/mesa/procesos/{world.desk.process_id}{query}")
    assert queue.status_code == 200 and 'value="disowned" selected' in queue.text
    reference = world.reviewer.get(f"/mesa/procesos/{world.desk.process_id}?estado=valid")
    assert reference.status_code == 200 and 'data-key="n"' not in reference.text  # nothing there to decide


def test_another_opls_queue_items_and_images_are_not_found(world: World) -> None:
    with session_scope(world.app.state.engine, read_only=True) as db:
        foreign = db.exec(select(Support).where(Support.process_id == world.other.process_id)).one()
    for path in (f"/mesa/procesos/{world.other.process_id}", f"/mesa/procesos/{world.other.process_id}/segunda",
                 f"/mesa/apoyos/{foreign.id}", f"/mesa/apoyos/{foreign.id}/imagen/back",
                 f"/mesa/apoyos/{world.items[0]}/imagen/live_photo", f"/mesa/apoyos/{world.items[0]}/imagen/nada",
                 "/mesa/apoyos/99999999999999999999", "/mesa/procesos/99999999999999999999"):
        assert world.reviewer.get(path).status_code == 404, path
    for path in (f"/mesa/procesos/{world.other.process_id}/revisar", f"/mesa/apoyos/{foreign.id}/decidir",
                 f"/mesa/apoyos/{foreign.id}/saltar", f"/mesa/apoyos/{foreign.id}/objecion"):
        assert world.reviewer.post(path, data={"decision": "valido", "respuesta": "procedente",
                                               "argumento": "x"}).status_code == 404, path
    assert _support(world, foreign.id or 0).status is SupportStatus.IN_REVIEW


def _foreign_inconsistency(world: World) -> int:
    with session_scope(world.app.state.engine) as db:
        return catalogue(session=db, opl_id=world.other.opl.id or 0)[0].id or 0


@pytest.mark.parametrize("form", [
    {"decision": "2147483647"}, {"decision": "9" * 5000}, {"decision": "\x00"}, {"decision": ""},
    {"decision": "valido", "comentario": "x" * 10_000}, {"decision": "valido", "comentario": "hola\x00"},
])
def test_hostile_decisions_get_a_clear_message_and_change_nothing(world: World, form: dict[str, str]) -> None:
    held = _start(world)
    answer = world.reviewer.post(f"/mesa/apoyos/{held}/decidir", data=form, follow_redirects=False)
    assert answer.status_code == 400 and 'class="message message-error"' in answer.text
    assert _support(world, held).status is SupportStatus.IN_REVIEW
    assert 'data-key="v"' in answer.text  # still theirs: the form is shown again


def test_another_opls_inconsistency_is_refused(world: World) -> None:
    held = _start(world)
    answer = world.reviewer.post(f"/mesa/apoyos/{held}/decidir",
                                 data={"decision": str(_foreign_inconsistency(world))})
    assert answer.status_code == 400 and "no está en el catálogo de tu OPL" in answer.text
    assert _support(world, held).status is SupportStatus.IN_REVIEW


def test_an_item_not_held_or_decided_meanwhile_is_refused(world: World, sign_in: SignIn) -> None:
    answer = world.reviewer.post(f"/mesa/apoyos/{world.items[0]}/decidir", data={"decision": "valido"})
    assert answer.status_code == 409 and "ya no está asignado a ti" in answer.text
    held = _start(world)
    with session_scope(world.app.state.engine) as db:
        support = db.get(Support, held)
        assert support is not None
        record_transition(session=db, support=support, to_status=SupportStatus.INVALID,
                          situacion=SituacionRegistral.BAJA, reason="compulsa", actor_account_id=None, now=utcnow())
    answer = world.reviewer.post(f"/mesa/apoyos/{held}/decidir", data={"decision": "valido"})
    assert answer.status_code == 409 and "ya fue decidido" in answer.text
    assert _support(world, held).situacion_registral is SituacionRegistral.BAJA


def test_skipping_gives_the_item_back_and_claims_another(world: World) -> None:
    first = _start(world)
    answer = world.reviewer.post(f"/mesa/apoyos/{first}/saltar", follow_redirects=False)
    assert answer.headers["location"] == f"/mesa/apoyos/{world.items[1]}"


def test_the_reviewer_upholds_an_objection_from_the_second_level(world: World) -> None:
    with session_scope(world.app.state.engine) as db:
        aspirant = make_account(db, role=Role.ASPIRANT, aspirant_id=world.desk.aspirant.id)
        support, objection = contested(db, world.desk, filed_by_account_id=aspirant.id or 0)
    start = world.reviewer.post(f"/mesa/procesos/{world.desk.process_id}/segunda/revisar", follow_redirects=False)
    assert start.headers["location"] == f"/mesa/apoyos/{support.id}?nivel=segunda"
    page = world.reviewer.get(start.headers["location"])
    assert "La credencial es legible" in page.text and 'data-key="p"' in page.text
    missing = world.reviewer.post(f"/mesa/apoyos/{support.id}/objecion", data={"respuesta": "procedente"})
    assert missing.status_code == 400 and "Escribe la respuesta" in missing.text
    nul = world.reviewer.post(f"/mesa/apoyos/{support.id}/objecion",
                              data={"respuesta": "procedente", "argumento": "Se lee\x00 bien"})
    assert nul.status_code == 400 and "caracteres no permitidos" in nul.text
    odd = world.reviewer.post(f"/mesa/apoyos/{support.id}/objecion", data={"respuesta": "9" * 5000})
    assert odd.status_code == 400 and _support(world, support.id or 0).status is SupportStatus.CONTESTED
    done = world.reviewer.post(f"/mesa/apoyos/{support.id}/objecion",
                               data={"respuesta": "procedente", "argumento": "Se lee bien"}, follow_redirects=False)
    assert done.status_code == 303
    assert _support(world, support.id or 0).status is SupportStatus.VALID
    with session_scope(world.app.state.engine, read_only=True) as db:
        assert db.get(Objection, objection.id).state is ObjectionState.UPHELD  # type: ignore[union-attr]


def test_only_the_opl_admin_marks_a_decision_for_a_double_check(world: World, sign_in: SignIn) -> None:
    held = _start(world)
    world.reviewer.post(f"/mesa/apoyos/{held}/decidir", data={"decision": "valido"})
    assert world.reviewer.post(f"/mesa/apoyos/{held}/doble-revision").status_code == 403
    with session_scope(world.app.state.engine) as db:
        admin = make_account(db, role=Role.OPL_ADMIN, opl_id=world.desk.opl.id)
    with TestClient(world.app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as client:
        sign_in(client, admin.id or 0)
        marked = client.post(f"/mesa/apoyos/{held}/doble-revision", follow_redirects=False)
        assert marked.status_code == 303
        assert client.post(f"/mesa/apoyos/{held}/doble-revision").status_code == 409
    with session_scope(world.app.state.engine, read_only=True) as db:
        assert db.exec(select(ReviewDecision)).one().second_look == "pending"


def test_every_flag_is_explained_at_the_desk() -> None:
    set_locale("es")
    explained = flag_explanations()
    assert set(explained) == set(ReviewFlag) and all(explained.values())


def test_the_desk_speaks_english_when_asked(world: World) -> None:
    held = _start(world)
    page = world.reviewer.get(f"/mesa/apoyos/{held}?lang=en")
    assert "Why it is in review" in page.text and "typed, not read from the image" in page.text
    assert "Start reviewing" in world.reviewer.get(f"/mesa/procesos/{world.desk.process_id}?lang=en").text
