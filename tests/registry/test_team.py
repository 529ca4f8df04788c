from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from auth.models import OAuthIdentity, RoleGrant
from auth.roles import Role
from core.audit import AuditEvent, OutboxMessage
from core.clock import utcnow
from registry.intake.credential import CredentialData
from registry.intake.refusals import Refusal, Refused
from registry.models import Auxiliary, Support
from registry.states import Channel, InvitationState, ReadingSource, SupportStatus
from registry.supports import (
    SupportSubmission,
    record_transition,
    submit_support,
)
from registry.team import (
    INVITATION_LIFETIME,
    AuxiliaryForm,
    InvalidAuxiliary,
    Invitation,
    Problem,
    TeamError,
    TeamRefused,
    accept_invitation,
    invitation_link_token,
    preview_invitation,
    reactivate_auxiliary,
    register_auxiliary,
    resend_invitation,
    suspend_auxiliary,
    validate_auxiliary,
)
from registry.team_csv import import_auxiliaries_csv
from registry.team_progress import aspirant_totals, suspension_flag, team_progress
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_auxiliary

SECRET = "team-test-secret-" + "y" * 32
INVITATION = Invitation(secret=SECRET, url_for=lambda token: f"https://registro.test/campo/invitacion/{token}")
GOOD = AuxiliaryForm(full_name="  Rosa   Pérez Gómez ", clave_elector="pegoro90010126m100",
                     email="Rosa@Example.MX ", phone="+52 662 123 4567")


def _register(session: Session, aspirant_id: int, form: AuxiliaryForm = GOOD) -> Auxiliary:
    owner = make_account(session, name="Aspirante", role=Role.ASPIRANT, aspirant_id=aspirant_id)
    assert owner.id is not None
    return register_auxiliary(session=session, aspirant_id=aspirant_id, form=form, invitation=INVITATION,
                              actor_account_id=owner.id, now=utcnow())


def _token_from_mail(session: Session) -> str:
    body = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id).desc())).first()
    assert body is not None
    return body.body.split("/campo/invitacion/")[1].split()[0]


def _invitee(session: Session, email: str = "rosa@example.mx") -> int:
    account = make_account(session, name="Rosa", email=None)
    assert account.id is not None
    session.add(OAuthIdentity(account_id=account.id, provider="google", subject=f"g-{email}", email=email))
    session.flush()
    return account.id


def test_fields_are_normalised() -> None:
    clean = validate_auxiliary(GOOD, today=utcnow().date())
    assert clean == AuxiliaryForm(full_name="Rosa Pérez Gómez", clave_elector="PEGORO90010126M100",
                                  email="rosa@example.mx", phone="6621234567")


def test_every_bad_field_is_reported_at_once() -> None:
    bad = AuxiliaryForm(full_name=" ", clave_elector="PEGORO9001012", email="no-arroba", phone="12345")
    with pytest.raises(InvalidAuxiliary) as invalid:
        validate_auxiliary(bad, today=utcnow().date())
    assert {(p.field, p.problem) for p in invalid.value.problems} == {
        ("full_name", Problem.NAME_MISSING), ("clave_elector", Problem.CLAVE_INVALID),
        ("email", Problem.EMAIL_INVALID), ("phone", Problem.PHONE_INVALID)}


def test_registering_queues_an_invitation_whose_token_is_not_stored(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = _register(session, aspirant.id)
    token = _token_from_mail(session)
    assert auxiliary.state is InvitationState.INVITED and auxiliary.account_id is None
    assert token == invitation_link_token(auxiliary, SECRET)
    signature = token.split("-", 1)[1]
    stored = [str(value) for value in auxiliary.model_dump().values()]
    assert not any(signature in value for value in stored)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "auxiliary_registered")).one()
    assert "Rosa" not in audit.after_summary and "PEGORO" not in audit.after_summary


def test_the_same_email_or_clave_twice_on_a_team_is_refused(session: Session) -> None:
    aspirant = make_aspirant(session)
    _register(session, aspirant.id)
    with pytest.raises(InvalidAuxiliary) as invalid:
        _register(session, aspirant.id, AuxiliaryForm("Otra", GOOD.clave_elector, "ROSA@example.mx", "6620000000"))
    assert {p.problem for p in invalid.value.problems} == {Problem.EMAIL_TAKEN, Problem.CLAVE_TAKEN}


