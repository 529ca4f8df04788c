"""Sign-in providers through Authlib's Starlette client: Google, the institutional providers of
`REGISTRO_OIDC_PROVIDERS` and the local provider as OpenID Connect (discovery, nonce, id_token verification,
PKCE S256), Facebook as OAuth 2.0 with the Graph API.

The local provider (development/test) is registered exactly like Google: the login runs the same code path.
A provider without credentials is not registered, so it is not offered. Every way a login can go wrong ends
in a `LoginFailure` with a reason the sign-in page can explain; nothing here raises anything else for a
provider's misbehaviour."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from starlette.requests import Request

from auth.demo_people import LOCAL_PROVIDER
from core.oidc_providers import OidcProviderConfig
from core.settings import Settings
from core.text import has_unsafe_characters, without_unsafe_characters

try:  # Authlib talks through httpx2 when it is installed, else through httpx: catch the errors of that one.
    import httpx2 as http_client
except ImportError:  # pragma: no cover
    import httpx as http_client  # type: ignore[no-redef]

log = logging.getLogger(__name__)

GOOGLE = "google"
FACEBOOK = "facebook"
GOOGLE_DISCOVERY_URL: str = Settings.model_fields["google_discovery_url"].default
FACEBOOK_GRAPH_VERSION = "v21.0"
OIDC_SCOPE = "openid email profile"
PROVIDER_TIMEOUT_SECONDS = 10.0
# Where the transient login state (state, nonce, PKCE verifier) lives between start and callback.
LOGIN_STATE_COOKIE = "registro_acceso"
LOGIN_STATE_MAX_AGE = 600
NEXT_KEY = "siguiente"
LOCAL_AMR_VALUES = ("mfa", "otp", "hwk")
# What a host[:port] may look like in a CSP source: nothing that could end the directive or the header.
_ORIGIN_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class FailureReason(StrEnum):
    """Why a sign-in did not complete; the value travels in the sign-in page's query string."""

    CANCELLED = "cancelado"
    EXPIRED = "caducado"
    PROVIDER_ERROR = "proveedor"
    UNREACHABLE = "sin_conexion"
    UNVERIFIED = "no_verificado"
    DISABLED = "cuenta_desactivada"
    LINKED_ELSEWHERE = "vinculada"
    STAFF_ONLY = "solo_personal"  # a staff-only provider, and the account holds none of its roles
    STAFF_PROVIDER_REQUIRED = "proveedor_institucional"  # the OPL's policy names another provider
    SECOND_FACTOR_REQUIRED = "segundo_factor"  # the OPL's policy wants a second factor the provider did not assert


class LoginFailure(Exception):
    def __init__(self, reason: FailureReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail  # an exception class or error code for the audit row: never personal data


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in. Accounts are keyed on (provider, subject) only."""

    provider: str
    subject: str
    display_name: str
    email: str | None
    second_factor: bool = False  # the id_token's acr/amr meet the provider's configured values


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    label: str
    openid: bool
    registration: Mapping[str, Any] = field(repr=False)  # holds the client secret
    extra_issuers: tuple[str, ...] = ()
    # Origins the provider's own redirects pass through before its page shows: Chromium checks form-action on
    # every redirect that follows our sign-in form, not only on the first.
    extra_form_action: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # non-empty: staff-only, for accounts holding one of these roles
    acr_values: tuple[str, ...] = ()  # an id_token whose acr is one of these proves a second factor...
    amr_values: tuple[str, ...] = ()  # ... or whose amr holds one of these

    @property
    def authorization_origin(self) -> str:
        """The origin the browser is sent to for signing in, known before any network call: the authorization
        endpoint's, or for OpenID discovery the discovery document's (Google and the local provider serve both
        from one origin; `LoginProviders.authorization_url` refuses an endpoint elsewhere)."""
        return origin_of(self.registration.get("authorize_url") or self.registration["server_metadata_url"])


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of an absolute http(s) URL, lower-cased; "" for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _ORIGIN_HOST.fullmatch(parts.netloc):
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class LocalClientCredentials:
    """What the app needs to sign in through its own local provider (generated at start-up)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)


def provider_specs(settings: Settings, local: LocalClientCredentials | None) -> list[ProviderSpec]:
    """The providers to offer, in the order the sign-in page lists them."""
    specs = []
    if settings.google_client_id and settings.google_client_secret:
        specs.append(_google(settings))
    if settings.facebook_client_id and settings.facebook_client_secret:
        specs.append(_facebook(settings))
    specs.extend(_institutional(config) for config in settings.oidc_providers)
    if local is not None:
        specs.append(_local(local))
    return specs


def _institutional(config: OidcProviderConfig) -> ProviderSpec:
    """A provider of REGISTRO_OIDC_PROVIDERS: the same OpenID code path as Google."""
    return ProviderSpec(
        name=config.name, label=config.display_name, openid=True, roles=config.roles,
        acr_values=config.acr_values, amr_values=config.amr_values,
        registration={
            "client_id": config.client_id, "client_secret": config.client_secret.get_secret_value(),
            "server_metadata_url": config.discovery_url,
            "client_kwargs": {"scope": config.scope, "code_challenge_method": "S256"},
        },
    )


