"""The people an OPL admin manages: the aspirants of each process and the OPL's reviewers.

How a person gets the role: the admin types a name (aspirants) and an e-mail; the app e-mails an invitation link
through the outbox; the person opens it, signs in (Google, Facebook, or the local provider in development) and
accepts, and the role is granted through `auth.grants.grant_role` — which refuses an account on both sides of
a collection — only when the signed-in account's verified addresses include the invited one. So a forwarded or
leaked link is useless to anybody else, and no account is ever given a role it did not ask for.

Links carry `<kind><id>-<issued at, unix seconds>-<HMAC>` and nothing personal: the HMAC (under the app's
secret) covers the kind, the row (aspirant) or OPL (reviewer), the invited address and the issue time, so the
database holds no token and a link expires after `INVITATION_LIFETIME`. An aspirant's link is spent once the
aspirant row has an account, and refused while the aspirant is deactivated; a reviewer's link is refused after
that account was removed as a reviewer of the OPL, whenever the link was issued before the removal.

Removing a reviewer revokes the OPL's reviewer grant and releases every desk claim the reviewer holds there."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from auth.grants import RoleConflict, grant_role
from auth.models import Account, RoleGrant
from auth.roles import Role
from core.audit import AuditEvent, record_audit
from core.clock import as_utc
from core.text import TextRefusal, has_unsafe_characters, required_text
from registry.models import Aspirant, Opl, Process, ReviewClaim, Support
from registry.opl_admin import NotFound
from registry.opl_admin.processes import process_of_opl
from registry.outbox import queue_mail
from registry.team import opl_of_aspirant, verified_emails

INVITATION_LIFETIME = timedelta(days=14)
REVIEWER_REMOVED = "reviewer_removed"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TOKEN = re.compile(r"([ar])([0-9]{1,10})-([0-9]{1,12})-([0-9a-f]{64})")


class PersonProblem(StrEnum):
    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    NAME_CHARACTERS = "name_characters"
    EMAIL_INVALID = "email_invalid"
    EMAIL_TAKEN = "email_taken"  # an aspirant of this process, or a reviewer of this OPL, has it already


_NAME_PROBLEMS = {TextRefusal.CHARACTERS: PersonProblem.NAME_CHARACTERS,
                  TextRefusal.MISSING: PersonProblem.NAME_MISSING, TextRefusal.TOO_LONG: PersonProblem.NAME_TOO_LONG}


class InvalidPerson(Exception):
    def __init__(self, problems: dict[str, PersonProblem]) -> None:
        super().__init__(",".join(problems))
        self.problems = problems


class InvitationError(StrEnum):
    INVALID_LINK = "invalid_link"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    NOT_ACTIVE = "not_active"  # the aspirant was deactivated, or the reviewer removed
    EMAIL_MISMATCH = "email_mismatch"
    ROLE_CONFLICT = "role_conflict"


class InvitationRefused(Exception):
    def __init__(self, error: InvitationError) -> None:
        super().__init__(error.value)
        self.error = error


@dataclass(frozen=True)
class Mailer:
    """How invitations leave: the app's secret signs the links, `url_for` makes a token an absolute URL."""

    secret: str
    url_for: Callable[[str], str]


@dataclass(frozen=True)
class Reviewer:
    account_id: int
    name: str
    email: str


@dataclass(frozen=True)
class InvitationPreview:
    role: Role
    opl_name: str
    process_name: str | None


# ---------------------------------------------------------------- aspirants


def aspirants_of_process(*, session: Session, opl_id: int, process_id: int) -> tuple[Process, list[Aspirant]]:
    process = process_of_opl(session, opl_id, process_id)
    return process, list(session.exec(select(Aspirant).where(Aspirant.process_id == process_id)
                                      .order_by(col(Aspirant.full_name), col(Aspirant.id))))