def test_accepting_with_the_invited_verified_email_grants_the_auxiliary_role(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = _register(session, aspirant.id)
    account_id = _invitee(session)
    preview = preview_invitation(session=session, token=_token_from_mail(session), secret=SECRET, now=utcnow())
    assert preview.masked_email == "r***@example.mx" and preview.aspirant_name == aspirant.full_name
    accept_invitation(session=session, token=_token_from_mail(session), secret=SECRET, account_id=account_id,
                      now=utcnow())
    assert (auxiliary.account_id, auxiliary.state) == (account_id, InvitationState.ACTIVE)
    grant = session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id,
                                                 RoleGrant.role == Role.AUXILIARY)).one()
    assert grant.aspirant_id == aspirant.id
    with pytest.raises(TeamRefused) as again:
        accept_invitation(session=session, token=_token_from_mail(session), secret=SECRET, account_id=account_id,
                          now=utcnow())
    assert again.value.error is TeamError.ALREADY_USED


def test_another_email_cannot_accept(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = _register(session, aspirant.id)
    stranger = _invitee(session, email="otra@example.mx")
    with pytest.raises(TeamRefused) as refused:
        accept_invitation(session=session, token=_token_from_mail(session), secret=SECRET, account_id=stranger,
                          now=utcnow())
    assert refused.value.error is TeamError.EMAIL_MISMATCH
    assert auxiliary.account_id is None and not session.exec(select(RoleGrant).where(
        RoleGrant.account_id == stranger, RoleGrant.role == Role.AUXILIARY)).first()


@pytest.mark.parametrize("tamper", ["signature", "other_secret", "expired", "resent"])
def test_forged_stale_or_replaced_links_are_refused(session: Session, tamper: str) -> None:
    aspirant = make_aspirant(session)
    auxiliary = _register(session, aspirant.id)
    account_id = _invitee(session)
    token, secret, now = _token_from_mail(session), SECRET, utcnow()
    if tamper == "signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif tamper == "other_secret":
        secret = "another-secret-" + "z" * 32
    elif tamper == "expired":
        now += INVITATION_LIFETIME + timedelta(minutes=1)
    else:
        resend_invitation(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant.id}),
                          invitation=INVITATION, actor_account_id=account_id, now=utcnow() + timedelta(seconds=5))
    with pytest.raises(TeamRefused) as refused:
        accept_invitation(session=session, token=token, secret=secret, account_id=account_id, now=now)
    expected = TeamError.EXPIRED if tamper == "expired" else TeamError.INVALID_LINK
    assert refused.value.error is expected


def test_a_suspended_invitation_cannot_be_accepted(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = _register(session, aspirant.id)
    suspend_auxiliary(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant.id}),
                      actor_account_id=_invitee(session, "x@y.mx"), now=utcnow())
    with pytest.raises(TeamRefused) as refused:
        accept_invitation(session=session, token=_token_from_mail(session), secret=SECRET,
                          account_id=_invitee(session), now=utcnow())
    assert refused.value.error is TeamError.NOT_INVITED


def test_only_the_own_team_can_be_managed(session: Session) -> None:
    mine, other = make_aspirant(session), make_aspirant(session, name="Otro Aspirante")
    auxiliary = make_auxiliary(session, aspirant=other)
    with pytest.raises(TeamRefused) as refused:
        suspend_auxiliary(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({mine.id}),
                          actor_account_id=make_account(session).id, now=utcnow())
    assert refused.value.error is TeamError.NOT_YOURS and auxiliary.state is InvitationState.ACTIVE


def _support(session: Session, aspirant_id: int, auxiliary_id: int, key: str, cic: str,
             now=None) -> Support:  # type: ignore[no-untyped-def]
    submission = SupportSubmission(
        idempotency_key=key, aspirant_id=aspirant_id, channel=Channel.AUXILIARY, auxiliary_id=auxiliary_id,
        credential=CredentialData(source=ReadingSource.PIPELINE, cic=cic), captured_at=utcnow())
    receipt = submit_support(session=session, submission=submission, actor_account_id=None, now=now or utcnow())
    support = session.get(Support, receipt.support_id)
    assert support is not None
    return support


def test_suspension_refuses_later_captures_and_flags_earlier_ones_without_changing_them(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = make_auxiliary(session, aspirant=aspirant, account=make_account(session, role=Role.AUXILIARY))
    before = _support(session, aspirant.id, auxiliary.id, "k1", "111111111", now=utcnow() - timedelta(hours=1))
    snapshot = before.model_dump()
    suspend_auxiliary(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant.id}),
                      actor_account_id=make_account(session).id, now=utcnow())
    with pytest.raises(Refused) as refused:
        _support(session, aspirant.id, auxiliary.id, "k2", "222222222")
    assert refused.value.code is Refusal.AUXILIARY_INACTIVE
    assert session.get(Support, before.id).model_dump() == snapshot
    assert suspension_flag(before, auxiliary)
    reactivate_auxiliary(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant.id}),
                         actor_account_id=make_account(session).id, now=utcnow())
    after = _support(session, aspirant.id, auxiliary.id, "k3", "333333333", now=utcnow() + timedelta(seconds=1))
    assert auxiliary.state is InvitationState.ACTIVE
    assert suspension_flag(before, auxiliary) and not suspension_flag(after, auxiliary)


