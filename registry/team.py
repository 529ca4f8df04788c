"""An aspirant's team of auxiliaries: register them (one by one or from a CSV file, with the FURA form's fields),
invite them by e-mail, let them accept by signing in with the invited address, suspend and reactivate them, and
follow each one's progress from the supports they captured.

Invitation links carry `<auxiliary id>-<token>`. The token is an HMAC of the invitation (auxiliary id and the
second it was sent) under the app's secret: the database holds no token at all, so a copy of the database
cannot forge a link, re-sending an invitation (a new `invited_at`) voids the previous link, and accepting it
(the auxiliary stops being `invited`) voids it too.

Suspension refuses the auxiliary's later captures (`registry.supports` checks `CAN_CAPTURE`). Supports received
before the suspension are not touched — nothing stored changes — but they are flagged by derivation: a support
is flagged when its auxiliary's latest suspension (`Auxiliary.suspended_at`, kept after a reactivation as "last
suspended at") came after the support was received. See `registry.team_progress`: `suspension_flag` (one
support) and `Progress.flagged` (counts). The role grant stays while suspended, so the phone hears a per-item
refusal instead of a bare 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from auth.grants import RoleConflict, grant_role
from auth.models import Account, OAuthIdentity
from auth.roles import Role
from capture.identifiers import InvalidIdentifier, parse_clave_elector
from core.audit import AuditEvent, record_audit
from core.clock import as_utc
from core.text import TextRefusal, has_unsafe_characters, required_text
from registry.models import Aspirant, Auxiliary, Process
from registry.outbox import queue_mail
from registry.states import InvitationState

INVITATION_LIFETIME = timedelta(days=14)
DEFAULT_INVITATIONS_PER_DAY = 300  # e-mails per aspirant in any 24 hours; REGISTRO_INVITATIONS_PER_DAY
INVITATION_SENT = "auxiliary_invitation_sent"  # one audit row per invitation e-mail: what the daily cap counts
MAX_ROW_ID = 2_147_483_647  # integer primary keys; a larger number from a URL or a phone is no row (and no DB error)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_DIGITS = 10  # Mexican numbers: 10 digits, optionally written with +52 / 52 in front
InvitationUrl = Callable[[str], str]  # link token -> absolute URL of the acceptance page


class Problem(StrEnum):
    """Why a field was refused; the web layer turns each code into a Spanish message."""

    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    NAME_CHARACTERS = "name_characters"  # control, bidi or zero-width characters (core.text)
    CLAVE_INVALID = "clave_invalid"
    EMAIL_INVALID = "email_invalid"
    PHONE_INVALID = "phone_invalid"
    EMAIL_TAKEN = "email_taken"
    CLAVE_TAKEN = "clave_taken"
    REPEATED_IN_FILE = "repeated_in_file"
    COLUMNS_MISSING = "columns_missing"
    FILE_UNREADABLE = "file_unreadable"
    FILE_TOO_LARGE = "file_too_large"
    FILE_EMPTY = "file_empty"


_NAME_PROBLEMS = {TextRefusal.CHARACTERS: Problem.NAME_CHARACTERS, TextRefusal.MISSING: Problem.NAME_MISSING,
                  TextRefusal.TOO_LONG: Problem.NAME_TOO_LONG}


@dataclass(frozen=True)
class FieldProblem:
    field: str  # full_name, clave_elector, email, phone, file
    problem: Problem
    line: int | None = None  # CSV line number (1 = the first line of the file)


class InvalidAuxiliary(Exception):
    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(", ".join(f"{p.field}:{p.problem}" for p in self.problems))


class TeamError(StrEnum):
    NOT_YOURS = "not_yours"  # the auxiliary is not on one of the signed-in aspirant's teams
    INVALID_LINK = "invalid_link"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    EMAIL_MISMATCH = "email_mismatch"
    NOT_INVITED = "not_invited"  # suspended or revoked before accepting
    WRONG_STATE = "wrong_state"
    ROLE_CONFLICT = "role_conflict"  # OPL staff where the team collects (auth.grants)


class TeamRefused(Exception):
    def __init__(self, error: TeamError) -> None:
        super().__init__(error.value)
        self.error = error


@dataclass(frozen=True)
class AuxiliaryForm:
    """What the aspirant typed (or one CSV row), before validation."""

    full_name: str
    clave_elector: str
    email: str
    phone: str


@dataclass(frozen=True)
class Invitation:
    """How invitations are sent: the app secret signs the links, `url_for` makes them absolute."""

    secret: str
    url_for: InvitationUrl
    per_day: int = DEFAULT_INVITATIONS_PER_DAY


class TooManyInvitations(Exception):
    """Sending `wanted` more invitations would pass the aspirant's cap for 24 hours; nothing was sent."""

    def __init__(self, *, wanted: int, left: int, per_day: int) -> None:
        super().__init__(f"wanted={wanted} left={left} per_day={per_day}")
        self.wanted, self.left, self.per_day = wanted, left, per_day


