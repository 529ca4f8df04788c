"""auth/staff_policy.py and the second factor read from an id_token, as services (the pages and the callback
are tested in tests/auth/test_staff_sign_in.py and tests/web/test_opl_sign_in_policy.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from auth.grants import grant_role
from auth.models import StaffSignInPolicy, UserSession
from auth.oauth import FailureReason, LoginFailure, ProviderIdentity, openid_identity, provider_specs
from auth.roles import Role
from auth.sessions import hash_token, start_session
from auth.staff_policy import PolicyProblem, PolicyRefused, admit, set_policy
from core.clock import utcnow
from core.settings import Settings
from tests.auth.institution import NAME, provider_config
from tests.factories.accounts import make_account
from tests.factories.processes import make_opl


def _identity(provider: str, *, second_factor: bool = False) -> ProviderIdentity:
    return ProviderIdentity(provider=provider, subject="s-1", display_name="Diana", email=None,
                            second_factor=second_factor)


@pytest.fixture
def specs(settings: Settings) -> dict[str, Any]:
    configured = settings.model_copy(update={"oidc_providers": [provider_config()],
                                             "google_client_id": "g", "google_client_secret": "s"})
    return {spec.name: spec for spec in provider_specs(configured, None)}


@pytest.mark.parametrize(("claims", "proven"), [
    ({"acr": "urn:iepc:mfa"}, True),
    ({"amr": ["pwd", "otp"]}, True),
    ({"amr": ["pwd"]}, False),
    ({"acr": "urn:iepc:pwd", "amr": ["pwd"]}, False),
    ({"amr": "otp"}, False),  # malformed: amr is a list of strings
    ({"acr": ["urn:iepc:mfa"]}, False),
    ({}, False),
])
def test_second_factor_comes_from_the_configured_acr_and_amr(specs: dict[str, Any], claims: dict[str, Any],
                                                            proven: bool) -> None:
    identity = openid_identity(NAME, {"sub": "s-1", **claims}, spec=specs[NAME])
    assert identity.second_factor is proven


def test_google_never_proves_a_second_factor(specs: dict[str, Any]) -> None:
    claims = {"sub": "s-1", "acr": "urn:iepc:mfa", "amr": ["otp", "mfa"]}
    assert openid_identity("google", claims, spec=specs["google"]).second_factor is False


def test_the_institutional_spec_is_staff_only_and_openid_with_pkce(specs: dict[str, Any]) -> None:
    spec = specs[NAME]
    assert spec.openid and spec.roles == ("reviewer", "opl_admin") and spec.label == "IEPC Institucional"
    assert spec.registration["client_kwargs"]["code_challenge_method"] == "S256"
    assert spec.authorization_origin == "https://sso.test"
    assert "not-used-here" not in repr(spec)


def test_the_policy_refuses_a_reviewer_signing_in_through_google(session: Session) -> None:
    opl = make_opl(session)
    reviewer = make_account(session, role=Role.REVIEWER, opl_id=opl.id)
    session.add(StaffSignInPolicy(opl_id=opl.id or 0, provider=NAME, require_second_factor=False))
    assert reviewer.id is not None
    with pytest.raises(LoginFailure) as refused:
        admit(session=session, account_id=reviewer.id, identity=_identity("google"), staff_roles=(), invited=False)
    assert (refused.value.reason, refused.value.detail) == (FailureReason.STAFF_PROVIDER_REQUIRED, NAME)
    admit(session=session, account_id=reviewer.id, identity=_identity(NAME), staff_roles=(), invited=False)


def test_a_staff_role_in_another_opl_is_not_bound_by_this_policy(session: Session) -> None:
    bound, other = make_opl(session), make_opl(session)
    reviewer = make_account(session, role=Role.REVIEWER, opl_id=other.id)
    session.add(StaffSignInPolicy(opl_id=bound.id or 0, provider=NAME, require_second_factor=True))
    assert reviewer.id is not None
    admit(session=session, account_id=reviewer.id, identity=_identity("google"), staff_roles=(), invited=False)


def test_a_new_reviewer_grant_ends_their_sessions_that_do_not_meet_the_policy(session: Session) -> None:
    opl = make_opl(session)
    person = make_account(session, role=Role.CITIZEN)
    assert person.id is not None and opl.id is not None
    session.add(StaffSignInPolicy(opl_id=opl.id, provider=NAME, require_second_factor=True))
    via_google = hash_token(start_session(session=session, account_id=person.id, now=utcnow(), provider="google"))
    compliant = hash_token(start_session(session=session, account_id=person.id, now=utcnow(), provider=NAME,
                                         second_factor=True))
    session.flush()
    grant_role(session=session, account_id=person.id, role=Role.REVIEWER, now=utcnow(), actor_account_id=person.id,
               aspirant_opl=lambda _aspirant: None, opl_id=opl.id)
    assert session.get(UserSession, via_google).revoked_at is not None  # type: ignore[union-attr]
    assert session.get(UserSession, compliant).revoked_at is None  # type: ignore[union-attr]


def test_turning_the_policy_on_without_a_session_is_refused(session: Session) -> None:
    opl = make_opl(session)
    admin = make_account(session, role=Role.OPL_ADMIN, opl_id=opl.id)
    assert admin.id is not None and opl.id is not None
    with pytest.raises(PolicyRefused) as refused:
        set_policy(session=session, opl_id=opl.id, provider=NAME, require_second_factor=False,
                   allowed_providers=[NAME], actor_account_id=admin.id, actor_token_hash=None, now=utcnow())
    assert refused.value.problem is PolicyProblem.WOULD_LOCK_OUT
