from datetime import date
from pathlib import Path

from sqlmodel import Session, col, func, select

from auth.demo_people import DEMO_PEOPLE
from auth.models import Account, OAuthIdentity, RoleGrant
from auth.roles import Role
from core.clock import utcnow
from registry.demo import load_demo_data
from registry.demo_supports import DEMO_SUPPORTS, KEY_PREFIX
from registry.images import open_image_store
from registry.models import (
    Aspirant,
    CredentialReading,
    InconsistencyType,
    Opl,
    Process,
    RollEntry,
    StoredImage,
    Support,
    SupportEvent,
)
from registry.review.flags import flags_of
from registry.states import ReviewFlag, SituacionRegistral, SupportStatus


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


def _by_key(session: Session) -> dict[str, Support]:
    rows = session.exec(select(Support).where(col(Support.idempotency_key).startswith(KEY_PREFIX))).all()
    return {row.idempotency_key.removeprefix(KEY_PREFIX): row for row in rows}


def test_demo_supports_give_the_desk_the_aspirant_and_the_citizen_something_to_see(session: Session,
                                                                                    tmp_path: Path) -> None:
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    load_demo_data(session=session, today=utcnow().date(), store=store)
    session.commit()
    supports = _by_key(session)
    assert set(supports) == {item.key for item in DEMO_SUPPORTS}
    status = {key: support.status for key, support in supports.items()}
    valid, review, invalid = SupportStatus.VALID, SupportStatus.IN_REVIEW, SupportStatus.INVALID
    assert {key for key, value in status.items() if value is valid} == {"cuenta-1", "cuenta-2", "cuenta-3",
                                                                          "ciudadana"}
    # The reviewer's desk: matched to the roll, each with the flag that sent it there.
    desk = {key for key, value in status.items() if value is review}
    assert desk == {"tecleada-1", "tecleada-2", "reloj-adelantado", "qr-con-otro-cic"}
    flagged = flags_of(session=session, support_ids=[s.id for key, s in supports.items() if key in desk and s.id])
    assert {row.flag for rows in flagged.values() for row in rows} == {
        ReviewFlag.MANUAL_CAPTURE, ReviewFlag.DEVICE_TIME, ReviewFlag.QR_OTHER_CIC}
    assert all(supports[key].situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL for key in desk)
    # The aspirant's rejected supports, each with its category, to object to.
    rejected = {key: supports[key].situacion_registral for key, value in status.items() if value is invalid}
    assert rejected == {"no-encontrada-1": SituacionRegistral.DATOS_NO_ENCONTRADOS,
                        "no-encontrada-2": SituacionRegistral.DATOS_NO_ENCONTRADOS,
                        "baja": SituacionRegistral.BAJA,
                        "ciudadana-otro-aspirante": SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE}
    # The evidence: every support has its back, live photo and signature in the store.
    back = session.get(CredentialReading, supports["tecleada-1"].reading_id)
    assert back is not None and back.back_image_id is not None and supports["baja"].signature_image_id
    stored = session.get(StoredImage, back.back_image_id)
    assert stored is not None and store.get(stored.storage_key)[:2] == b"\xff\xd8"
    # The demo citizen's own supports, for «Mis apoyos» and «Yo no di este apoyo».
    citizen = session.exec(select(Account).where(Account.email == "ciudadana@demo.registro.local")).one()
    assert {support.citizen_account_id for key, support in supports.items() if key.startswith("ciudadana")} == {
        citizen.id}


def test_loading_the_demo_twice_adds_no_support(session: Session) -> None:
    load_demo_data(session=session, today=utcnow().date())
    session.commit()
    counts = (session.exec(select(func.count()).select_from(Support)).one(),
              session.exec(select(func.count()).select_from(SupportEvent)).one())
    load_demo_data(session=session, today=utcnow().date())
    session.commit()
    assert counts[0] == len(DEMO_SUPPORTS)
    assert counts == (session.exec(select(func.count()).select_from(Support)).one(),
                      session.exec(select(func.count()).select_from(SupportEvent)).one())
