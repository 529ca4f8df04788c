"""In Chromium, on a phone-sized screen: every demo person signs in through the local OpenID provider (the
same client path as Google: discovery, redirect, code exchange over HTTP, id_token check) and lands on their
role's home page; signing out ends the session on the server, so the old cookie opens nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from auth.demo_people import DEMO_PEOPLE, DemoPerson
from auth.models import UserSession
from auth.roles import Role
from auth.sessions import SESSION_COOKIE, hash_token
from tests.browser.conftest import LiveServer, SignInAs

HOMES = {Role.CITIZEN: "/ciudadano", Role.AUXILIARY: "/campo", Role.ASPIRANT: "/aspirante",
         Role.REVIEWER: "/mesa", Role.OPL_ADMIN: "/opl", Role.SYSTEM_ADMIN: "/sistema"}

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("person", DEMO_PEOPLE, ids=lambda person: str(person.role))
def test_each_demo_person_signs_in_to_their_home(page: Any, live_server: LiveServer, sign_in_as: SignInAs,
                                                 person: DemoPerson) -> None:
    sign_in_as(page, person.role)
    assert page.url == live_server.path(HOMES[person.role])
    assert page.locator(".account-name").inner_text() == person.name
    assert page.get_by_role("button", name="Salir").is_visible()


def test_signing_out_ends_the_session_on_the_server(page: Any, live_server: LiveServer, sign_in_as: SignInAs,
                                                    session: Session) -> None:
    sign_in_as(page, Role.CITIZEN)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(live_server.path("/"))
    assert page.get_by_role("link", name="Entrar", exact=True).is_visible()
    row = session.exec(select(UserSession).where(UserSession.token_hash == hash_token(cookie["value"]))).one()
    assert row.revoked_at is not None
    session.rollback()
    page.context.add_cookies([cookie])  # the old cookie, put back, opens nothing
    page.goto(live_server.path("/ciudadano"))
    assert page.url == live_server.path("/entrar?siguiente=%2Fciudadano")


def test_cancelling_at_the_provider_explains_what_happened(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.path("/campo"))
    assert page.url.startswith(live_server.path("/entrar?siguiente="))
    page.get_by_role("button", name="Entrar con Proveedor local de pruebas").click()
    page.get_by_role("button", name="Cancelar").click()
    page.wait_for_url(re.compile(r"/entrar\?error=cancelado"))
    assert page.get_by_role("alert").inner_text().startswith("Cancelaste el inicio de sesión")
