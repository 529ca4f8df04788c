"""The one-button forms of the lists (web/templates/_partials/forms.html `action_button`): each posts to its own
row's action with the CSRF field, and its accessible name says which row ("Desactivar Rosa Lista")."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from tests.conftest import SignInWithRole
from tests.factories.processes import make_aspirant, make_opl, make_process


def test_each_row_button_names_its_row_and_posts_with_the_csrf_field(client: TestClient, engine: Engine,
                                                                     sign_in_with_role: SignInWithRole) -> None:
    with session_scope(engine) as session:
        opl = make_opl(session)
        process = make_process(session, opl=opl)
        aspirant = make_aspirant(session, process=process, name="Rosa Lista")
        opl_id, process_id, aspirant_id = opl.id, process.id, aspirant.id
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_id)

    page = BeautifulSoup(client.get(f"/opl/procesos/{process_id}/aspirantes").text, "html.parser")
    forms = page.select(f"#aspirante-{aspirant_id} form")
    assert {form["action"]: form.button.get_text(" ", strip=True) for form in forms} == {
        f"/opl/aspirantes/{aspirant_id}/reenviar": "Reenviar la invitación Rosa Lista",
        f"/opl/aspirantes/{aspirant_id}/desactivar": "Desactivar Rosa Lista",
    }
    for form in forms:
        assert form["method"] == "post" and form.select_one('input[name="csrf_token"]')["value"]
        assert form.button["class"] == ["button-secondary"]
        assert form.button.select_one(".visually-hidden").get_text(strip=True) == "Rosa Lista"