def _google(settings: Settings) -> ProviderSpec:
    return ProviderSpec(
        name=GOOGLE, label="Google", openid=True, extra_issuers=("accounts.google.com",),
        registration={
            "client_id": settings.google_client_id, "client_secret": settings.google_client_secret,
            "server_metadata_url": settings.google_discovery_url,
            "client_kwargs": {"scope": OIDC_SCOPE, "code_challenge_method": "S256"},
        },
    )


def _facebook(settings: Settings) -> ProviderSpec:
    version = FACEBOOK_GRAPH_VERSION
    return ProviderSpec(
        name=FACEBOOK, label="Facebook", openid=False, extra_form_action=("https://m.facebook.com",),
        registration={
            "client_id": settings.facebook_client_id, "client_secret": settings.facebook_client_secret,
            "authorize_url": f"https://www.facebook.com/{version}/dialog/oauth",
            "access_token_url": f"https://graph.facebook.com/{version}/oauth/access_token",
            "api_base_url": f"https://graph.facebook.com/{version}/",
            "client_kwargs": {"scope": "email public_profile", "code_challenge_method": "S256",
                              "token_endpoint_auth_method": "client_secret_post"},
        },
    )


def _local(local: LocalClientCredentials) -> ProviderSpec:
    # Its id_tokens carry no amr unless a test sets one (LocalProvider.id_token_overrides), so a development
    # sign-in never proves a second factor by itself.
    return ProviderSpec(
        name=LOCAL_PROVIDER, label="Proveedor local de pruebas", openid=True, amr_values=LOCAL_AMR_VALUES,
        registration={
            "client_id": local.client_id, "client_secret": local.client_secret,
            "server_metadata_url": f"{local.issuer}/.well-known/openid-configuration",
            "client_kwargs": {"scope": OIDC_SCOPE, "code_challenge_method": "S256"},
        },
    )


class LoginProviders:
    """The configured providers and their Authlib clients (server metadata and JWKS are cached per client)."""

    def __init__(self, specs: list[ProviderSpec], *, transport: object | None = None) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._oauth = OAuth()
        for spec in specs:
            client_kwargs = {**spec.registration["client_kwargs"], "timeout": PROVIDER_TIMEOUT_SECONDS}
            if transport is not None:  # tests route the local provider's HTTP to the app in-process
                client_kwargs["transport"] = transport
            self._oauth.register(spec.name, **{**spec.registration, "client_kwargs": client_kwargs})

    @property
    def offered(self) -> list[ProviderSpec]:
        return list(self._specs.values())

    def spec(self, name: str) -> ProviderSpec | None:
        return self._specs.get(name)

    @property
    def authorization_origins(self) -> tuple[str, ...]:
        """Where sign-in forms may send the browser (the CSP's form-action also governs the redirect)."""
        origins = {origin for spec in self._specs.values()
                   for origin in (spec.authorization_origin, *map(origin_of, spec.extra_form_action))}
        return tuple(sorted(origins - {""}))

    def _client(self, name: str) -> Any:
        return self._oauth.create_client(name)

    async def end_session_url(self, name: str, *, post_logout_redirect_uri: str) -> str | None:
        """OpenID Connect RP-Initiated Logout: where to send the browser once our own session has ended, when
        provider `name` publishes an end_session_endpoint on its own origin (the CSP's form-action lets the
        sign-out form's redirect go only there); None otherwise, and when its metadata cannot be read (the
        person is signed out here all the same). Never an id_token_hint: we do not keep id_tokens."""
        spec = self._specs.get(name)
        if spec is None or not spec.openid:
            return None
        client = self._client(name)
        try:
            metadata = await client.load_server_metadata()
        except (http_client.HTTPError, ValueError, KeyError, TypeError, RuntimeError) as error:
            log.warning("sign-out at %s skipped: %s", name, type(error).__name__)
            return None
        endpoint = metadata.get("end_session_endpoint")
        own_origins = {spec.authorization_origin, *map(origin_of, spec.extra_form_action)} - {""}
        if not isinstance(endpoint, str) or origin_of(endpoint) not in own_origins:
            return None
        parts = urlsplit(endpoint)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("client_id", str(client.client_id)),
                 ("post_logout_redirect_uri", post_logout_redirect_uri), ("state", secrets.token_urlsafe(16))]
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))

    async def authorization_url(self, name: str, request: Request, *, redirect_uri: str) -> str:
        """Where to send the browser; state, nonce and PKCE verifier are kept in the login-state cookie."""
        client = self._client(name)
        try:
            created = await client.create_authorization_url(redirect_uri)
        except (http_client.HTTPError, ValueError, KeyError, RuntimeError) as error:
            raise LoginFailure(FailureReason.UNREACHABLE, type(error).__name__) from error
        if origin_of(str(created["url"])) != self._specs[name].authorization_origin:
            # The CSP would block the browser there anyway; say so rather than leave a button that does nothing.
            log.warning("sign-in with %s: authorization endpoint outside its configured origin", name)
            raise LoginFailure(FailureReason.PROVIDER_ERROR, "authorization endpoint origin")
        transient = {key: value for key, value in created.items() if key != "url"}
        await client.save_authorize_data(request, redirect_uri=redirect_uri, **transient)
        return str(created["url"])

    async def identity_from_callback(self, name: str, request: Request) -> ProviderIdentity:
        spec, client = self._specs[name], self._client(name)
        try:
            return await self._exchange(spec, client, request)
        except LoginFailure:
            raise
        except MismatchingStateError as error:
            raise LoginFailure(FailureReason.EXPIRED, "state") from error
        except OAuthError as error:
            reason = FailureReason.CANCELLED if error.error == "access_denied" else FailureReason.PROVIDER_ERROR
            raise LoginFailure(reason, str(error.error)[:40]) from error
        except JoseError as error:
            raise LoginFailure(FailureReason.UNVERIFIED, type(error).__name__) from error
        except http_client.HTTPError as error:
            raise LoginFailure(FailureReason.UNREACHABLE, type(error).__name__) from error
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            log.warning("sign-in with %s failed: %s", name, type(error).__name__)
            raise LoginFailure(FailureReason.PROVIDER_ERROR, type(error).__name__) from error

    async def _exchange(self, spec: ProviderSpec, client: Any, request: Request) -> ProviderIdentity:
        if not spec.openid:
            token = await client.authorize_access_token(request)
            response = await client.get("me", token=token, params={"fields": "id,name,email"})
            response.raise_for_status()
            return graph_identity(spec.name, response.json())
        options = await _id_token_expectations(spec, client)
        token = await client.authorize_access_token(request, claims_options=options)
        if "userinfo" not in token:  # no id_token at all: nothing proves who signed in
            raise LoginFailure(FailureReason.UNVERIFIED, "missing id_token")
        return openid_identity(spec.name, token["userinfo"], spec=spec)


