"""The mesa de control in Chromium, on a phone (390x844) and on a desktop (1280x800): a reviewer decides five items
with the keyboard only and the desk's counts move; two reviewers in two browsers never receive the same item; every
page passes axe-core and no script fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import Opl, Process, RollEntry, Support
from registry.states import ImageKind, ReviewFlag, SupportStatus
from tests.browser.page_audit import PageAudit
from tests.factories.processes import make_aspirant
from tests.factories.review import Desk, in_review, with_image
from tests.factories.roll import Citizen

pytestmark = pytest.mark.browser
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ITEM = re.compile(r"/mesa/apoyos/(\d+)")


def _demo_desk(app: Any, count: int) -> tuple[str, list[int]]:
    """`count` supports waiting in review (each with a credential photo), oldest first, for a new aspirant of the
    demo process (beside the demo's own supports); returns the queue's path filtered on that aspirant."""
    with session_scope(app.state.engine) as db:
        opl = db.exec(select(Opl)).one()
        process = db.exec(select(Process).where(Process.opl_id == opl.id)).one()
        aspirant = make_aspirant(db, process=process, name="Aspirante Mesa Prueba")
        entries = db.exec(select(RollEntry).where(RollEntry.status == "vigente").limit(count)).all()
        people = [Citizen(clave_elector=e.clave_elector, cic=e.cic or "", ocr=e.ocr or "",
                          identificador_ciudadano=e.identificador_ciudadano or "", municipality=e.municipality,
                          seccion=e.seccion, district=e.district) for e in entries]
        assert aspirant is not None and process.id is not None
        desk = Desk(opl=opl, process=process, aspirant=aspirant, reviewer_ids=(), people=people)
        supports = [in_review(db, desk, person, flags=(ReviewFlag.MANUAL_CAPTURE,),
                              received_at=utcnow() - timedelta(hours=count - n)) for n, person in enumerate(people)]
        for n, support in enumerate(supports):
            with_image(db, app.state.image_store, support, ImageKind.BACK, shade=100 + n)
        queue = f"/mesa/procesos/{process.id}?aspirante={aspirant.id}"
        return queue, [s.id for s in supports if s.id is not None]


@pytest.fixture(params=sorted(SIZES))
def screen(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    phone = request.param == "phone"
    context = browser.new_context(viewport=SIZES[request.param], is_mobile=phone, has_touch=phone, locale="es-MX")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _press_and_wait(page: Any, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def _in_review(page: Any) -> int:
    return int(str(page.locator(".count-in-review").first.inner_text()).replace(",", ""))


def test_a_reviewer_decides_five_items_with_the_keyboard_only(live_server: Any, screen: Any, sign_in_as: Any) -> None:
    page = screen
    audit = PageAudit(page)
    queue, items = _demo_desk(live_server.app, 6)
    sign_in_as(page, Role.REVIEWER)
    page.goto(live_server.path("/mesa"))
    before = _in_review(page)
    assert before >= 6
    page.goto(live_server.path(queue))
    audit.check()
    _press_and_wait(page, "n")  # "Empezar a revisar"
    seen = []
    for _ in range(5):
        found = ITEM.search(page.url)
        assert found is not None, page.url
        seen.append(int(found.group(1)))
        if len(seen) == 1:
            audit.check()
        _press_and_wait(page, "v")
    assert seen == items[:5]  # one after the other, oldest first, each shown once
    page.goto(live_server.path("/mesa"))
    assert _in_review(page) == before - 5
    with session_scope(live_server.app.state.engine, read_only=True) as db:
        statuses = {s.id: s.status for s in db.exec(select(Support)).all()}
    assert [statuses[i] for i in items] == [SupportStatus.VALID] * 5 + [SupportStatus.IN_REVIEW]
    audit.assert_clean()


def test_an_inconsistency_needing_a_comment_is_typed_and_sent_with_the_keyboard(live_server: Any, page: Any,
                                                                                sign_in_as: Any) -> None:
    queue, items = _demo_desk(live_server.app, 2)
    sign_in_as(page, Role.REVIEWER)
    page.goto(live_server.path(queue))
    _press_and_wait(page, "n")
    page.keyboard.press("9")  # "Otro (con comentario)": needs a comment, so the comment field takes the focus
    assert page.evaluate("document.activeElement.id") == "comentario"
    page.keyboard.type("La foto viva es de otra persona")
    _press_and_wait(page, "Enter")
    assert f"/mesa/apoyos/{items[1]}?" in page.url
    with session_scope(live_server.app.state.engine, read_only=True) as db:
        decided = db.get(Support, items[0])
    assert decided is not None and decided.status is SupportStatus.INVALID


def test_two_reviewers_never_receive_the_same_item(live_server: Any, browser: Any, sign_in_as: Any) -> None:
    queue, _items = _demo_desk(live_server.app, 3)
    pages = []
    for role in (Role.REVIEWER, Role.OPL_ADMIN):  # both decide at the desk of the demo OPL
        context = browser.new_context(viewport=SIZES["desktop"], locale="es-MX")
        context.set_default_timeout(15_000)
        page = context.new_page()
        sign_in_as(page, role)
        page.goto(live_server.path(queue))
        pages.append(page)
    try:
        for page in pages:
            _press_and_wait(page, "n")
        first, second = (ITEM.search(page.url) for page in pages)
        assert first is not None and second is not None
        assert first.group(1) != second.group(1)
        pages[0].reload()  # shown again: still the same item, still theirs
        assert f"/mesa/apoyos/{first.group(1)}?" in pages[0].url
        assert pages[1].locator("[data-key='v']").count() == 1
    finally:
        for page in pages:
            page.context.close()