# ---------------------------------------------------------------- validation


def validate_auxiliary(form: AuxiliaryForm, *, today: date) -> AuxiliaryForm:
    """The same form with every field normalised; raises InvalidAuxiliary listing every problem at once."""
    problems: list[FieldProblem] = []
    name = _clean_name(form.full_name, problems)
    clave = _clean_clave(form.clave_elector, today, problems)
    email = form.email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 320 or has_unsafe_characters(email):
        problems.append(FieldProblem("email", Problem.EMAIL_INVALID))
    phone = _clean_phone(form.phone)
    if phone is None:
        problems.append(FieldProblem("phone", Problem.PHONE_INVALID))
    if problems:
        raise InvalidAuxiliary(problems)
    return AuxiliaryForm(full_name=name, clave_elector=clave, email=email, phone=phone or "")


def _clean_name(text: str, problems: list[FieldProblem]) -> str:
    name, refused = required_text(text, 200)
    if refused is not None:
        problems.append(FieldProblem("full_name", _NAME_PROBLEMS[refused]))
    return name


def _clean_clave(text: str, today: date, problems: list[FieldProblem]) -> str:
    try:
        return parse_clave_elector(text, today=today).value
    except InvalidIdentifier:
        problems.append(FieldProblem("clave_elector", Problem.CLAVE_INVALID))
        return ""


def _clean_phone(text: str) -> str | None:
    digits = re.sub(r"[\s\-().]", "", text)
    digits = digits.removeprefix("+")
    if len(digits) == _PHONE_DIGITS + 2 and digits.startswith("52"):
        digits = digits[2:]
    return digits if len(digits) == _PHONE_DIGITS and digits.isascii() and digits.isdigit() else None


# ---------------------------------------------------------------- registering and inviting


def register_auxiliary(*, session: Session, aspirant_id: int, form: AuxiliaryForm, invitation: Invitation,
                       actor_account_id: int, now: datetime) -> Auxiliary:
    """Validate, store and invite one auxiliary; raises InvalidAuxiliary (also for an e-mail or clave already
    on this team). The caller checked that the actor manages `aspirant_id`."""
    clean = validate_auxiliary(form, today=now.date())
    taken = _taken(session, aspirant_id, clean)
    if taken:
        raise InvalidAuxiliary(taken)
    require_invitations_left(session, aspirant_id, invitation, now)
    return add_and_invite(session, aspirant_id, clean, invitation, actor_account_id, now)


def _taken(session: Session, aspirant_id: int, form: AuxiliaryForm) -> list[FieldProblem]:
    emails, claves = team_keys(session, aspirant_id)
    problems = []
    if form.email in emails:
        problems.append(FieldProblem("email", Problem.EMAIL_TAKEN))
    if form.clave_elector in claves:
        problems.append(FieldProblem("clave_elector", Problem.CLAVE_TAKEN))
    return problems


def team_keys(session: Session, aspirant_id: int) -> tuple[set[str], set[str]]:
    rows = session.exec(select(Auxiliary.email, Auxiliary.clave_elector)
                        .where(Auxiliary.aspirant_id == aspirant_id)).all()
    return {email.lower() for email, _ in rows}, {clave for _, clave in rows}


def add_and_invite(session: Session, aspirant_id: int, form: AuxiliaryForm, invitation: Invitation,
                    actor_account_id: int, now: datetime) -> Auxiliary:
    auxiliary = Auxiliary(aspirant_id=aspirant_id, full_name=form.full_name, clave_elector=form.clave_elector,
                          email=form.email, phone=form.phone, state=InvitationState.INVITED, invited_at=now)
    session.add(auxiliary)
    session.flush()
    _send_invitation(session, auxiliary, invitation, now)
    record_audit(session, action="auxiliary_registered", actor_account_id=actor_account_id,
                 object_type="auxiliary", object_id=auxiliary.id, after=f"aspirant={aspirant_id}")
    return auxiliary


def resend_invitation(*, session: Session, auxiliary_id: int, aspirant_ids: frozenset[int],
                      invitation: Invitation, actor_account_id: int, now: datetime) -> Auxiliary:
    """A fresh link (the previous one stops working) for an auxiliary who has not accepted yet."""
    auxiliary = _team_member(session, auxiliary_id, aspirant_ids)
    if auxiliary.state is not InvitationState.INVITED:
        raise TeamRefused(TeamError.WRONG_STATE)
    require_invitations_left(session, auxiliary.aspirant_id, invitation, now)
    auxiliary.invited_at = now
    session.add(auxiliary)
    _send_invitation(session, auxiliary, invitation, now)
    record_audit(session, action="auxiliary_invitation_resent", actor_account_id=actor_account_id,
                 object_type="auxiliary", object_id=auxiliary.id)
    return auxiliary