def register_aspirant(*, session: Session, opl_id: int, process_id: int, full_name: str, email: str,
                      mailer: Mailer, actor_account_id: int, now: datetime) -> Aspirant:
    """Store the aspirant and e-mail the invitation; raises InvalidPerson, NotFound (another OPL's process)."""
    process = process_of_opl(session, opl_id, process_id)
    problems: dict[str, PersonProblem] = {}
    name, address = _name(full_name, problems), _email(email, problems)
    taken = session.exec(select(Aspirant.email).where(Aspirant.process_id == process_id)).all()
    if address and address in {e.lower() for e in taken}:
        problems["correo"] = PersonProblem.EMAIL_TAKEN
    if problems:
        raise InvalidPerson(problems)
    aspirant = Aspirant(process_id=process_id, full_name=name, email=address, created_at=now)
    session.add(aspirant)
    session.flush()
    link = mailer.url_for(_token("a", aspirant.id or 0, address, now, mailer.secret))
    _mail(session, address, name, f"aspirante independiente en «{process.name}»", link)
    record_audit(session, action="aspirant_registered", actor_account_id=actor_account_id,
                 object_type="aspirant", object_id=aspirant.id, after=f"process={process_id}")
    return aspirant


def set_aspirant_active(*, session: Session, opl_id: int, aspirant_id: int, active: bool,
                        actor_account_id: int) -> Aspirant:
    """Deactivated, the aspirant's new supports are refused (registry.supports); what was received stays."""
    aspirant = session.get(Aspirant, aspirant_id)
    if aspirant is None:
        raise NotFound
    process_of_opl(session, opl_id, aspirant.process_id)
    if aspirant.is_active != active:
        aspirant.is_active = active
        session.add(aspirant)
        record_audit(session, action="aspirant_reactivated" if active else "aspirant_deactivated",
                     actor_account_id=actor_account_id, object_type="aspirant", object_id=aspirant_id)
    return aspirant


def resend_aspirant_invitation(*, session: Session, opl_id: int, aspirant_id: int, mailer: Mailer,
                               actor_account_id: int, now: datetime) -> Aspirant:
    """A fresh link (14 more days) for an active aspirant who has not accepted yet; otherwise nothing is sent."""
    aspirant = session.get(Aspirant, aspirant_id)
    if aspirant is None:
        raise NotFound
    process = process_of_opl(session, opl_id, aspirant.process_id)
    if aspirant.account_id is None and aspirant.is_active:
        link = mailer.url_for(_token("a", aspirant_id, aspirant.email, now, mailer.secret))
        _mail(session, aspirant.email, aspirant.full_name, f"aspirante independiente en «{process.name}»", link)
        record_audit(session, action="aspirant_invitation_resent", actor_account_id=actor_account_id,
                     object_type="aspirant", object_id=aspirant_id)
    return aspirant


# ---------------------------------------------------------------- reviewers


def reviewers_of_opl(*, session: Session, opl_id: int) -> list[Reviewer]:
    rows = session.exec(select(Account).join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
                        .where(RoleGrant.role == Role.REVIEWER, RoleGrant.opl_id == opl_id)
                        .order_by(col(Account.display_name), col(Account.id))).all()
    return [Reviewer(account_id=a.id or 0, name=a.display_name, email=a.email or "") for a in rows]


def invite_reviewer(*, session: Session, opl_id: int, email: str, mailer: Mailer, actor_account_id: int,
                    now: datetime) -> None:
    """E-mail a reviewer invitation for the OPL; raises InvalidPerson."""
    opl = session.get(Opl, opl_id)
    assert opl is not None
    problems: dict[str, PersonProblem] = {}
    address = _email(email, problems)
    if address and address in {r.email.lower() for r in reviewers_of_opl(session=session, opl_id=opl_id)}:
        problems["correo"] = PersonProblem.EMAIL_TAKEN
    if problems:
        raise InvalidPerson(problems)
    link = mailer.url_for(_token("r", opl_id, address, now, mailer.secret))
    _mail(session, address, None, f"revisor(a) de la mesa de control de {opl.name}", link)
    record_audit(session, action="reviewer_invited", actor_account_id=actor_account_id, object_type="opl",
                 object_id=opl_id)


