"""The garantía de audiencia from both sides in Chromium, every step through the pages, at phone (390x844) and
desktop (1280x800) size: the aspirant (one browser) opens a support the compulsa rejected and files an objection;
the reviewer of the same OPL (another browser) takes it from the second-level queue, reads the argument and answers
it with the keyboard alone; the aspirant reloads and sees the answer and, when it was upheld, the support counting
and the counts on /aspirante moved. Every page passes axe-core and no script fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from auth.roles import Role
from core.db import session_scope
from registry.demo_supports import KEY_PREFIX
from registry.intake.receipts import stored_support
from registry.states import SupportStatus
from tests.browser.aspirant_pages import progress_counts
from tests.browser.page_audit import PageAudit

pytestmark = pytest.mark.browser
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ARGUMENT = "La persona votó en 2024: su credencial sigue vigente."
SECOND_LEVEL = re.compile(r"/mesa/apoyos/(\d+)\?nivel=segunda$")


class Screen(PageAudit):
    """One person's browser, its page audited: the script errors it saw and the serious axe-core violations."""

    def __init__(self, browser: Any, size: str) -> None:
        phone = size == "phone"
        self.context = browser.new_context(viewport=SIZES[size], is_mobile=phone, has_touch=phone, locale="es-MX")
        self.context.set_default_timeout(15_000)
        super().__init__(self.context.new_page())


@pytest.fixture(params=sorted(SIZES))
def screens(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[Screen, Screen]]:
    """The aspirant's browser and the reviewer's, both at the size of this run."""
    aspirant, reviewer = Screen(browser, request.param), Screen(browser, request.param)
    try:
        yield aspirant, reviewer
    finally:
        aspirant.context.close()
        reviewer.context.close()


def _demo_baja(app: Any) -> tuple[int, str, int]:
    """The demo support the compulsa rejected as a baja (with its photos): (id, folio, process id)."""
    with session_scope(app.state.engine, read_only=True) as db:
        support = stored_support(db, KEY_PREFIX + "baja")
        assert support is not None and support.id is not None
        assert support.status is SupportStatus.INVALID
        return support.id, support.folio, support.process_id


def _objections(page: Any) -> str:
    return str(page.locator("section", has=page.locator("#objeciones")).inner_text())


def _aspirant_objects(aspirant: Screen, folio: str, support_id: int) -> dict[str, int]:
    """From /aspirante to the rejected support, then an objection filed with its argument; the counts before."""
    page = aspirant.page
    before = progress_counts(page)
    page.get_by_role("link", name="Ver los apoyos que no cuentan y presentar objeciones").click()
    page.get_by_role("heading", name="Apoyos que no cuentan").wait_for()
    page.get_by_role("link", name=folio).click()
    page.wait_for_url(re.compile(rf"/aspirante/apoyos/{support_id}$"))
    assert page.locator("#estado").inner_text() == "No cuenta"
    aspirant.check()
    page.get_by_label("Argumento de tu objeción").fill(ARGUMENT)
    page.get_by_role("button", name="Presentar objeción").click()
    page.wait_for_url(re.compile(r"\?hecho=objecion$"))
    assert page.locator("#estado").inner_text() == "En objeción"
    aspirant.check()
    return before


def _reviewer_answers(reviewer: Screen, support_id: int, key: str, answer: str) -> None:
    """From /mesa to the second-level queue; the objection's item taken with «n», its argument read, the written
    answer typed and sent with the keyboard alone (c: the answer, Escape, then p or i)."""
    page = reviewer.page
    process = page.locator(".desk-process")
    assert process.locator(".count-second").inner_text() == "1"
    process.get_by_role("link", name=re.compile("^Segunda revisión: objeciones")).click()
    page.get_by_role("heading", name="Segunda revisión").wait_for()
    reviewer.check()
    with page.expect_navigation():
        page.keyboard.press("n")  # «Empezar a revisar»
    taken = SECOND_LEVEL.search(page.url)
    assert taken is not None and int(taken.group(1)) == support_id, page.url
    assert page.locator(".desk-argument").inner_text() == ARGUMENT
    reviewer.check()
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.id") == "argumento"
    page.keyboard.type(answer)
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press(key)
    assert page.url.endswith("/segunda?aviso=vacio"), page.url  # answered, and nothing else waits
    assert "No quedan apoyos en la segunda revisión." in page.locator("main").inner_text()
    reviewer.check()


def _back_home(aspirant: Screen) -> dict[str, int]:
    page = aspirant.page
    page.get_by_role("link", name="Volver a los apoyos que no cuentan").click()
    page.get_by_role("link", name="Volver a tu candidatura").click()
    page.wait_for_url(re.compile(r"/aspirante(\?.*)?$"))
    aspirant.check()
    return progress_counts(page)


def _no_errors(*screens: Screen) -> None:
    for screen in screens:
        screen.assert_clean()


def _objection_answered(live_server: Any, screens: tuple[Screen, Screen], sign_in_as: Any, key: str,
                        answer: str) -> dict[str, int]:
    """The aspirant objects to the demo baja, the reviewer answers it (key p upholds, i dismisses), the aspirant
    reloads the support's page; the aspirant's counts before the objection."""
    aspirant, reviewer = screens
    support_id, folio, _process = _demo_baja(live_server.app)
    sign_in_as(aspirant.page, Role.ASPIRANT)
    sign_in_as(reviewer.page, Role.REVIEWER)
    before = _aspirant_objects(aspirant, folio, support_id)

    reviewer.page.goto(live_server.path("/mesa"))
    _reviewer_answers(reviewer, support_id, key, answer)

    aspirant.page.reload()
    return before


def test_an_upheld_objection_makes_the_support_count(live_server: Any, screens: tuple[Screen, Screen],
                                                     sign_in_as: Any) -> None:
    aspirant, reviewer = screens
    answer = "Procedente: la credencial está vigente según el INE."
    before = _objection_answered(live_server, screens, sign_in_as, "p", answer)
    assert aspirant.page.locator("#estado").inner_text() == "Sí cuenta"
    answered = _objections(aspirant.page)
    assert "Objeción procedente" in answered and answer in answered
    aspirant.check()
    after = _back_home(aspirant)
    assert (after["Cuentan"], after["No cuentan"], after["En objeción"]) == (
        before["Cuentan"] + 1, before["No cuentan"] - 1, before["En objeción"])
    _no_errors(aspirant, reviewer)


def test_a_dismissed_objection_leaves_the_support_rejected_with_the_answer(
        live_server: Any, screens: tuple[Screen, Screen], sign_in_as: Any) -> None:
    aspirant, reviewer = screens
    answer = "Improcedente: la credencial fue dada de baja por defunción."
    before = _objection_answered(live_server, screens, sign_in_as, "i", answer)
    assert aspirant.page.locator("#estado").inner_text() == "No cuenta"
    assert "Baja del padrón" in aspirant.page.locator("#motivo").inner_text()
    answered = _objections(aspirant.page)
    assert "Objeción improcedente" in answered and answer in answered
    aspirant.check()
    after = _back_home(aspirant)
    assert after == before
    _no_errors(aspirant, reviewer)
