"""Issue 16, item 1 ("JWKS rotation"): an institutional provider that rotates its signing key keeps signing
people in (the app's cached key set lacks the new kid, so Authlib fetches the set again), while an id_token
signed by a key the provider does not publish signs nobody in."""

from __future__ import annotations

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from auth.models import OAuthIdentity, UserSession
from auth.oauth import FailureReason
from auth.roles import Role
from auth.sessions import SESSION_COOKIE
from core.audit import AuditEvent
from core.db import session_scope
from tests.auth.institution import NAME, Institution, sign_in_at
from tests.auth.login_flow import failure_reason
from tests.factories.accounts import make_account

REVISORA = "demo-revisora"


@pytest.fixture
def reviewer_id(engine: Engine, opl_id: int) -> int:
    """A reviewer linked to the institution (its provider is staff-only)."""
    with session_scope(engine) as db:
        account = make_account(db, role=Role.REVIEWER, opl_id=opl_id)
        assert account.id is not None
        db.add(OAuthIdentity(account_id=account.id, provider=NAME, subject=REVISORA))
        return account.id


def _new_key(kid: str | None = None) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256", **({"kid": kid} if kid else {})})
    key.ensure_kid()
    return key


def _signed_in(answer_location: str | None, client: TestClient) -> bool:
    return answer_location == "/mesa" and bool(client.cookies.get(SESSION_COOKIE))


def test_after_a_key_rotation_the_next_sign_in_fetches_the_new_key_set_and_succeeds(
        institution_client: tuple[TestClient, Institution], reviewer_id: int, session: Session) -> None:
    client, institution = institution_client
    first = sign_in_at(client, institution, REVISORA)
    assert _signed_in(first.headers.get("location"), client)
    assert institution.jwks_requests == 1  # fetched once, now cached by the app
    old_kid = institution.provider.signing_key.kid

    rotated = _new_key()
    institution.sign_with(rotated)
    assert rotated.kid != old_kid
    assert [key["kid"] for key in institution.provider.jwks()["keys"]] == [rotated.kid]  # the old key is gone

    for attempt in (1, 2):
        client.cookies.delete(SESSION_COOKIE)
        answer = sign_in_at(client, institution, REVISORA)
        assert _signed_in(answer.headers.get("location"), client), (attempt, answer.headers.get("location"))
        assert institution.jwks_requests == 2  # refetched once for the unknown kid, then cached again
    sessions = session.exec(select(UserSession)).all()
    assert len(sessions) == 3 and {row.account_id for row in sessions} == {reviewer_id}


@pytest.mark.parametrize("claims_published_kid", [
    pytest.param(False, id="unknown-kid"),
    pytest.param(True, id="published-kid"),  # the header names the published key; the signature is another's
])
def test_an_id_token_signed_by_a_key_the_provider_does_not_publish_signs_nobody_in(
        institution_client: tuple[TestClient, Institution], reviewer_id: int, session: Session,
        claims_published_kid: bool) -> None:
    client, institution = institution_client
    published = institution.provider.jwks()
    institution.published_jwks = published
    institution.sign_with(_new_key(published["keys"][0]["kid"] if claims_published_kid else None))

    answer = sign_in_at(client, institution, REVISORA)
    assert failure_reason(answer) == FailureReason.UNVERIFIED
    assert SESSION_COOKIE not in client.cookies
    assert session.exec(select(UserSession)).all() == []
    assert "No pudimos comprobar la respuesta de IEPC Institucional" in client.get(answer.headers["location"]).text
    audit = session.exec(select(AuditEvent.after_summary).where(AuditEvent.action == "login_failed")).one()
    assert audit.startswith(f"reason={FailureReason.UNVERIFIED}")
