"""A real OpenID provider for development and tests, on Authlib's server side: authorization code + PKCE +
id_token (RS256, key generated at start-up), discovery document and JWKS. Authlib has no Starlette server
integration, so this is the small adapter: a Starlette request is read (awaiting its form) into an
`OAuth2Request`, and Authlib's (status, body, headers) answers become Starlette responses."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from functools import cached_property
from typing import Any, ClassVar

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError, JsonPayload, JsonRequest, OAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc.jwk import RSAKey
from starlette.requests import Request
from starlette.responses import Response

from auth.demo_people import DemoPerson
from auth.local_provider.grants import SUPPORTED_SCOPES, CodeStore, LocalClient, LocalCodeGrant, LocalOpenIDCode
from auth.oauth import LocalClientCredentials

LOCAL_CLIENT_ID = "registro-local"


class _Payload(OAuth2Payload):
    """Query string and form together, like the parameters of any OAuth request."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    @property
    def data(self) -> dict[str, str]:
        return dict(self._pairs)

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._pairs:
            values[key].append(value)
        return values


class StarletteOAuth2Request(OAuth2Request):
    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = _Payload([*request.query_params.multi_items(), *form.items()])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class S256CodeChallenge(CodeChallenge):
    """PKCE is mandatory here, and only with S256 (as the app's client always sends it)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required.")
        super().validate_code_challenge(grant, redirect_uri)


async def read_oauth2_request(request: Request) -> StarletteOAuth2Request:
    """Authlib's server is synchronous, so the body is read here, before it runs."""
    form: dict[str, str] = {}
    if request.method == "POST":
        async with request.form() as parsed:
            form = {key: value for key, value in parsed.multi_items() if isinstance(value, str)}
    return StarletteOAuth2Request(request, form)


class LocalProvider(AuthorizationServer):
    """One issuer, one client (the app itself), the demo people as its users."""

    def __init__(self, *, issuer: str, redirect_uri: str) -> None:
        super().__init__(scopes_supported=list(SUPPORTED_SCOPES))
        self.issuer = issuer.rstrip("/")
        self.client = LocalClient(client_id=LOCAL_CLIENT_ID, client_secret=secrets.token_urlsafe(32),
                                  redirect_uri=redirect_uri)
        self.codes = CodeStore()
        # Tests set claims here to make the provider misbehave (None removes a claim); empty otherwise.
        self.id_token_overrides: dict[str, Any] = {}
        self.register_token_generator("default", BearerTokenGenerator(_random_token))
        self.register_grant(LocalCodeGrant, [S256CodeChallenge(required=True), self._openid_extension])

    @property
    def credentials(self) -> LocalClientCredentials:
        return LocalClientCredentials(issuer=self.issuer, client_id=self.client.client_id,
                                      client_secret=self.client.client_secret)

    @cached_property
    def signing_key(self) -> RSAKey:
        """Generated on first use (~0.1 s), so apps that never sign anyone in do not pay for it."""
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        key.ensure_kid()
        return key

    def _openid_extension(self, grant: LocalCodeGrant) -> None:
        LocalOpenIDCode(issuer=self.issuer, key=self.signing_key, codes=self.codes,
                        overrides=self.id_token_overrides)(grant)

    def query_client(self, client_id: str) -> LocalClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to keep: the access token opens no API here; the id_token carries the identity."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("read the request with read_oauth2_request() first")

    def create_json_request(self, request: Any) -> JsonRequest:
        json_request = JsonRequest(request.method, str(request.url), request.headers)
        json_request.payload = _JsonPayload({})
        return json_request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = json.dumps(body) if isinstance(body, dict) else body
        return Response(content, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def consent_grant(self, oauth_request: OAuth2Request) -> LocalCodeGrant:
        """Validate an authorization request before showing the picker (raises OAuth2Error)."""
        return self.get_consent_grant(oauth_request, end_user=None)

    def authorize(self, oauth_request: OAuth2Request, grant: LocalCodeGrant, person: DemoPerson | None) -> Response:
        """Redirect back to the client with a code for `person`, or with error=access_denied for None."""
        return self.create_authorization_response(oauth_request, grant_user=person,
                                                  grant=grant)

    def error_redirect(self, error: OAuth2Error) -> Response | None:
        """Errors the client must hear about go back to its (validated) redirect URI; None when there is none."""
        if not error.redirect_uri:
            return None
        return self.handle_response(*error())

    async def token_response(self, request: Request) -> Response:
        try:
            oauth_request = await read_oauth2_request(request)
        except OAuth2Error as error:
            return self.handle_response(*error())
        return self.create_token_response(oauth_request)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/autorizar",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SUPPORTED_SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "email", "email_verified", "nonce", "auth_time"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False)]}


def _random_token(**_context: Any) -> str:
    return secrets.token_urlsafe(32)
