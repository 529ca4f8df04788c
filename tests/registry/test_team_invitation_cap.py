"""The cap on invitation e-mails per aspirant in any 24 hours: one by one, re-sent, or from a CSV file (refused
whole, before anybody is registered)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from auth.roles import Role
from core.audit import OutboxMessage
from core.clock import utcnow
from registry.models import Auxiliary
from registry.team import (
    AuxiliaryForm,
    Invitation,
    TooManyInvitations,
    invitations_left,
    register_auxiliary,
    resend_invitation,
)
from registry.team_csv import import_auxiliaries_csv
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant

CAPPED = Invitation(secret="cap-test-secret-" + "z" * 32, url_for=lambda token: f"https://registro.test/{token}",
                    per_day=2)


def _form(n: int) -> AuxiliaryForm:
    return AuxiliaryForm(full_name=f"Persona {n}", clave_elector=f"PEGORO90010126M{n:03d}",
                         email=f"aux{n}@ejemplo.mx", phone="6621234567")


def _csv(*numbers: int) -> bytes:
    rows = [f"Persona {n},PEGORO90010126M{n:03d},aux{n}@ejemplo.mx,6621234567" for n in numbers]
    return ("nombre,clave de elector,correo,telefono\n" + "\n".join(rows) + "\n").encode()


def _setup(session: Session) -> tuple[int, int]:
    aspirant = make_aspirant(session)
    owner = make_account(session, name="Aspirante", role=Role.ASPIRANT, aspirant_id=aspirant.id)
    assert aspirant.id is not None and owner.id is not None
    return aspirant.id, owner.id


def _register(session: Session, aspirant_id: int, owner_id: int, n: int, now: datetime) -> Auxiliary:
    return register_auxiliary(session=session, aspirant_id=aspirant_id, form=_form(n), invitation=CAPPED,
                              actor_account_id=owner_id, now=now)


def _mails(session: Session) -> int:
    return session.exec(select(func.count()).select_from(OutboxMessage)).one()


def test_registering_past_the_daily_cap_is_refused_until_24_hours_have_passed(session: Session) -> None:
    aspirant_id, owner_id = _setup(session)
    start = utcnow()
    _register(session, aspirant_id, owner_id, 1, start)
    _register(session, aspirant_id, owner_id, 2, start + timedelta(hours=1))
    with pytest.raises(TooManyInvitations) as refused:
        _register(session, aspirant_id, owner_id, 3, start + timedelta(hours=23))
    assert (refused.value.wanted, refused.value.left, refused.value.per_day) == (1, 0, 2)
    assert _mails(session) == 2
    _register(session, aspirant_id, owner_id, 3, start + timedelta(hours=24, seconds=1))  # the first one aged out
    assert _mails(session) == 3


def test_resending_counts_against_the_cap(session: Session) -> None:
    aspirant_id, owner_id = _setup(session)
    now = utcnow()
    auxiliary = _register(session, aspirant_id, owner_id, 1, now)
    assert auxiliary.id is not None
    resend_invitation(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant_id}),
                      invitation=CAPPED, actor_account_id=owner_id, now=now + timedelta(minutes=1))
    with pytest.raises(TooManyInvitations):
        resend_invitation(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant_id}),
                          invitation=CAPPED, actor_account_id=owner_id, now=now + timedelta(minutes=2))
    assert _mails(session) == 2


def test_the_cap_is_per_aspirant(session: Session) -> None:
    first, owner_id = _setup(session)
    second, other_owner = _setup(session)
    now = utcnow()
    _register(session, first, owner_id, 1, now)
    _register(session, first, owner_id, 2, now)
    _register(session, second, other_owner, 3, now)
    assert invitations_left(session, first, CAPPED, now) == 0
    assert invitations_left(session, second, CAPPED, now) == 1


def test_a_csv_over_the_cap_is_refused_whole(session: Session) -> None:
    aspirant_id, owner_id = _setup(session)
    now = utcnow()
    _register(session, aspirant_id, owner_id, 1, now)
    with pytest.raises(TooManyInvitations) as refused:
        import_auxiliaries_csv(session=session, aspirant_id=aspirant_id, data=_csv(2, 3), invitation=CAPPED,
                               actor_account_id=owner_id, now=now)
    assert (refused.value.wanted, refused.value.left) == (2, 1)
    assert session.exec(select(func.count()).select_from(Auxiliary)).one() == 1
    assert _mails(session) == 1
    result = import_auxiliaries_csv(session=session, aspirant_id=aspirant_id, data=_csv(1, 2), invitation=CAPPED,
                                    actor_account_id=owner_id, now=now)  # row 1 is already on the team: 1 e-mail
    assert (result.registered, result.already_on_team) == (1, 1)
