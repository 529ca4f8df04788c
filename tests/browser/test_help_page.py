"""The citizen's guide in Chromium at phone size (390×844), with no account: from the footer's «Ayuda» to the guide,
its table of contents, and the same page as printed (print media: no navigation, no header or footer, no print
button, each section after the first on a new sheet, every screen's whole address). Every page passes axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.page_audit import audit_at

pytestmark = pytest.mark.browser


def _fits_the_phone(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def _visible(locator: Any) -> list[bool]:
    return [locator.nth(index).is_visible() for index in range(locator.count())]


def test_the_citizens_guide_on_a_phone_and_on_paper(live_server: Any, page: Any) -> None:
    audit = audit_at(page, "phone")
    page.goto(live_server.path("/"))
    page.get_by_role("contentinfo").get_by_role("link", name="Ayuda").click()
    page.get_by_role("heading", name="Ayuda: guías de uso", level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()

    page.get_by_role("link", name="Ciudadanía").click()
    page.get_by_role("heading", name=re.compile(r"^Guía para la ciudadanía"), level=1).wait_for()
    assert _fits_the_phone(page)
    audit.check()
    contents = page.get_by_role("navigation", name="Contenido")
    contents.get_by_role("link", name="Qué hacer si…").click()
    page.wait_for_url(re.compile(r"/ayuda/ciudadano#que-hacer-si$"))
    assert page.get_by_role("heading", name="Qué hacer si…", level=2).is_visible()
    printing = page.get_by_role("button", name="Imprimir")
    assert printing.is_visible()  # shown by its script; without JavaScript the page names the browser's Print
    origins = page.locator(".screen-origin")
    assert origins.count() > 0 and not any(_visible(origins))

    page.emulate_media(media="print")
    assert page.locator("nav").count() >= 3  # the language switch, the trail to /ayuda, the table of contents
    assert not any(_visible(page.locator("nav")))
    assert not page.locator(".site-header").is_visible() and not page.locator(".site-footer").is_visible()
    assert not printing.is_visible()
    assert all(_visible(origins)) and origins.first.inner_text() == live_server.url
    sections = page.locator("section.help-section")
    breaks = sections.evaluate_all("all => all.map(s => getComputedStyle(s).breakBefore)")
    assert breaks == ["auto"] + ["page"] * (sections.count() - 1)

    page.emulate_media(media="screen")
    assert page.locator(".site-header").is_visible() and contents.is_visible()
    audit.check()
    audit.assert_clean()
