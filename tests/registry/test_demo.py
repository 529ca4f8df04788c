from datetime import date

from sqlmodel import Session, func, select

from auth.demo_people import DEMO_PEOPLE
from auth.models import Account, OAuthIdentity, RoleGrant
from auth.roles import Role
from core.clock import utcnow
from registry.demo import load_demo_data
from registry.models import Aspirant, InconsistencyType, Opl, Process, RollEntry


def test_demo_data_has_an_open_process_in_sonora_and_an_account_per_role(session: Session) -> None:
    summary = load_demo_data(session=session, today=utcnow().date())
    session.commit()
    opl = session.exec(select(Opl)).one()
    process = session.exec(select(Process)).one()
    assert opl.state_code == 26
    assert process.starts_at <= utcnow() <= process.ends_at
    assert session.exec(select(func.count()).select_from(Aspirant)).one() == 3
    assert session.exec(select(func.count()).select_from(RollEntry)).one() == summary.roll_rows > 100
    granted = set(session.exec(select(RoleGrant.role)).all())
    assert granted == set(Role)
    assert session.exec(select(func.count()).select_from(OAuthIdentity)).one() == len(DEMO_PEOPLE)
    assert session.exec(select(func.count()).select_from(InconsistencyType)).one() >= 9


def test_demo_data_is_idempotent(session: Session) -> None:
    load_demo_data(session=session, today=date(2026, 11, 24))
    session.commit()
    again = load_demo_data(session=session, today=date(2026, 11, 24))
    session.commit()
    assert not again.created
    assert session.exec(select(func.count()).select_from(Account)).one() == len(DEMO_PEOPLE)


def test_demo_roll_claves_have_the_clave_de_elector_shape(session: Session) -> None:
    load_demo_data(session=session, today=date(2026, 11, 24))
    for clave in session.exec(select(RollEntry.clave_elector)).all():
        assert len(clave) == 18 and clave[:6].isalpha() and clave[6:14].isdigit() and clave[14] in "HM"
