"""Rate limits over HTTP: each named limit trips with a 429, Retry-After and a message in the user's language, is
counted per IP, per account or per credential as declared, and keys nothing personal. Limits are made tight
through settings (REGISTRO_RATE_LIMITS), the way an operator would."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
import redis
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.audit import OutboxMessage
from core.db import session_scope
from core.settings import Settings
from registry.models import Auxiliary
from registry.states import InvitationState
from tests.auth.login_flow import sign_in_through_provider, start
from tests.conftest import TEST_ORIGIN, SignIn, SignInWithRole
from tests.factories.accounts import make_account
from tests.factories.photos import back_photo, warm_up_reader
from tests.factories.processes import make_aspirant, make_auxiliary
from web.app import create_app
from web.ratelimit import CREDENTIAL, KEY_PREFIX, build_rate_limiter

MakeClient = Callable[..., TestClient]
CSV_HEADER = "nombre,clave de elector,correo,telefono\n"


async def _not_yet_created(scope: object, receive: object, send: object) -> None:
    raise RuntimeError("the app is still being created")


def _app(settings: Settings) -> Starlette:
    transport = httpx2.ASGITransport(app=_not_yet_created, raise_app_exceptions=False)
    created = create_app(settings, oauth_transport=transport)
    transport.app = created
    return created


@pytest.fixture
def limited(settings: Settings) -> Iterator[MakeClient]:
    """`limited(login_start="2/minute", ...)`: a client of an app whose named limits are overridden so."""
    clients: list[TestClient] = []

    def make(settings_changes: dict[str, Any] | None = None, **limits: str) -> TestClient:
        changed = settings.model_copy(update={"rate_limits": limits, **(settings_changes or {})})
        client = TestClient(_app(changed), base_url=TEST_ORIGIN, raise_server_exceptions=False)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def assert_too_many(response: Any, *, json: bool = False) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert response.headers["cache-control"] == "no-store"
    if json:
        body = response.json()
        assert body["error"] == "too_many_requests" and body["ok"] is False
        assert "Recibimos demasiadas solicitudes seguidas" in body["advice"]
    else:
        assert "Demasiadas solicitudes seguidas" in response.text and "inténtalo de nuevo" in response.text.lower()


def _garbage_photo(client: TestClient, path: str = "/ciudadano/codigo") -> Any:
    return client.post(path, files={"reverso": ("reverso.jpg", b"not a photo", "image/jpeg")},
                       follow_redirects=False)


# ---------------------------------------------------------------- signing in


def test_login_starts_are_limited_per_ip(limited: MakeClient) -> None:
    client = limited(login_start="2/minute")
    assert [start(client).status_code for _ in range(2)] == [303, 303]
    assert_too_many(start(client))


def test_the_429_page_speaks_the_users_language(limited: MakeClient) -> None:
    client = limited(login_start="1/minute")
    start(client)
    client.cookies.set("lang", "en")
    refused = start(client)
    assert refused.status_code == 429
    assert "Too many requests in a row" in refused.text and "Wait a minute and try again." in refused.text


def test_sign_in_callbacks_are_limited_per_ip(limited: MakeClient) -> None:
    client = limited(sign_in="1/minute")
    assert sign_in_through_provider(client, "demo-ciudadana").status_code == 303
    assert_too_many(sign_in_through_provider(client, "demo-auxiliar"))


def test_sign_ins_are_limited_per_account(limited: MakeClient) -> None:
    client = limited(sign_in_account="1/minute")
    assert sign_in_through_provider(client, "demo-ciudadana").status_code == 303
    assert_too_many(sign_in_through_provider(client, "demo-ciudadana"))
    assert sign_in_through_provider(client, "demo-auxiliar").status_code == 303  # another account, same IP


def test_the_local_providers_token_endpoint_is_limited(limited: MakeClient) -> None:
    client = limited(token="1/minute")
    first = client.post("/dev-oidc/token", data={"grant_type": "authorization_code", "code": "x"},
                        headers={"Accept": "application/json"})
    assert first.status_code in (400, 401)
    assert_too_many(client.post("/dev-oidc/token", data={"grant_type": "authorization_code", "code": "x"},
                                headers={"Accept": "application/json"}), json=True)


# ---------------------------------------------------------------- the field phones' session probe and decodes


def _auxiliary(client: TestClient, sign_in_with_role: SignInWithRole) -> None:
    with session_scope(client.app.state.engine) as db:  # type: ignore[attr-defined]
        aspirant_id = make_aspirant(db).id
    sign_in_with_role(client, Role.AUXILIARY, aspirant_id=aspirant_id)


def test_the_field_session_probe_is_limited_per_account(limited: MakeClient,
                                                        sign_in_with_role: SignInWithRole) -> None:
    client = limited(field_session="2/minute")
    _auxiliary(client, sign_in_with_role)
    assert [client.get("/api/campo/sesion").status_code for _ in range(2)] == [200, 200]
    assert_too_many(client.get("/api/campo/sesion"), json=True)


def test_field_reads_of_a_back_are_limited_per_account(limited: MakeClient,
                                                       sign_in_with_role: SignInWithRole) -> None:
    client = limited(decode="1/minute")
    _auxiliary(client, sign_in_with_role)
    assert _garbage_photo(client, "/api/campo/leer").json()["ok"] is False
    assert_too_many(_garbage_photo(client, "/api/campo/leer"), json=True)


def test_field_captures_without_javascript_are_limited_per_account(limited: MakeClient,
                                                                   sign_in_with_role: SignInWithRole) -> None:
    client = limited(decode="1/minute")
    _auxiliary(client, sign_in_with_role)
    assert client.post("/campo/captura", data={"aspirante": "1"}).status_code == 400  # missing photos
    assert_too_many(client.post("/campo/captura", data={"aspirante": "1"}))


def test_citizen_code_photos_are_limited_per_account_not_per_address(limited: MakeClient,
                                                                     sign_in_with_role: SignInWithRole) -> None:
    client = limited(decode="1/minute")
    sign_in_with_role(client, Role.CITIZEN)
    assert _garbage_photo(client).status_code == 400
    assert_too_many(_garbage_photo(client))
    sign_in_with_role(client, Role.CITIZEN, name="Otra Persona")  # same IP, another account
    assert _garbage_photo(client).status_code == 400


def test_photos_are_also_limited_per_ip(limited: MakeClient, sign_in_with_role: SignInWithRole) -> None:
    client = limited(decode_ip="1/minute")
    sign_in_with_role(client, Role.CITIZEN)
    assert _garbage_photo(client).status_code == 400
    sign_in_with_role(client, Role.CITIZEN, name="Otra Persona")
    assert_too_many(_garbage_photo(client))


def test_activation_code_requests_are_limited_per_credential_and_the_cic_is_never_logged(
        limited: MakeClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture) -> None:
    warm_up_reader()
    photos = back_photo(11), back_photo(12)
    client = limited(credential="1/hour")
    with session_scope(client.app.state.engine) as db:  # type: ignore[attr-defined]
        make_aspirant(db)  # an open collection process
        account_id = make_account(db, name="Carmen Ciudadana", role=Role.CITIZEN).id
    assert account_id is not None
    sign_in(client, account_id)

    def confirm(photo_data: bytes) -> Any:
        sent = client.post("/ciudadano/codigo", files={"reverso": ("r.jpg", photo_data, "image/jpeg")},
                           follow_redirects=False)
        assert sent.status_code == 303, sent.text
        flow = sent.headers["location"].split("flujo=")[1]
        return client.post("/ciudadano/codigo/confirmar", data={"flujo": flow}, follow_redirects=False)

    caplog.set_level(logging.DEBUG)
    assert confirm(photos[0].data).status_code == 303
    assert confirm(photos[1].data).status_code == 303  # another credential: its own count
    assert_too_many(confirm(photos[0].data))
    assert photos[0].cic not in caplog.text and "rate limit credential reached" in caplog.text


# ---------------------------------------------------------------- invitations


class Campaign:
    def __init__(self, client: TestClient, sign_in: SignIn) -> None:
        self.engine = client.app.state.engine  # type: ignore[attr-defined]
        with session_scope(self.engine) as db:
            aspirant = make_aspirant(db, name="Carmen Aspirante")
            account = make_account(db, name="Carmen", role=Role.ASPIRANT, aspirant_id=aspirant.id)
            auxiliary = make_auxiliary(db, aspirant=aspirant, state=InvitationState.INVITED)
            self.aspirant_id, self.auxiliary_id = aspirant.id, auxiliary.id
            assert account.id is not None
        sign_in(client, account.id)

    def mails(self) -> int:
        with Session(self.engine) as db:
            return db.exec(select(func.count()).select_from(OutboxMessage)).one()

    def auxiliaries(self) -> int:
        with Session(self.engine) as db:
            return db.exec(select(func.count()).select_from(Auxiliary)).one()


def test_invitation_resends_are_limited_per_account(limited: MakeClient, sign_in: SignIn) -> None:
    client = limited(invitation_resend="1/minute")
    campaign = Campaign(client, sign_in)
    resend = f"/aspirante/auxiliares/{campaign.auxiliary_id}/reenviar"
    assert client.post(resend, follow_redirects=False).headers["location"] == "/aspirante?hecho=reenviado"
    assert_too_many(client.post(resend, follow_redirects=False))
    assert campaign.mails() == 1


def test_a_csv_over_the_daily_cap_is_refused_whole_with_a_clear_message(limited: MakeClient,
                                                                        sign_in: SignIn) -> None:
    client = limited({"invitations_per_day": 2})
    campaign = Campaign(client, sign_in)
    rows = "".join(f"Persona {n},PEGORO90010126M{n:03d},aux{n}@ejemplo.mx,6621234567\n" for n in range(1, 4))
    page = client.post("/aspirante/auxiliares/csv", data={"aspirante": str(campaign.aspirant_id)},
                       files={"archivo": ("equipo.csv", (CSV_HEADER + rows).encode(), "text/csv")})
    assert page.status_code == 429
    assert "El archivo enviaría 3 invitaciones" in page.text and "solo puedes enviar 2 más" in page.text
    assert (campaign.auxiliaries(), campaign.mails()) == (1, 0)  # only the one the test made


def test_registering_or_resending_past_the_daily_cap_says_so(limited: MakeClient, sign_in: SignIn) -> None:
    client = limited({"invitations_per_day": 1})
    campaign = Campaign(client, sign_in)
    resend = f"/aspirante/auxiliares/{campaign.auxiliary_id}/reenviar"
    assert client.post(resend, follow_redirects=False).headers["location"] == "/aspirante?hecho=reenviado"
    capped = client.post(resend)
    assert capped.url.path == "/aspirante" and "Ya enviaste el máximo de 1 invitaciones" in capped.text
    form = {"nombre": "Rosa Pérez", "clave_elector": "PEGORO90010126M100", "correo": "rosa@ejemplo.mx",
            "telefono": "6621234567", "aspirante": str(campaign.aspirant_id)}
    page = client.post("/aspirante/auxiliares", data=form)
    assert page.status_code == 429 and "Ya enviaste el máximo de 1 invitaciones" in page.text
    assert 'value="Rosa Pérez"' in page.text  # what was typed is kept
    assert (campaign.auxiliaries(), campaign.mails()) == (1, 1)


# ---------------------------------------------------------------- the limiter itself


def test_counts_are_keyed_without_the_value_they_limit() -> None:
    limiter = build_rate_limiter("memory://", secret="s" * 40, overrides={"credential": "1/hour"})
    assert limiter.hit(CREDENTIAL, "183657717") is None
    retry_after = limiter.hit(CREDENTIAL, "183657717")
    assert retry_after is not None and 1 <= retry_after <= 3600
    storage = limiter._strategy.storage
    keys = " ".join([*storage.events, *storage.storage])  # type: ignore[attr-defined]
    assert "credential" in keys and "183657717" not in keys


def test_an_unknown_limit_name_stops_the_app_from_starting(settings: Settings) -> None:
    with pytest.raises(ValueError, match="login_strat"):
        create_app(settings.model_copy(update={"rate_limits": {"login_strat": "1/minute"}}))


def test_a_storage_uri_it_cannot_use_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="REGISTRO_RATE_LIMIT_STORAGE") as refused:
        build_rate_limiter("reids://:hunter2@redis:6379/0", secret="s" * 40)
    assert "hunter2" not in str(refused.value)


def test_an_unreachable_storage_lets_requests_through() -> None:
    limiter = build_rate_limiter("redis://127.0.0.1:1/0", secret="s" * 40, overrides={"credential": "1/hour"})
    assert [limiter.hit(CREDENTIAL, "183657717") for _ in range(3)] == [None, None, None]


REDIS_URL = os.environ.get("REGISTRO_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="REGISTRO_TEST_REDIS_URL is not set")
def test_two_app_instances_share_the_counts_in_redis(limited: MakeClient) -> None:
    """Two workers behind one address: the second one knows what the first one counted. A fresh secret per
    test keys the counts apart from every other test run on the same Redis."""
    shared = {"rate_limit_storage": REDIS_URL, "secret_key": secrets.token_urlsafe(48)}
    first, second = limited(shared, login_start="2/minute"), limited(shared, login_start="2/minute")
    assert [start(first).status_code, start(second).status_code] == [303, 303]
    assert_too_many(start(first))
    assert_too_many(start(second))
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{KEY_PREFIX}*")
    assert keys and not any(b"testclient" in key for key in keys)  # the address is never a key
