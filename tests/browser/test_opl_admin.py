"""The OPL admin in Chromium, on a phone (390x844) and on a desktop (1280x800): creates a process, sets its paper
municipalities and objection period, registers an aspirant and invites a reviewer; every page passes axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from auth.roles import Role
from core.audit import OutboxMessage
from core.db import session_scope
from registry.models import Aspirant, PaperExceptionMunicipality, Process
from tests.browser.page_audit import PageAudit

pytestmark = pytest.mark.browser
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
NAME = "Presidencia municipal de Lerdo 2027"


@pytest.mark.parametrize("size", SIZES)
def test_an_opl_admin_sets_up_a_process_with_its_people(live_server: Any, page: Any, sign_in_as: Any,
                                                        size: str) -> None:
    page.set_viewport_size(SIZES[size])
    audit = PageAudit(page)

    sign_in_as(page, Role.OPL_ADMIN)
    page.get_by_role("link", name="Crear un proceso").click()
    audit.check()
    page.get_by_label("Nombre", exact=True).fill(NAME)
    page.get_by_label("Cargo", exact=True).fill("Presidencia municipal")
    page.get_by_label("Ámbito", exact=True).select_option("municipio")
    page.get_by_label("Número de municipio").fill("12")
    page.get_by_label("Inicio", exact=True).fill("2027-01-10T08:00")
    page.get_by_label("Fin", exact=True).fill("2026-01-01T08:00")  # before the start: refused with a message
    page.get_by_label("Umbral (porcentaje de la Lista Nominal)").fill("3")
    page.get_by_role("button", name="Guardar").click()
    page.get_by_role("alert").get_by_text("El fin del periodo de captación debe ser posterior a su inicio.").wait_for()
    audit.check()
    page.get_by_label("Fin", exact=True).fill("2027-02-08T23:59")
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("Creamos el proceso.").wait_for()
    audit.check()

    card = page.locator(".process", has_text=NAME)
    card.get_by_role("link", name=f"Editar {NAME}").click()
    page.get_by_label("Municipios autorizados para papel").fill("4, 12, 30")
    page.get_by_label("Apertura de objeciones").fill("2027-02-10T09:00")
    page.get_by_label("Cierre de objeciones").fill("2027-02-20T18:00")
    page.get_by_role("button", name="Guardar").click()
    page.get_by_text("Guardamos los cambios del proceso.").wait_for()
    assert "4, 12, 30" in page.locator(".process", has_text=NAME).inner_text()

    page.locator(".process", has_text=NAME).get_by_role("link", name=f"Aspirantes {NAME}").click()
    audit.check()
    page.get_by_label("Nombre completo").fill("Rosa Aspirante Navegador")
    page.get_by_label("Correo electrónico").fill("rosa.navegador@example.mx")
    page.get_by_role("button", name="Registrar e invitar").click()
    page.get_by_text("Registramos a la persona aspirante").wait_for()
    assert page.locator(".team-member", has_text="Rosa Aspirante Navegador").is_visible()
    audit.check()

    page.goto(live_server.path("/opl"))
    page.get_by_role("link", name="Personas revisoras").click()
    page.get_by_label("Correo electrónico").fill("luis.navegador@example.mx")
    page.get_by_role("button", name="Enviar la invitación").click()
    page.get_by_text("Enviamos la invitación por correo.").wait_for()
    audit.check()
    page.goto(live_server.path("/opl/catalogo"))
    page.get_by_role("heading", name="Catálogo de inconsistencias").wait_for()
    audit.check()

    with session_scope(live_server.app.state.engine) as session:
        process = session.exec(select(Process).where(Process.name == NAME)).one()
        assert process.objections_open_at is not None and process.objections_close_at is not None
        assert set(session.exec(select(PaperExceptionMunicipality.municipality).where(
            PaperExceptionMunicipality.process_id == process.id))) == {4, 12, 30}
        assert session.exec(select(Aspirant).where(Aspirant.process_id == process.id)).one().full_name == (
            "Rosa Aspirante Navegador")
        sent = set(session.exec(select(OutboxMessage.to_address)))
        assert {"rosa.navegador@example.mx", "luis.navegador@example.mx"} <= sent
    audit.assert_clean()
