"""An OPL reviewer (or OPL or system admin) who is sent an auxiliary invitation cannot accept it: the page says
why in Spanish, nothing is granted, and the refusal stays in the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, RoleGrant
from auth.roles import Role
from core.audit import AuditEvent
from core.clock import utcnow
from core.db import session_scope
from registry.models import Auxiliary
from registry.states import InvitationState
from registry.team import AuxiliaryForm, Invitation, invitation_link_token, register_auxiliary
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process

INVITED = "rosa@ejemplo.mx"


def _invite(app: Starlette) -> tuple[int, str, int]:
    """An aspirant of a new OPL invites INVITED; returns (OPL id, invitation path, auxiliary id)."""
    settings = app.state.settings
    with session_scope(app.state.engine) as db:
        opl = make_opl(db)
        aspirant = make_aspirant(db, process=make_process(db, opl=opl))
        owner = make_account(db, role=Role.ASPIRANT, aspirant_id=aspirant.id)
        assert opl.id is not None and aspirant.id is not None and owner.id is not None
        form = AuxiliaryForm(full_name="Rosa Pérez", clave_elector="PEGORO90010126M100", email=INVITED,
                             phone="6621234567")
        auxiliary = register_auxiliary(session=db, aspirant_id=aspirant.id, form=form,
                                       invitation=Invitation(secret=settings.secret_key, url_for=str),
                                       actor_account_id=owner.id, now=utcnow())
        assert auxiliary.id is not None
        return opl.id, f"/campo/invitacion/{invitation_link_token(auxiliary, settings.secret_key)}", auxiliary.id


def _person_with_invited_address(app: Starlette, role: Role, opl_id: int | None) -> int:
    with session_scope(app.state.engine) as db:
        account = make_account(db, name="Rosa", role=role, opl_id=opl_id)
        assert account.id is not None
        db.add(OAuthIdentity(account_id=account.id, provider="google", subject="rosa", email=INVITED))
        return account.id


@pytest.mark.parametrize("staff", [Role.REVIEWER, Role.OPL_ADMIN, Role.SYSTEM_ADMIN])
def test_opl_staff_cannot_accept_an_auxiliary_invitation(client: TestClient, app: Starlette,
                                                         sign_in: Callable[..., Any], staff: Role) -> None:
    opl_id, link, auxiliary_id = _invite(app)
    account_id = _person_with_invited_address(app, staff, None if staff is Role.SYSTEM_ADMIN else opl_id)
    sign_in(client, account_id)
    refused = client.post(link, follow_redirects=False)
    assert refused.status_code == 403
    assert "No puedes aceptar esta invitación" in refused.text and 'role="alert"' in refused.text
    with Session(app.state.engine) as db:  # what the request committed
        roles = db.exec(select(RoleGrant.role).where(RoleGrant.account_id == account_id)).all()
        auxiliary = db.get(Auxiliary, auxiliary_id)
        audit = db.exec(select(AuditEvent).where(col(AuditEvent.action).in_(
            ["role_grant_refused", "auxiliary_invitation_refused"])).order_by(col(AuditEvent.id))).all()
    assert roles == [staff]
    assert auxiliary is not None and (auxiliary.state, auxiliary.account_id) == (InvitationState.INVITED, None)
    assert [(row.action, row.actor_account_id) for row in audit] == [
        ("role_grant_refused", account_id), ("auxiliary_invitation_refused", account_id)]
    assert all("Rosa" not in row.after_summary and INVITED not in row.after_summary for row in audit)


def test_the_refusal_is_explained_in_english_too(client: TestClient, app: Starlette,
                                                  sign_in: Callable[..., Any]) -> None:
    opl_id, link, _ = _invite(app)
    sign_in(client, _person_with_invited_address(app, Role.REVIEWER, opl_id))
    refused = client.post(f"{link}?lang=en")
    assert refused.status_code == 403 and "You cannot accept this invitation" in refused.text


def test_a_citizen_with_the_invited_address_still_accepts(client: TestClient, app: Starlette,
                                                          sign_in: Callable[..., Any]) -> None:
    _, link, auxiliary_id = _invite(app)
    account_id = _person_with_invited_address(app, Role.CITIZEN, None)
    sign_in(client, account_id)
    assert client.post(link, follow_redirects=False).headers["location"] == "/campo?bienvenida=1"
    with Session(app.state.engine) as db:
        auxiliary = db.get(Auxiliary, auxiliary_id)
    assert auxiliary is not None and auxiliary.account_id == account_id
