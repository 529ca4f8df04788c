"""Server-side sessions: the cookie carries only a random token; the row (keyed by its hash) is the truth, so
logging out or disabling an account ends the session at once."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from auth.models import Account, RoleGrant, UserSession
from auth.principal import Grant, Principal
from core.audit import record_audit
from core.clock import as_utc

SESSION_COOKIE = "registro_sesion"
# Writing last_seen_at on every request would turn each page view into a write; once a minute is enough.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionLifetime:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class ActiveSession:
    principal: Principal
    csrf_token: str
    token_hash: str
    touch_due: bool = False  # last seen more than TOUCH_INTERVAL ago: worth one write to keep it alive


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, session: Session, account_id: int, now: datetime, previous_token: str | None = None,
                  max_live: int | None = None, provider: str = "", second_factor: bool = False) -> str:
    """A fresh session (new id: a login never reuses the token the browser had before); returns the token.
    With `max_live`, the account's oldest open sessions end so that at most that many stay open. `provider` and
    `second_factor` record how it was signed in, for the staff sign-in policy (auth/staff_policy.py)."""
    if previous_token:
        end_session(session=session, token=previous_token, now=now)
    if max_live is not None:
        _make_room(session, account_id, now, keep=max_live - 1)
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=hash_token(token), account_id=account_id,
                            csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                            provider=provider, second_factor=second_factor))
    return token


def end_session(*, session: Session, token: str, now: datetime) -> int | None:
    """Revoke the session; returns its account id (for the audit row), or None if there was none."""
    row = session.get(UserSession, hash_token(token))
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = now
    session.add(row)
    return row.account_id


def _make_room(session: Session, account_id: int, now: datetime, *, keep: int) -> None:
    """End all but the `keep` newest open sessions of the account. The account row is locked first (PostgreSQL)
    so that two sign-ins at once cannot both find room; SQLite's write lock already serialises them."""
    session.exec(select(Account.id).where(Account.id == account_id).with_for_update()).first()
    open_rows = session.exec(select(UserSession).where(UserSession.account_id == account_id,
                                                       UserSession.revoked_at.is_(None))  # type: ignore[union-attr]
                             .order_by(col(UserSession.created_at).desc(), col(UserSession.token_hash))).all()
    ended = revoke_sessions(session, open_rows[max(keep, 0):], now)
    if ended:
        record_audit(session, action="sessions_capped", actor_account_id=account_id, object_type="account",
                     object_id=account_id, after=f"ended={ended}")


def end_all_sessions(*, session: Session, account_id: int, now: datetime) -> None:
    rows = session.exec(select(UserSession).where(UserSession.account_id == account_id,
                                                  UserSession.revoked_at.is_(None)))  # type: ignore[union-attr]
    revoke_sessions(session, rows, now)


def revoke_sessions(session: Session, rows: Iterable[UserSession], now: datetime) -> int:
    """End each of these sessions at `now`; returns how many were ended."""
    ended = 0
    for row in rows:
        row.revoked_at = now
        session.add(row)
        ended += 1
    return ended


def resolve_session(*, session: Session, token: str, now: datetime, lifetime: SessionLifetime) -> ActiveSession | None:
    """The live session of `token` (None: unknown, ended or expired), its last-seen time touched when due."""
    active = lookup_session(session=session, token=token, now=now, lifetime=lifetime)
    if active is not None and active.touch_due:
        touch_session(session=session, token_hash=active.token_hash, now=now)
    return active


# One round trip, not three: every signed-in request runs this (bench/load.py counted the statements). Built once
# with a bound parameter and reading plain columns, not whole rows: no statement to build per request, no ORM
# objects to make, and the cached compiled form is found without working out its key again.
_SESSION_WITH_GRANTS = (
    sa.select(*(col(column) for column in (
        UserSession.csrf_token, UserSession.created_at, UserSession.last_seen_at, UserSession.revoked_at,
        Account.id, Account.display_name, Account.is_active, RoleGrant.role, RoleGrant.opl_id, RoleGrant.aspirant_id)))
    .join(Account, col(Account.id) == col(UserSession.account_id))
    .outerjoin(RoleGrant, col(RoleGrant.account_id) == col(UserSession.account_id))
    .where(col(UserSession.token_hash) == sa.bindparam("token_hash"))
    .order_by(col(RoleGrant.id))
)


def lookup_session(*, session: Session, token: str, now: datetime, lifetime: SessionLifetime) -> ActiveSession | None:
    """Like resolve_session, but never writes (a read-only transaction); `touch_due` says the caller should
    call touch_session in a write transaction of its own."""
    token_hash = hash_token(token)
    found = session.execute(_SESSION_WITH_GRANTS, {"token_hash": token_hash}).all()
    if not found:
        return None
    csrf_token, created_at, last_seen_at, revoked_at, account_id, display_name, is_active = found[0][:7]
    if not _is_live(revoked_at, created_at, last_seen_at, now, lifetime) or not is_active:
        return None
    grants = tuple(Grant(role=role, opl_id=opl_id, aspirant_id=aspirant_id)
                   for *_session, role, opl_id, aspirant_id in found if role is not None)
    return ActiveSession(principal=Principal(account_id=account_id, display_name=display_name, grants=grants),
                         csrf_token=csrf_token, token_hash=token_hash,
                         touch_due=now - as_utc(last_seen_at) > TOUCH_INTERVAL)


def touch_session(*, session: Session, token_hash: str, now: datetime) -> None:
    row = session.get(UserSession, token_hash)
    if row is not None and row.revoked_at is None and as_utc(row.last_seen_at) < now:
        row.last_seen_at = now
        session.add(row)


def _is_live(revoked_at: datetime | None, created_at: datetime, last_seen_at: datetime, now: datetime,
             lifetime: SessionLifetime) -> bool:
    if revoked_at is not None:
        return False
    return now - as_utc(created_at) < lifetime.absolute and now - as_utc(last_seen_at) < lifetime.idle


def load_principal(*, session: Session, account: Account) -> Principal:
    grants = session.exec(select(RoleGrant).where(RoleGrant.account_id == account.id)).all()
    return _principal(account, grants)


def _principal(account: Account, grants: Sequence[RoleGrant]) -> Principal:
    assert account.id is not None
    return Principal(
        account_id=account.id, display_name=account.display_name,
        grants=tuple(Grant(role=g.role, opl_id=g.opl_id, aspirant_id=g.aspirant_id) for g in grants),
    )