def invitations_left(session: Session, aspirant_id: int, invitation: Invitation, now: datetime) -> int:
    """How many more invitation e-mails the aspirant may send now (the cap counts the last 24 hours)."""
    sent = session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == INVITATION_SENT, AuditEvent.object_type == "aspirant",
        AuditEvent.object_id == str(aspirant_id), col(AuditEvent.at) > now - timedelta(days=1))).one()
    return max(invitation.per_day - int(sent), 0)


def require_invitations_left(session: Session, aspirant_id: int, invitation: Invitation, now: datetime,
                             wanted: int = 1) -> None:
    """Raises TooManyInvitations unless `wanted` more fit: mail to addresses nobody has confirmed yet must
    not turn the app into a way to send bulk e-mail."""
    left = invitations_left(session, aspirant_id, invitation, now)
    if wanted > left:
        raise TooManyInvitations(wanted=wanted, left=left, per_day=invitation.per_day)


def _send_invitation(session: Session, auxiliary: Auxiliary, invitation: Invitation, now: datetime) -> None:
    aspirant = session.get(Aspirant, auxiliary.aspirant_id)
    assert aspirant is not None
    link = invitation.url_for(invitation_link_token(auxiliary, invitation.secret))
    # Spanish: the auxiliary's language is not known yet, and the product's primary language is Spanish.
    body = (f"Hola, {auxiliary.full_name}:\n\n"
            f"{aspirant.full_name} te registró como auxiliar para recabar apoyo ciudadano en Registro Ciudadano.\n\n"
            f"Para aceptar, abre este enlace e inicia sesión con Google o Facebook usando este mismo correo "
            f"({auxiliary.email}):\n\n{link}\n\n"
            f"El enlace vence en {INVITATION_LIFETIME.days} días. Si no esperabas este correo, ignóralo.\n")
    queue_mail(session=session, to_address=auxiliary.email, subject="Invitación para ser auxiliar", body=body)
    sent = record_audit(session, action=INVITATION_SENT, object_type="aspirant", object_id=auxiliary.aspirant_id,
                        after=f"auxiliary={auxiliary.id}")
    sent.at = now  # the app's clock, which the cap's window is measured with


def invitation_link_token(auxiliary: Auxiliary, secret: str) -> str:
    assert auxiliary.id is not None
    return f"{auxiliary.id}-{_signature(auxiliary, secret)}"


def _signature(auxiliary: Auxiliary, secret: str) -> str:
    sent = int(as_utc(auxiliary.invited_at).timestamp())  # whole seconds: every database keeps those
    message = f"auxiliary-invitation:{auxiliary.id}:{sent}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# ---------------------------------------------------------------- accepting an invitation


@dataclass(frozen=True)
class InvitationPreview:
    auxiliary_id: int
    aspirant_name: str
    process_name: str
    masked_email: str
    state: InvitationState


