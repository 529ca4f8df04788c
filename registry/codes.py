"""Activation codes (Registro Ciudadano, INE/CG688/2020 numerals 56-57): a short random code, valid 24 hours,
bound to one account and one credential (the small QR's URL and the CIC), single use, rate limited.

Only an HMAC of the code is stored (keyed with the app secret), so a copy of the database does not reveal codes.
Checks that must leave a trace (a wrong try counted, a credential bound to another account) return an outcome
instead of raising: the caller's transaction then commits the counter or the audit row.

Self-service binds only what the server read from the photo (the small QR and a CIC whose check digits held):
a typed CIC proves nothing about who holds the card, so it gets no code here (auxiliaries, who see the card,
still type identifiers as a captura manual). A credential belongs to the account of its latest code; someone
whose credential is bound to another account claims it with such a full machine read (`claim=True`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Exists, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from core.audit import record_audit
from core.sealing import blind_match
from registry.models import ActivationCode, CredentialReading, Process
from registry.states import ReadingSource

# No 0/O, 1/I/L: a code read from an e-mail on a small screen and typed by hand must not be ambiguous.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(hours=24)
    max_wrong_tries: int = 5  # per code; then the code is invalidated
    max_codes_per_day: int = 5  # per account, rolling 24 hours


DEFAULT_POLICY = CodePolicy()


class IssueRefusal(StrEnum):
    CREDENTIAL_TAKEN = "credential_taken"  # this credential already got a code for another account
    TOO_MANY_CODES = "too_many_codes"
    INCOMPLETE_READING = "incomplete_reading"  # no CIC or no small-QR token: not a D-H credential read
    TYPED_READING = "typed_reading"  # the CIC was typed, not read from the photo: proves nothing on self-service
    NO_OPEN_PROCESS = "no_open_process"


class CodeOutcome(StrEnum):
    VALID = "valid"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong tries: the code no longer works
    EXPIRED = "expired"
    USED = "used"
    REPLACED = "replaced"  # a newer code was requested, which invalidated this one
    NONE_OPEN = "none_open"  # the account has no code waiting to be used
    WINDOW_CLOSED = "window_closed"  # no collection process is open any more


@dataclass(frozen=True)
class IssuedCode:
    code_id: int
    code: str  # the only time the plain code exists: shown once, mailed once
    expires_at: datetime


@dataclass(frozen=True, order=True)
class ReleasedBinding:
    """A claim took this credential from `account_id`, whose codes for it carried `cic`."""

    account_id: int
    cic: str


@dataclass(frozen=True)
class IssueResult:
    issued: IssuedCode | None = None
    refusal: IssueRefusal | None = None
    released: tuple[ReleasedBinding, ...] = ()  # a claim: the bindings it took from other accounts


@dataclass(frozen=True)
class CodeCheck:
    outcome: CodeOutcome
    code_id: int | None = None
    attempts_left: int = 0


class CodeRefused(Exception):
    def __init__(self, outcome: CodeOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def hash_code(code: str, *, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), normalize_code(code).encode(), hashlib.sha256).hexdigest()


def normalize_code(typed: str) -> str:
    """What people type: lower case, spaces, the hyphen of the displayed form `ABCD-EFGH`."""
    return "".join(typed.split()).replace("-", "").upper()


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def latest_open_process_end(session: Session, now: datetime) -> datetime | None:
    """When the last collection window open now closes (None: none is open)."""
    return session.exec(
        select(func.max(Process.ends_at)).where(Process.starts_at <= now, Process.ends_at >= now)
    ).first()


def window_open(now: datetime) -> Exists:
    """Whether a collection window is open now, as a column for a code's own query: every wizard step checks its
    code and the window, and one round trip for both (not two) is a statement less on each request."""
    # An alias of its own: it stays a test over every process in a query that also joins an aspirant's process.
    return exists().where(col(_WINDOW.starts_at) <= now, col(_WINDOW.ends_at) >= now)


_WINDOW = aliased(Process, name="open_window")


def issue_code(*, session: Session, account_id: int, reading_id: int, secret_key: str, now: datetime,
               policy: CodePolicy = DEFAULT_POLICY, claim: bool = False) -> IssueResult:
    """A new code for this account and the credential of `reading_id`; the account's open code stops working.
    With `claim`, a credential bound to another account moves to this one (the reading is always a full
    machine read here: QR and a check-digit-valid CIC from the photo); `released` says from whom."""
    reading = session.get(CredentialReading, reading_id)
    if reading is None or not reading.cic or not reading.qr_text:
        return IssueResult(refusal=IssueRefusal.INCOMPLETE_READING)
    if reading.source != ReadingSource.PIPELINE:
        record_audit(session, action="activation_code_refused", actor_account_id=account_id,
                     object_type="account", object_id=account_id, after="typed_identifier")
        return IssueResult(refusal=IssueRefusal.TYPED_READING)
    window_end = latest_open_process_end(session, now)
    if window_end is None:
        return IssueResult(refusal=IssueRefusal.NO_OPEN_PROCESS)
    holder = credential_holder(session, reading.cic, reading.qr_text)
    taken = holder is not None and holder != account_id
    if taken and not claim:
        record_audit(session, action="activation_code_refused", actor_account_id=account_id,
                     object_type="account", object_id=account_id, after="credential_bound_to_other_account")
        return IssueResult(refusal=IssueRefusal.CREDENTIAL_TAKEN)
    if _issued_since(session, account_id, now - timedelta(days=1)) >= policy.max_codes_per_day:
        return IssueResult(refusal=IssueRefusal.TOO_MANY_CODES)
    released = _release(session, holder, reading.cic, reading.qr_text, now) if taken and holder else ()
    _invalidate_open(session, account_id, now)
    # After the collection window closes a code has nothing left to do, so it stops working then.
    code, expires_at = new_code(), min(now + policy.lifetime, window_end)
    row = ActivationCode(account_id=account_id, code_hash=hash_code(code, secret_key=secret_key), cic=reading.cic,
                         qr_text=reading.qr_text, reading_id=reading_id, created_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    assert row.id is not None
    record_audit(session, action="activation_code_issued", actor_account_id=account_id,
                 object_type="activation_code", object_id=row.id)
    return IssueResult(issued=IssuedCode(code_id=row.id, code=code, expires_at=expires_at), released=released)


def _same_credential(cic: str, qr_text: str) -> ColumnElement[bool]:
    # Sealed columns: the credential is found by its blind indexes (core/sealing.py).
    return or_(blind_match(col(ActivationCode.cic_bidx), cic, "cic"),
               blind_match(col(ActivationCode.qr_text_bidx), qr_text, "qr"))


def credential_holder(session: Session, cic: str, qr_text: str) -> int | None:
    """The account a credential is bound to: the one its latest code went to (used or not, expired or not), so
    a claim moves it simply by issuing the claimant's code."""
    return session.exec(select(ActivationCode.account_id).where(_same_credential(cic, qr_text))
                        .order_by(col(ActivationCode.id).desc()).limit(1)).first()