async def _id_token_expectations(spec: ProviderSpec, client: Any) -> dict[str, dict[str, Any]]:
    """The id_token must come from the discovered issuer, for us, answering our nonce (Authlib checks the
    nonce itself; without these options it would not check the audience)."""
    metadata = await client.load_server_metadata()
    issuers = [metadata["issuer"], *spec.extra_issuers]
    return {"iss": {"essential": True, "values": issuers},
            "aud": {"essential": True, "values": [client.client_id]},
            "sub": {"essential": True}}


def openid_identity(provider: str, claims: Mapping[str, Any], *, spec: ProviderSpec | None = None) -> ProviderIdentity:
    subject = str(claims["sub"])
    # An address the provider has not verified is not kept (it could be anybody's); it may still name the person.
    email = claims.get("email") if claims.get("email_verified", True) is not False else None
    return ProviderIdentity(provider=provider, subject=subject, email=_clean_email(email),
                            display_name=_display_name(claims.get("name"), claims.get("email")),
                            second_factor=spec is not None and proves_second_factor(spec, claims))


def proves_second_factor(spec: ProviderSpec, claims: Mapping[str, Any]) -> bool:
    """The id_token (already verified) asserts a second factor in the provider's own terms: its `acr` is one
    of the configured values, or its `amr` list holds one. Anything malformed proves nothing."""
    acr, amr = claims.get("acr"), claims.get("amr")
    if isinstance(acr, str) and acr in spec.acr_values:
        return True
    return isinstance(amr, list) and any(isinstance(value, str) and value in spec.amr_values for value in amr)


def graph_identity(provider: str, profile: Mapping[str, Any]) -> ProviderIdentity:
    if not profile.get("id"):
        raise LoginFailure(FailureReason.PROVIDER_ERROR, "graph profile without id")
    email = profile.get("email")
    return ProviderIdentity(provider=provider, subject=str(profile["id"]), email=_clean_email(email),
                            display_name=_display_name(profile.get("name"), email))


def _clean_email(email: object) -> str | None:
    usable = isinstance(email, str) and "@" in email and not has_unsafe_characters(email)
    return email.strip()[:320] if usable and isinstance(email, str) else None


def _display_name(name: object, email: object) -> str:
    # The person cannot correct a provider's profile name here, so refusing it would lock them out: the
    # characters core.text refuses (NUL, bidi overrides, zero-width) are dropped instead.
    if isinstance(name, str) and (shown := without_unsafe_characters(name)):
        return shown[:200]
    if isinstance(email, str) and "@" in email and (local := without_unsafe_characters(email.split("@", 1)[0])):
        return local[:200]
    return "Persona usuaria"