def remove_reviewer(*, session: Session, opl_id: int, account_id: int, actor_account_id: int, now: datetime) -> None:
    """Revoke the reviewer grant in this OPL and release the reviewer's claims on its supports."""
    grant = session.exec(select(RoleGrant).where(RoleGrant.account_id == account_id, RoleGrant.role == Role.REVIEWER,
                                                 RoleGrant.opl_id == opl_id)).first()
    if grant is None:
        raise NotFound
    session.delete(grant)
    in_opl = select(Support.id).join(Process, col(Process.id) == col(Support.process_id)).where(
        Process.opl_id == opl_id)
    for claim in session.exec(select(ReviewClaim).where(ReviewClaim.reviewer_account_id == account_id,
                                                        col(ReviewClaim.support_id).in_(in_opl))):
        session.delete(claim)
    removed = record_audit(session, action=REVIEWER_REMOVED, actor_account_id=actor_account_id,
                           object_type="account", object_id=account_id, after=f"opl={opl_id}")
    removed.at = now  # the app's clock: older reviewer links for this account stop working from here


# ---------------------------------------------------------------- invitations


def preview_invitation(*, session: Session, token: str, now: datetime) -> InvitationPreview:
    """What the link is for, without checking who opens it (the signature is checked when accepting)."""
    kind, number, _ = _parts(token, now)
    if kind == "a":
        aspirant = session.get(Aspirant, number)
        process = session.get(Process, aspirant.process_id) if aspirant else None
        opl = session.get(Opl, process.opl_id) if process else None
        if aspirant is None or process is None or opl is None:
            raise InvitationRefused(InvitationError.INVALID_LINK)
        return InvitationPreview(role=Role.ASPIRANT, opl_name=opl.name, process_name=process.name)
    opl = session.get(Opl, number)
    if opl is None:
        raise InvitationRefused(InvitationError.INVALID_LINK)
    return InvitationPreview(role=Role.REVIEWER, opl_name=opl.name, process_name=None)


def invitation_is_for(*, session: Session, token: str, email: str | None, secret: str, now: datetime) -> bool:
    """Whether `token` is a pending invitation (valid, unexpired, not yet used) sent to `email`: lets the person
    it names sign in through the OPL's staff-only provider before they hold the role (auth/staff_policy.py)."""
    try:
        kind, number, issued = _parts(token, now)
    except InvitationRefused:
        return False
    expected = _signature(kind, number, email, issued, secret) if email else ""
    if not email or not hmac.compare_digest(token.rsplit("-", 1)[1], expected):
        return False
    if kind == "a":
        aspirant = session.get(Aspirant, number)
        return aspirant is not None and aspirant.account_id is None and aspirant.is_active
    return session.get(Opl, number) is not None


def accept_invitation(*, session: Session, token: str, secret: str, account_id: int, now: datetime) -> Role:
    """Grant the invited role to the signed-in account; raises InvitationRefused (refusals are audited by
    grant_role when it is the role rule that refuses)."""
    kind, number, issued = _parts(token, now)
    emails = verified_emails(session, account_id)
    signature = token.rsplit("-", 1)[1]
    if not any(hmac.compare_digest(signature, _signature(kind, number, email, issued, secret)) for email in emails):
        mismatch = InvitationError.EMAIL_MISMATCH if _exists(session, kind, number) else InvitationError.INVALID_LINK
        raise InvitationRefused(mismatch)
    if kind == "a":
        return _accept_aspirant(session, number, account_id, now)
    return _accept_reviewer(session, number, account_id, issued, now)


def _accept_aspirant(session: Session, aspirant_id: int, account_id: int, now: datetime) -> Role:
    aspirant = session.get(Aspirant, aspirant_id)
    assert aspirant is not None
    if aspirant.account_id is not None:
        raise InvitationRefused(InvitationError.ALREADY_USED)
    if not aspirant.is_active:
        raise InvitationRefused(InvitationError.NOT_ACTIVE)
    _grant(session, account_id, Role.ASPIRANT, now, aspirant_id=aspirant_id)
    aspirant.account_id = account_id
    session.add(aspirant)
    record_audit(session, action="aspirant_invitation_accepted", actor_account_id=account_id,
                 object_type="aspirant", object_id=aspirant_id)
    return Role.ASPIRANT


