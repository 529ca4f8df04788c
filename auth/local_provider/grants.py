"""The local provider's one client, its short-lived authorization codes, and the authorization-code grant with
the OpenID Connect and PKCE extensions (Authlib's server side does the protocol; this supplies the storage)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin

from auth.demo_people import DEMO_PEOPLE, DemoPerson

SUPPORTED_SCOPES = ("openid", "email", "profile")
CODE_LIFETIME_SECONDS = 120


@dataclass(frozen=True)
class LocalClient(ClientMixin):
    """The app itself, as a confidential client with one exact redirect URI."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in scope_to_list(scope or "openid") if s in SUPPORTED_SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class IssuedCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class CodeStore:
    """Authorization codes in memory: single use, two minutes. The local provider serves one process (the
    development server or a test), which is also why its signing key can be generated at start-up."""

    def __init__(self) -> None:
        self._codes: dict[str, IssuedCode] = {}
        self._lock = threading.Lock()

    def save(self, issued: IssuedCode) -> None:
        with self._lock:
            self._forget_expired()
            self._codes[issued.code] = issued

    def find(self, code: str, client_id: str) -> IssuedCode | None:
        with self._lock:
            issued = self._codes.get(code)
        if issued is None or issued.client_id != client_id or issued.expires_at < time.time():
            return None
        return issued

    def consume(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def nonce_in_use(self, client_id: str, nonce: str) -> bool:
        with self._lock:
            return any(c.client_id == client_id and c.nonce == nonce for c in self._codes.values())

    def _forget_expired(self) -> None:
        now = time.time()
        for code in [code for code, issued in self._codes.items() if issued.expires_at < now]:
            del self._codes[code]


def person_by_subject(subject: str) -> DemoPerson | None:
    return next((person for person in DEMO_PEOPLE if person.subject == subject), None)


class LocalCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.server.codes.save(IssuedCode(
            code=code, client_id=request.client.get_client_id(), redirect_uri=request.payload.redirect_uri,
            scope=request.scope, subject=request.user.subject, nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()), expires_at=time.time() + CODE_LIFETIME_SECONDS,
        ))

    def query_authorization_code(self, code: str, client: LocalClient) -> IssuedCode | None:
        return self.server.codes.find(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        self.server.codes.consume(authorization_code.code)

    def authenticate_user(self, authorization_code: IssuedCode) -> DemoPerson | None:
        return person_by_subject(authorization_code.subject)


class LocalOpenIDCode(OpenIDCode):
    """Signs id_tokens with the provider's key. `overrides` lets a test make the provider misbehave (wrong
    issuer or audience, a missing or different nonce) to prove the client refuses such tokens."""

    def __init__(self, *, issuer: str, key: Any, codes: CodeStore, overrides: dict[str, Any]) -> None:
        super().__init__(require_nonce=True)
        self.issuer, self.key, self.codes, self.overrides = issuer, key, codes, overrides

    def resolve_client_private_key(self, client: LocalClient) -> Any:
        return self.key

    def get_client_algorithm(self, client: LocalClient) -> str:
        return "RS256"

    def get_encode_header(self, client: LocalClient) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.key.kid}

    def get_client_claims(self, client: LocalClient) -> dict[str, Any]:
        return self._tampered({"iss": self.issuer, "aud": [client.get_client_id()]})

    def get_authorization_code_claims(self, authorization_code: IssuedCode) -> dict[str, Any]:
        return self._tampered(dict(super().get_authorization_code_claims(authorization_code)))

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return self.codes.nonce_in_use(request.payload.client_id, nonce)

    def generate_user_info(self, user: DemoPerson, scope: str) -> UserInfo:
        claims: dict[str, Any] = {"sub": user.subject}
        if "profile" in scope_to_list(scope):
            claims["name"] = user.name
        if "email" in scope_to_list(scope):
            claims.update(email=user.email, email_verified=True)
        return UserInfo(self._tampered(claims))

    def _tampered(self, claims: dict[str, Any]) -> dict[str, Any]:
        for name, value in self.overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims
