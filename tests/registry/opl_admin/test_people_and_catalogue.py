"""Aspirants and reviewers of the OPL (invited by e-mail, granted through grant_role only to an account of the
invited address, removed with their claims) and the OPL's inconsistency catalogue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from auth.models import RoleGrant
from auth.roles import Role
from core.audit import OutboxMessage
from core.clock import utcnow
from registry.catalogue import catalogue
from registry.models import Opl, ReviewClaim, ReviewDecision
from registry.opl_admin import NotFound
from registry.opl_admin.catalogue import InvalidType, TypeForm, TypeInUse, add_type, delete_type, slug, update_type
from registry.opl_admin.people import (
    INVITATION_LIFETIME,
    InvalidPerson,
    InvitationError,
    InvitationRefused,
    Mailer,
    PersonProblem,
    accept_invitation,
    invite_reviewer,
    register_aspirant,
    remove_reviewer,
)
from registry.states import ReviewLevel, ReviewOutcome
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import place_support

SECRET = "s" * 48
LINKS: list[str] = []
MAILER = Mailer(secret=SECRET, url_for=lambda token: LINKS.append(token) or f"https://x/opl/invitacion/{token}")


@pytest.fixture
def opl(session: Session) -> Opl:
    LINKS.clear()
    return make_opl(session)


def _id(value: int | None) -> int:
    assert value is not None
    return value


def test_a_reviewer_link_grants_the_role_only_to_the_invited_address(session: Session, opl: Opl) -> None:
    admin = _id(make_account(session, role=Role.OPL_ADMIN, opl_id=opl.id).id)
    now = utcnow()
    invite_reviewer(session=session, opl_id=_id(opl.id), email=" Eva@Example.MX ", mailer=MAILER,
                    actor_account_id=admin, now=now)
    token = LINKS[-1]
    assert "eva" not in token.lower()  # no personal data in the link
    assert session.exec(select(OutboxMessage).where(OutboxMessage.to_address == "eva@example.mx")).one()
    other = _id(make_account(session, email="otra@example.mx").id)
    with pytest.raises(InvitationRefused) as refused:
        accept_invitation(session=session, token=token, secret=SECRET, account_id=other, now=now)
    assert refused.value.error is InvitationError.EMAIL_MISMATCH
    eva = _id(make_account(session, email="eva@example.mx").id)
    with pytest.raises(InvitationRefused) as late:
        accept_invitation(session=session, token=token, secret=SECRET, account_id=eva,
                          now=now + INVITATION_LIFETIME + timedelta(minutes=1))
    assert late.value.error is InvitationError.EXPIRED
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(InvitationRefused):
        accept_invitation(session=session, token=forged, secret=SECRET, account_id=eva, now=now)
    assert accept_invitation(session=session, token=token, secret=SECRET, account_id=eva, now=now) is Role.REVIEWER
    assert session.exec(select(RoleGrant).where(RoleGrant.account_id == eva, RoleGrant.opl_id == opl.id,
                                                RoleGrant.role == Role.REVIEWER)).one()


def test_removing_a_reviewer_revokes_the_grant_and_releases_the_claims(session: Session, opl: Opl) -> None:
    reviewer = _id(make_account(session, role=Role.REVIEWER, opl_id=opl.id).id)
    aspirant = make_aspirant(session, process=make_process(session, opl=opl))
    support = place_support(session, aspirant_id=_id(aspirant.id), process_id=aspirant.process_id, cic="123456789")
    now = utcnow()
    session.add(ReviewClaim(support_id=_id(support.id), reviewer_account_id=reviewer, level=ReviewLevel.FIRST,
                            claimed_at=now, expires_at=now + timedelta(minutes=5)))
    session.flush()
    with pytest.raises(NotFound):
        remove_reviewer(session=session, opl_id=_id(make_opl(session).id), account_id=reviewer,
                        actor_account_id=reviewer, now=now)
    remove_reviewer(session=session, opl_id=_id(opl.id), account_id=reviewer, actor_account_id=reviewer, now=now)
    session.flush()
    assert session.exec(select(RoleGrant).where(RoleGrant.account_id == reviewer)).first() is None
    assert session.exec(select(ReviewClaim)).first() is None


def test_an_aspirant_side_account_cannot_become_a_reviewer_of_the_same_opl(session: Session, opl: Opl) -> None:
    aspirant = make_aspirant(session, process=make_process(session, opl=opl))
    collector = _id(make_account(session, email="ana@example.mx", role=Role.AUXILIARY, aspirant_id=aspirant.id).id)
    invite_reviewer(session=session, opl_id=_id(opl.id), email="ana@example.mx", mailer=MAILER,
                    actor_account_id=collector, now=utcnow())
    with pytest.raises(InvitationRefused) as refused:
        accept_invitation(session=session, token=LINKS[-1], secret=SECRET, account_id=collector, now=utcnow())
    assert refused.value.error is InvitationError.ROLE_CONFLICT


def test_an_aspirant_is_registered_once_per_address_and_a_deactivated_one_cannot_accept(session: Session,
                                                                                        opl: Opl) -> None:
    process = make_process(session, opl=opl)
    admin = _id(make_account(session, role=Role.OPL_ADMIN, opl_id=opl.id).id)
    aspirant = register_aspirant(session=session, opl_id=_id(opl.id), process_id=_id(process.id),
                                 full_name="  Rosa   Pérez ", email="rosa@example.mx", mailer=MAILER,
                                 actor_account_id=admin, now=utcnow())
    assert aspirant.full_name == "Rosa Pérez"
    with pytest.raises(InvalidPerson) as taken:
        register_aspirant(session=session, opl_id=_id(opl.id), process_id=_id(process.id), full_name="Otra",
                          email="ROSA@example.mx", mailer=MAILER, actor_account_id=admin, now=utcnow())
    assert taken.value.problems == {"correo": PersonProblem.EMAIL_TAKEN}
    aspirant.is_active = False
    rosa = _id(make_account(session, email="rosa@example.mx").id)
    with pytest.raises(InvitationRefused) as inactive:
        accept_invitation(session=session, token=LINKS[0], secret=SECRET, account_id=rosa, now=utcnow())
    assert inactive.value.error is InvitationError.NOT_ACTIVE


def _form(**changes: object) -> TypeForm:
    values: dict[str, object] = {"label_es": "Credencial dañada", "label_en": "Damaged credential",
                                 "requires_comment": True, "double_check": False, "active": True, "sort_order": "20"}
    return TypeForm(**{**values, **changes})  # type: ignore[arg-type]


def test_a_type_used_in_a_decision_can_be_deactivated_but_not_deleted(session: Session, opl: Opl) -> None:
    admin = _id(make_account(session, role=Role.OPL_ADMIN, opl_id=opl.id).id)
    added = add_type(session=session, opl_id=_id(opl.id), form=_form(), actor_account_id=admin)
    assert added.code == "credencial_danada"
    aspirant = make_aspirant(session, process=make_process(session, opl=opl))
    support = place_support(session, aspirant_id=_id(aspirant.id), process_id=aspirant.process_id, cic="123456780")
    session.add(ReviewDecision(support_id=_id(support.id), reviewer_account_id=admin, outcome=ReviewOutcome.INVALID,
                               inconsistency_id=added.id))
    session.flush()
    with pytest.raises(TypeInUse):
        delete_type(session=session, opl_id=_id(opl.id), type_id=_id(added.id), actor_account_id=admin)
    update_type(session=session, opl_id=_id(opl.id), type_id=_id(added.id), form=_form(active=False),
                actor_account_id=admin)
    assert added not in catalogue(session=session, opl_id=_id(opl.id))
    assert added in catalogue(session=session, opl_id=_id(opl.id), active_only=False)


def test_catalogue_codes_are_unique_per_opl_and_labels_checked(session: Session, opl: Opl) -> None:
    admin = _id(make_account(session, role=None).id)
    with pytest.raises(InvalidType) as taken:
        add_type(session=session, opl_id=_id(opl.id), form=_form(code="fotocopia"), actor_account_id=admin)
    assert taken.value.problems == {"codigo": "code_taken"}
    other = make_opl(session)
    assert add_type(session=session, opl_id=_id(other.id), form=_form(), actor_account_id=admin).code
    assert add_type(session=session, opl_id=_id(opl.id), form=_form(), actor_account_id=admin).code
    with pytest.raises(InvalidType) as bad:
        add_type(session=session, opl_id=_id(opl.id), form=_form(label_es="x\x00", sort_order="99999", code="Ñ"),
                 actor_account_id=admin)
    assert set(bad.value.problems) == {"etiqueta_es", "orden"}
    with pytest.raises(NotFound):
        update_type(session=session, opl_id=_id(other.id), type_id=_id(catalogue(session=session,
                                                                                  opl_id=_id(opl.id))[0].id),
                    form=_form(), actor_account_id=admin)
    assert slug("¿Firma  distinta?") == "firma_distinta"