def test_progress_counts_each_auxiliarys_supports_by_status(session: Session) -> None:
    aspirant = make_aspirant(session)
    busy, idle = make_auxiliary(session, aspirant=aspirant), make_auxiliary(session, aspirant=aspirant, email="b@x")
    supports = [_support(session, aspirant.id, busy.id, f"k{n}", f"00000000{n}") for n in range(5)]
    for support, status in zip(supports[1:], (SupportStatus.IN_REVIEW, SupportStatus.VALID, SupportStatus.INVALID,
                                              SupportStatus.VALID), strict=True):
        record_transition(session=session, support=support, to_status=status,
                          situacion=support.situacion_registral, reason="prueba", actor_account_id=None,
                          now=utcnow())
    session.flush()
    progress = {member.auxiliary.id: member.progress for member in team_progress(session=session,
                                                                                   aspirant_id=aspirant.id)}
    counts = progress[busy.id]
    assert (counts.captured, counts.sent, counts.in_review, counts.valid, counts.rejected) == (5, 1, 1, 2, 1)
    assert progress[idle.id].captured == 0
    assert aspirant_totals(session=session, aspirant_id=aspirant.id).captured == 5


def test_progress_counts_flagged_supports_after_a_suspension(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = make_auxiliary(session, aspirant=aspirant)
    _support(session, aspirant.id, auxiliary.id, "k1", "111111111", now=utcnow() - timedelta(minutes=5))
    suspend_auxiliary(session=session, auxiliary_id=auxiliary.id, aspirant_ids=frozenset({aspirant.id}),
                      actor_account_id=make_account(session).id, now=utcnow())
    [member] = team_progress(session=session, aspirant_id=aspirant.id)
    assert (member.progress.captured, member.progress.flagged) == (1, 1)


CSV_OK = ("nombre,clave de elector,correo,teléfono\n"
          "Rosa Pérez,PEGORO90010126M100,rosa@x.mx,6621234567\n"
          "Luis Díaz,DILULU85020326H200,luis@x.mx,662-765-4321\n").encode()


def _import(session: Session, aspirant_id: int, data: bytes):  # type: ignore[no-untyped-def]
    return import_auxiliaries_csv(session=session, aspirant_id=aspirant_id, data=data, invitation=INVITATION,
                                  actor_account_id=make_account(session).id, now=utcnow())


def test_a_csv_registers_and_invites_every_row(session: Session) -> None:
    aspirant = make_aspirant(session)
    result = _import(session, aspirant.id, CSV_OK)
    assert (result.registered, result.problems) == (2, ())
    assert len(session.exec(select(OutboxMessage)).all()) == 2
    again = _import(session, aspirant.id, CSV_OK)
    assert (again.registered, again.already_on_team) == (0, 2)


def test_a_csv_with_one_bad_row_registers_nobody_and_names_the_line(session: Session) -> None:
    aspirant = make_aspirant(session)
    data = CSV_OK + b"Ana,CLAVE-MALA,ana@x.mx,6620000000\nLuis Otro,DILULU85020326H201,luis@x.mx,6620000001\n"
    result = _import(session, aspirant.id, data)
    assert result.registered == 0
    assert {(p.line, p.field, p.problem) for p in result.problems} == {
        (4, "clave_elector", Problem.CLAVE_INVALID), (5, "email", Problem.REPEATED_IN_FILE)}
    assert session.exec(select(Auxiliary)).all() == []


def test_excel_semicolons_and_windows_1252_without_header_are_read(session: Session) -> None:
    aspirant = make_aspirant(session)
    data = "José Núñez;NUJOJO80010126H300;jose@x.mx;6621112233\r\n".encode("cp1252")
    result = _import(session, aspirant.id, data)
    assert result.registered == 1
    assert session.exec(select(Auxiliary.full_name)).one() == "José Núñez"


@pytest.mark.parametrize(("data", "problem"), [
    (b"", Problem.FILE_EMPTY),
    (b"nombre,correo\nRosa,rosa@x.mx\n", Problem.COLUMNS_MISSING),
    (b"nombre,clave,correo,telefono\n", Problem.FILE_EMPTY),
    (b"x" * 1_000_001, Problem.FILE_TOO_LARGE),
])
def test_unusable_files_are_refused_whole(session: Session, data: bytes, problem: Problem) -> None:
    result = _import(session, make_aspirant(session).id, data)
    assert [p.problem for p in result.problems] == [problem]
