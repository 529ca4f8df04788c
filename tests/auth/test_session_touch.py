"""Looking a session up only reads; its last-seen time is written at most once a minute, in a write of its own."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from auth.models import UserSession
from auth.sessions import SessionLifetime, hash_token, lookup_session, start_session, touch_session
from core.clock import as_utc, utcnow
from tests.factories.accounts import make_account

LIFETIME = SessionLifetime(idle=timedelta(minutes=60), absolute=timedelta(hours=12))


def test_the_lookup_never_writes_and_says_when_a_touch_is_due(session: Session) -> None:
    account = make_account(session)
    assert account.id is not None
    started = utcnow()
    token = start_session(session=session, account_id=account.id, now=started)
    session.commit()
    soon = lookup_session(session=session, token=token, now=started + timedelta(seconds=30), lifetime=LIFETIME)
    later = lookup_session(session=session, token=token, now=started + timedelta(minutes=5), lifetime=LIFETIME)
    assert soon is not None and not soon.touch_due and later is not None and later.touch_due
    assert not session.dirty and not session.new  # nothing to write: the lookup changed no row
    touch_session(session=session, token_hash=later.token_hash, now=started + timedelta(minutes=5))
    session.commit()
    row = session.get(UserSession, hash_token(token))
    assert row is not None and as_utc(row.last_seen_at) == started + timedelta(minutes=5)