def _release(session: Session, holder: int, cic: str, qr_text: str, now: datetime) -> tuple[ReleasedBinding, ...]:
    """The holder's codes for this credential stop working at once: no more supports in its name from there."""
    codes = session.exec(select(ActivationCode).where(ActivationCode.account_id == holder,
                                                      _same_credential(cic, qr_text))).all()
    for code in codes:
        if code.used_at is None and code.invalidated_at is None:
            code.invalidated_at = now
            session.add(code)
    return tuple(sorted({ReleasedBinding(account_id=holder, cic=code.cic) for code in codes}))


def _issued_since(session: Session, account_id: int, since: datetime) -> int:
    return session.exec(select(func.count()).select_from(ActivationCode).where(
        ActivationCode.account_id == account_id, ActivationCode.created_at > since)).one()


def _invalidate_open(session: Session, account_id: int, now: datetime) -> None:
    session.execute(update(ActivationCode).where(
        col(ActivationCode.account_id) == account_id, col(ActivationCode.used_at).is_(None),
        col(ActivationCode.invalidated_at).is_(None),
    ).values(invalidated_at=now))


def _latest(session: Session, account_id: int, now: datetime) -> tuple[ActivationCode, bool] | None:
    """The account's latest code and whether a collection window is open now, in one query."""
    row = session.exec(select(ActivationCode, window_open(now)).where(ActivationCode.account_id == account_id)
                       .order_by(col(ActivationCode.created_at).desc(), col(ActivationCode.id).desc())
                       .limit(1)).first()
    return (row[0], bool(row[1])) if row is not None else None


def _matching(session: Session, account_id: int, digest: str) -> ActivationCode | None:
    return session.exec(select(ActivationCode).where(ActivationCode.account_id == account_id,
                                                     ActivationCode.code_hash == digest)).first()


def check_code(*, session: Session, account_id: int, code: str, secret_key: str, now: datetime,
               policy: CodePolicy = DEFAULT_POLICY) -> CodeCheck:
    """Is `code` this account's code, still usable? A wrong code counts against the account's open code."""
    found = _latest(session, account_id, now)
    if found is None:
        return CodeCheck(CodeOutcome.NONE_OPEN)
    latest, window = found
    digest = hash_code(code, secret_key=secret_key) if normalize_code(code) else None
    # The code typed is nearly always the latest one: the older codes are only looked through when it is not.
    if digest is not None and hmac.compare_digest(digest, latest.code_hash):
        match: ActivationCode | None = latest
    else:
        match = _matching(session, account_id, digest) if digest else None
    if match is not None and match.id != latest.id:
        return CodeCheck(CodeOutcome.USED if match.used_at else CodeOutcome.REPLACED)
    state = code_state(latest, now, policy, window_open=window)
    if state is not CodeOutcome.VALID:
        return CodeCheck(state)
    if match is None:
        return _count_wrong_try(session, latest, now, policy, window)
    return CodeCheck(CodeOutcome.VALID, code_id=latest.id)