def preview_invitation(*, session: Session, token: str, secret: str, now: datetime) -> InvitationPreview:
    """What the acceptance page shows; raises TeamRefused when the link is not (or no longer) valid."""
    auxiliary = _invited(session, token, secret, now)
    aspirant = session.get(Aspirant, auxiliary.aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    assert aspirant is not None and process is not None and auxiliary.id is not None
    return InvitationPreview(auxiliary_id=auxiliary.id, aspirant_name=aspirant.full_name,
                             process_name=process.name, masked_email=mask_email(auxiliary.email),
                             state=auxiliary.state)


def accept_invitation(*, session: Session, token: str, secret: str, account_id: int,
                      now: datetime) -> Auxiliary | TeamError:
    """Link the signed-in account to the auxiliary and grant it the auxiliary role on the aspirant's team,
    when one of the account's verified e-mail addresses is the invited one. OPL staff where this team collects
    get TeamError.ROLE_CONFLICT back, returned rather than raised so that the refusal's audit rows commit."""
    auxiliary = _invited(session, token, secret, now)
    if auxiliary.email.lower() not in verified_emails(session, account_id):
        raise TeamRefused(TeamError.EMAIL_MISMATCH)
    granted = grant_role(session=session, account_id=account_id, role=Role.AUXILIARY, now=now,
                         actor_account_id=account_id, aspirant_id=auxiliary.aspirant_id,
                         aspirant_opl=lambda aspirant_id: opl_of_aspirant(session=session, aspirant_id=aspirant_id))
    if isinstance(granted, RoleConflict):
        record_audit(session, action="auxiliary_invitation_refused", actor_account_id=account_id,
                     object_type="auxiliary", object_id=auxiliary.id,
                     after=f"reason=role_conflict; held={granted.held}")
        return TeamError.ROLE_CONFLICT
    auxiliary.account_id, auxiliary.state, auxiliary.accepted_at = account_id, InvitationState.ACTIVE, now
    session.add(auxiliary)
    record_audit(session, action="auxiliary_invitation_accepted", actor_account_id=account_id,
                 object_type="auxiliary", object_id=auxiliary.id)
    return auxiliary


def _invited(session: Session, token: str, secret: str, now: datetime) -> Auxiliary:
    auxiliary_id, _, signature = token.partition("-")
    known = auxiliary_id.isascii() and auxiliary_id.isdigit() and int(auxiliary_id) <= MAX_ROW_ID
    auxiliary = session.get(Auxiliary, int(auxiliary_id)) if known else None
    if auxiliary is None or not hmac.compare_digest(signature, _signature(auxiliary, secret)):
        raise TeamRefused(TeamError.INVALID_LINK)
    if auxiliary.state is InvitationState.ACTIVE or auxiliary.accepted_at is not None:
        raise TeamRefused(TeamError.ALREADY_USED)
    if auxiliary.state is not InvitationState.INVITED:
        raise TeamRefused(TeamError.NOT_INVITED)
    if now - as_utc(auxiliary.invited_at) > INVITATION_LIFETIME:
        raise TeamRefused(TeamError.EXPIRED)
    return auxiliary


def verified_emails(session: Session, account_id: int) -> set[str]:
    """Addresses the sign-in providers vouched for (auth keeps only verified ones), lower-cased."""
    account = session.get(Account, account_id)
    identities = session.exec(select(OAuthIdentity.email).where(OAuthIdentity.account_id == account_id)).all()
    found = [*identities, account.email if account else None]
    return {email.strip().lower() for email in found if email}


def opl_of_aspirant(*, session: Session, aspirant_id: int) -> int | None:
    """The OPL running the aspirant's process: where the aspirant and their auxiliaries act."""
    return session.exec(select(Process.opl_id).join(Aspirant, col(Aspirant.process_id) == col(Process.id))
                        .where(Aspirant.id == aspirant_id)).first()


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


# ---------------------------------------------------------------- suspending


def suspend_auxiliary(*, session: Session, auxiliary_id: int, aspirant_ids: frozenset[int],
                      actor_account_id: int, now: datetime) -> Auxiliary:
    """Later captures are refused; earlier ones stay as they are and are flagged (see `suspension_flag`)."""
    auxiliary = _team_member(session, auxiliary_id, aspirant_ids)
    if auxiliary.state not in (InvitationState.ACTIVE, InvitationState.INVITED):
        raise TeamRefused(TeamError.WRONG_STATE)
    before = auxiliary.state
    auxiliary.state, auxiliary.suspended_at = InvitationState.SUSPENDED, now
    session.add(auxiliary)
    record_audit(session, action="auxiliary_suspended", actor_account_id=actor_account_id,
                 object_type="auxiliary", object_id=auxiliary.id, before=f"state={before}",
                 after=f"state={auxiliary.state}")
    return auxiliary


def reactivate_auxiliary(*, session: Session, auxiliary_id: int, aspirant_ids: frozenset[int],
                         actor_account_id: int, now: datetime) -> Auxiliary:
    """Back to capturing (or back to invited, for someone who never accepted). `suspended_at` is kept: it
    still flags what was received before that suspension."""
    auxiliary = _team_member(session, auxiliary_id, aspirant_ids)
    if auxiliary.state is not InvitationState.SUSPENDED:
        raise TeamRefused(TeamError.WRONG_STATE)
    auxiliary.state = InvitationState.ACTIVE if auxiliary.account_id else InvitationState.INVITED
    if auxiliary.state is InvitationState.INVITED:
        auxiliary.invited_at = now  # the old link is void; the aspirant re-sends one when wanted
    session.add(auxiliary)
    record_audit(session, action="auxiliary_reactivated", actor_account_id=actor_account_id,
                 object_type="auxiliary", object_id=auxiliary.id, before="state=suspended",
                 after=f"state={auxiliary.state}")
    return auxiliary


def _team_member(session: Session, auxiliary_id: int, aspirant_ids: frozenset[int]) -> Auxiliary:
    auxiliary = session.get(Auxiliary, auxiliary_id) if 0 < auxiliary_id <= MAX_ROW_ID else None
    if auxiliary is None or auxiliary.aspirant_id not in aspirant_ids:
        raise TeamRefused(TeamError.NOT_YOURS)
    return auxiliary