def _accept_reviewer(session: Session, opl_id: int, account_id: int, issued: datetime, now: datetime) -> Role:
    removed = session.exec(select(AuditEvent.at).where(
        AuditEvent.action == REVIEWER_REMOVED, AuditEvent.object_type == "account",
        AuditEvent.object_id == str(account_id), AuditEvent.after_summary == f"opl={opl_id}")).all()
    if any(as_utc(at) >= issued for at in removed):
        raise InvitationRefused(InvitationError.NOT_ACTIVE)
    _grant(session, account_id, Role.REVIEWER, now, opl_id=opl_id)
    return Role.REVIEWER


def _grant(session: Session, account_id: int, role: Role, now: datetime, *, opl_id: int | None = None,
           aspirant_id: int | None = None) -> None:
    """The invited person grants the role to themself; the role rule's refusal is audited by grant_role."""
    granted = grant_role(session=session, account_id=account_id, role=role, now=now, actor_account_id=account_id,
                         opl_id=opl_id, aspirant_id=aspirant_id,
                         aspirant_opl=lambda one: opl_of_aspirant(session=session, aspirant_id=one))
    if isinstance(granted, RoleConflict):
        raise InvitationRefused(InvitationError.ROLE_CONFLICT)


def _exists(session: Session, kind: str, number: int) -> bool:
    return (session.get(Aspirant, number) if kind == "a" else session.get(Opl, number)) is not None


def _parts(token: str, now: datetime) -> tuple[str, int, datetime]:
    found = _TOKEN.fullmatch(token)
    if found is None or int(found.group(2)) > 2_147_483_647:
        raise InvitationRefused(InvitationError.INVALID_LINK)
    try:
        issued = datetime.fromtimestamp(int(found.group(3)), UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvitationRefused(InvitationError.INVALID_LINK) from error
    if now - issued > INVITATION_LIFETIME:
        raise InvitationRefused(InvitationError.EXPIRED)
    return found.group(1), int(found.group(2)), issued


def _token(kind: str, number: int, email: str, now: datetime, secret: str) -> str:
    issued = datetime.fromtimestamp(int(as_utc(now).timestamp()), UTC)
    return f"{kind}{number}-{int(issued.timestamp())}-{_signature(kind, number, email, issued, secret)}"


def _signature(kind: str, number: int, email: str, issued: datetime, secret: str) -> str:
    message = f"opl-invitation|{kind}|{number}|{email.strip().lower()}|{int(issued.timestamp())}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _mail(session: Session, to: str, name: str | None, what: str, link: str) -> None:
    # Spanish: the invitee's language is not known yet, and the product's primary language is Spanish.
    greeting = f"Hola, {name}:" if name else "Hola:"
    body = (f"{greeting}\n\nEl OPL te registró como {what} en Registro Ciudadano.\n\n"
            f"Para aceptar, abre este enlace e inicia sesión con una cuenta de este mismo correo ({to}):\n\n"
            f"{link}\n\nEl enlace vence en {INVITATION_LIFETIME.days} días. Si no esperabas este correo, ignóralo.\n")
    queue_mail(session=session, to_address=to, subject="Invitación a Registro Ciudadano", body=body)


# ---------------------------------------------------------------- shared checks


def _name(text: str, problems: dict[str, PersonProblem]) -> str:
    name, refused = required_text(text, 200)
    if refused is not None:
        problems["nombre"] = _NAME_PROBLEMS[refused]
    return name


def _email(text: str, problems: dict[str, PersonProblem]) -> str:
    email = text.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 320 or has_unsafe_characters(email):
        problems["correo"] = PersonProblem.EMAIL_INVALID
        return ""
    return email