def code_state(code: ActivationCode, now: datetime, policy: CodePolicy, *, window_open: bool) -> CodeOutcome:
    """Whether a code (already identified) may still be used now, and if not, why (`window_open`: read with the
    code, see window_open)."""
    if code.used_at is not None:
        return CodeOutcome.USED
    if code.failed_attempts >= policy.max_wrong_tries:
        return CodeOutcome.LOCKED
    if code.invalidated_at is not None:
        return CodeOutcome.REPLACED
    if now >= code.expires_at:
        return CodeOutcome.EXPIRED
    if not window_open:
        return CodeOutcome.WINDOW_CLOSED
    return CodeOutcome.VALID


def _count_wrong_try(session: Session, code: ActivationCode, now: datetime, policy: CodePolicy,
                     window: bool) -> CodeCheck:
    """One atomic UPDATE ... RETURNING: concurrent wrong tries each count (the row lock orders them, and the
    condition is checked again on the row as it is then), so no more than `max_wrong_tries` are ever answered."""
    counted = session.execute(
        update(ActivationCode)
        .where(col(ActivationCode.id) == code.id, col(ActivationCode.failed_attempts) < policy.max_wrong_tries,
               col(ActivationCode.used_at).is_(None), col(ActivationCode.invalidated_at).is_(None))
        .values(failed_attempts=col(ActivationCode.failed_attempts) + 1)
        .returning(col(ActivationCode.failed_attempts))
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.refresh(code)
    if counted is None:  # another request locked, used or replaced it since we looked
        state = code_state(code, now, policy, window_open=window)
        return CodeCheck(CodeOutcome.LOCKED if state is CodeOutcome.VALID else state)
    left = max(policy.max_wrong_tries - counted, 0)
    if left == 0:
        session.execute(update(ActivationCode).where(col(ActivationCode.id) == code.id)
                        .values(invalidated_at=now).execution_options(synchronize_session=False))
        session.refresh(code)
        record_audit(session, action="activation_code_locked", actor_account_id=code.account_id,
                     object_type="activation_code", object_id=code.id, after=f"wrong_tries={counted}")
    return CodeCheck(CodeOutcome.LOCKED if left == 0 else CodeOutcome.WRONG, attempts_left=left)


def open_code(*, session: Session, account_id: int, code_id: int, now: datetime,
              policy: CodePolicy = DEFAULT_POLICY) -> ActivationCode:
    """The account's code `code_id` if it can still be used; raises CodeRefused otherwise."""
    row = session.exec(select(ActivationCode, window_open(now)).where(ActivationCode.id == code_id)).first()
    return usable_code(row[0] if row else None, account_id=account_id, window=bool(row and row[1]), now=now,
                       policy=policy)


def usable_code(code: ActivationCode | None, *, account_id: int, window: bool, now: datetime,
                policy: CodePolicy = DEFAULT_POLICY) -> ActivationCode:
    """`code` (read by the caller with window_open, in a query of its own) if it is the account's and can still be
    used; raises CodeRefused otherwise."""
    if code is None or code.account_id != account_id:
        raise CodeRefused(CodeOutcome.NONE_OPEN)
    state = code_state(code, now, policy, window_open=window)
    if state is not CodeOutcome.VALID:
        raise CodeRefused(state)
    return code


def consume_code(*, session: Session, account_id: int, code_id: int, now: datetime,
                 policy: CodePolicy = DEFAULT_POLICY) -> ActivationCode:
    """Mark the code used. The conditional UPDATE is atomic, so two tabs racing with one code get one support."""
    code = open_code(session=session, account_id=account_id, code_id=code_id, now=now, policy=policy)
    return consume_open_code(session=session, code=code, now=now)


def consume_open_code(*, session: Session, code: ActivationCode, now: datetime) -> ActivationCode:
    """Mark a code usable_code or open_code returned used, in the same transaction (see consume_code)."""
    result = session.execute(update(ActivationCode).where(
        col(ActivationCode.id) == code.id, col(ActivationCode.used_at).is_(None),
        col(ActivationCode.invalidated_at).is_(None),
    ).values(used_at=now))
    if getattr(result, "rowcount", 0) != 1:
        raise CodeRefused(CodeOutcome.USED)
    # The ORM's UPDATE already set used_at on the loaded code (it matched the same conditions): no re-read.
    return code
