"""Registro Ciudadano over HTTP, with generated specimen photos uploaded as files: every step is a form that
redirects to the next page, and every mistake is a Spanish message on the same page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.audit import AuditEvent, OutboxMessage
from core.db import session_scope
from core.settings import Settings
from registry.models import ActivationCode, CredentialReading, Support
from registry.states import ReadingSource, SignatureMethod, SupportStatus
from tests.browser.citizen_live import MovableClock
from tests.conftest import TEST_ORIGIN, SignIn
from tests.delivered_mail import delivered_text
from tests.factories.accounts import make_account
from tests.factories.photos import BackPhoto, back_photo, plain_photo, signature_png, warm_up_reader
from tests.factories.processes import make_aspirant, make_process
from tests.web.citizen_pages import quick_code
from web.app import create_app
from web.routes.citizen_flow import Flow, sign_flow

_FLOW = re.compile(r'name="flujo" value="([^"]+)"')
_KEY = re.compile(r'name="clave_idempotencia" value="([^"]+)"')
_CODE = re.compile(r'id="codigo-activacion">([A-Z0-9-]+)<')


@pytest.fixture(scope="module")
def photos() -> dict[str, BackPhoto]:
    """One generated photo per case, made once for the module."""
    warm_up_reader()
    return {"good": back_photo(1), "second": back_photo(2), "expired": back_photo(3, expired=True),
            "no_mrz": back_photo(4, hide_mrz=True)}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(settings: Settings, clock: MovableClock) -> Starlette:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def aspirants(engine: Any) -> dict[str, int]:
    with session_scope(engine) as db:
        process = make_process(db)
        ids = {"ana": make_aspirant(db, process=process, name="Ana Aspirante").id,
               "beto": make_aspirant(db, process=process, name="Beto Aspirante").id}
    return {name: value for name, value in ids.items() if value is not None}


@pytest.fixture
def citizen(client: TestClient, engine: Any, sign_in: SignIn) -> int:
    with session_scope(engine) as db:
        account = make_account(db, name="Carmen Ciudadana", email="carmen@correo.mx", role=Role.CITIZEN)
        account_id = account.id
    assert account_id is not None
    sign_in(client, account_id)
    return account_id


def flow_of(response: Any) -> str:
    match = _FLOW.search(response.text)
    assert match, response.text
    return unescape(match.group(1))


def jpeg(name: str, data: bytes) -> tuple[str, bytes, str]:
    return (name, data, "image/jpeg")


def send_back(client: TestClient, photo: bytes) -> Any:
    return client.post("/ciudadano/codigo", files={"reverso": jpeg("reverso.jpg", photo)}, follow_redirects=False)


def generate_code(client: TestClient, photo: BackPhoto) -> str:
    """The whole Generar código flow; returns the code as shown on screen."""
    sent = send_back(client, photo.data)
    assert sent.status_code == 303 and "/ciudadano/codigo/confirmar?flujo=" in sent.headers["location"]
    confirm = client.get(sent.headers["location"])
    assert photo.cic in confirm.text
    ready = client.post("/ciudadano/codigo/confirmar", data={"flujo": flow_of(confirm)})
    assert ready.status_code == 200 and ready.url.path == "/ciudadano/codigo/listo", ready.text
    match = _CODE.search(ready.text)
    assert match, ready.text
    return match.group(1)


def enter_code(client: TestClient, code: str) -> Any:
    return client.post("/ciudadano/apoyo", data={"codigo": code}, follow_redirects=False)


def to_confirmation(client: TestClient, code: str, aspirant_id: int, *, accessible: bool = False) -> Any:
    """Code → aspirant → photos → signature; returns the confirmation page."""
    entered = enter_code(client, code)
    assert entered.status_code == 303, entered.text
    choose = client.get(entered.headers["location"])
    photos = client.post("/ciudadano/apoyo/aspirante", data={"flujo": flow_of(choose), "aspirante": aspirant_id})
    assert photos.url.path == "/ciudadano/apoyo/fotos", photos.text
    files = {"frente": jpeg("frente.jpg", plain_photo(140)), "foto_viva": jpeg("selfie.jpg", plain_photo(170))}
    signature = client.post("/ciudadano/apoyo/fotos", data={"flujo": flow_of(photos)}, files=files)
    assert signature.url.path == "/ciudadano/apoyo/firma", signature.text
    if accessible:
        confirm = client.post("/ciudadano/apoyo/firma", data={"flujo": flow_of(signature), "alternativa": "si"})
    else:
        confirm = client.post("/ciudadano/apoyo/firma", data={"flujo": flow_of(signature)},
                              files={"firma": ("firma.png", signature_png(), "image/png")})
    assert confirm.url.path == "/ciudadano/apoyo/confirmar", confirm.text
    return confirm


def confirm_data(page: Any, **extra: str) -> dict[str, str]:
    key = _KEY.search(page.text)
    assert key
    return {"flujo": flow_of(page), "clave_idempotencia": key.group(1), "manifiesto": "si", "privacidad": "si",
            **extra}


def supports_in(engine: Any) -> list[Support]:
    with session_scope(engine) as db:
        return list(db.exec(select(Support)).all())


def test_the_whole_journey_from_back_photo_to_mis_apoyos(client: TestClient, app: Starlette, engine: Any,
                                                         citizen: int, aspirants: dict[str, int],
                                                         photos: dict[str, BackPhoto]) -> None:
    code = generate_code(client, photos["good"])
    with session_scope(engine) as db:
        mail = db.exec(select(OutboxMessage)).one()
    assert mail.to_address == "carmen@correo.mx" and mail.sent_at is not None
    assert code in delivered_text(app.state.settings.outbox_dir, mail.id) and code not in mail.body
    confirm = to_confirmation(client, code, aspirants["ana"])
    assert "Manifiesto libremente mi voluntad de apoyar a Ana Aspirante" in confirm.text
    assert "Gubernatura" in confirm.text and "Aviso de privacidad" in confirm.text
    receipt = client.post("/ciudadano/apoyo/confirmar", data=confirm_data(confirm))
    (support,) = supports_in(engine)
    assert receipt.url.path == f"/ciudadano/apoyos/{support.folio}" and support.folio in receipt.text
    assert "hora del centro de México" in receipt.text
    assert (support.cic, support.citizen_account_id) == (photos["good"].cic, citizen)
    assert support.signature_image_id is not None and support.live_photo_id is not None
    listing = client.get("/ciudadano/apoyos")
    assert support.folio in listing.text and "Ana Aspirante" in listing.text and "Recibido" in listing.text


def test_an_unreadable_photo_gives_advice_and_the_form_again(client: TestClient, citizen: int,
                                                              aspirants: dict[str, int]) -> None:
    answer = send_back(client, plain_photo())
    assert answer.status_code == 400
    assert "No encontramos el código QR" in answer.text
    assert 'name="reverso"' in answer.text and 'capture="environment"' in answer.text


def test_a_photo_over_the_size_limit_is_refused_with_advice(settings: Settings, citizen: int,
                                                            sign_in: SignIn) -> None:
    small_limit = create_app(settings.model_copy(update={"upload_max_bytes": 200_000}))
    with TestClient(small_limit, base_url=TEST_ORIGIN, raise_server_exceptions=False) as limited:
        sign_in(limited, citizen)
        photo = plain_photo(size=(640, 480))
        just_over = send_back(limited, photo + b"\0" * (200_001 - len(photo)))
        far_over = send_back(limited, plain_photo(size=(2400, 1800)) + b"\0" * 400_000)
    assert just_over.status_code == 400 and "La foto pesa demasiado" in just_over.text
    # Beyond the form's margin the body is refused while it streams in, before any work (web.body_limit).
    assert far_over.status_code == 413 and "El archivo es demasiado grande" in far_over.text


def test_no_photo_at_all_is_asked_for_again(client: TestClient, citizen: int) -> None:
    answer = client.post("/ciudadano/codigo", data={"nada": "x"})
    assert answer.status_code == 400 and "Toma o elige una foto del reverso" in answer.text


def test_an_expired_credential_is_refused(client: TestClient, engine: Any, citizen: int,
                                          aspirants: dict[str, int], photos: dict[str, BackPhoto]) -> None:
    answer = send_back(client, photos["expired"].data)
    assert answer.status_code == 400 and "ya no está vigente" in answer.text
    with session_scope(engine) as db:
        assert db.exec(select(CredentialReading)).all() == []


def test_when_the_bottom_lines_fail_nothing_can_be_typed_and_the_way_on_is_said(
        client: TestClient, engine: Any, citizen: int, aspirants: dict[str, int],
        photos: dict[str, BackPhoto]) -> None:
    answer = send_back(client, photos["no_mrz"].data)
    assert answer.status_code == 400 and "No pudimos leer las líneas de abajo" in answer.text
    assert "Aquí no se pueden escribir a mano" in answer.text and "auxiliar" in answer.text
    assert 'name="reverso"' in answer.text and 'name="cic"' not in answer.text
    assert 'name="linea_mrz"' not in answer.text
    with session_scope(engine) as db:
        assert db.exec(select(CredentialReading)).all() == []


def test_a_typed_cic_of_someone_else_gets_no_code(client: TestClient, app: Starlette, engine: Any, citizen: int,
                                                  aspirants: dict[str, int], photos: dict[str, BackPhoto]) -> None:
    """The impersonation: someone else's CIC with its check digit, typed after a photo whose MRZ failed."""
    someone_else = photos["second"].mrz_line1[5:15]
    typed = client.post("/ciudadano/codigo/datos", data={"cic": someone_else})
    assert typed.status_code == 400 and "Aquí no se pueden escribir a mano" in typed.text
    # A step left open before this change, holding a reading completed by hand, gets no code either.
    with session_scope(engine) as db:
        reading = CredentialReading(source=ReadingSource.MANUAL, cic=photos["second"].cic,
                                    qr_text="http://qr.ine.mx/000000000000000000000009/20200101/P/000001")
        db.add(reading)
        db.flush()
        reading_id = reading.id
    stale = sign_flow(SimpleNamespace(app=app), Flow(account_id=citizen, reading_id=reading_id))  # type: ignore[arg-type]
    refused = client.post("/ciudadano/codigo/confirmar", data={"flujo": stale})
    assert refused.status_code == 400 and "necesitamos leer tu credencial de la foto" in refused.text
    with session_scope(engine) as db:
        assert db.exec(select(ActivationCode)).all() == []


def test_a_credential_registered_by_another_account_is_refused(client: TestClient, engine: Any, citizen: int,
                                                              sign_in: SignIn, aspirants: dict[str, int],
                                                              photos: dict[str, BackPhoto]) -> None:
    generate_code(client, photos["second"])
    with session_scope(engine) as db:
        other = make_account(db, name="Otra Cuenta", email="otra@correo.mx").id
    assert other is not None
    sign_in(client, other)
    confirm = client.get(send_back(client, photos["second"].data).headers["location"])
    refused = client.post("/ciudadano/codigo/confirmar", data={"flujo": flow_of(confirm)})
    assert refused.status_code == 400 and "ya está registrada con otra cuenta" in refused.text
    with session_scope(engine) as db:
        actions = db.exec(select(AuditEvent.action).where(AuditEvent.actor_account_id == other)).all()
    assert "activation_code_refused" in actions


def test_wrong_codes_are_counted_and_then_the_code_is_locked(client: TestClient, app: Starlette, citizen: int,
                                                            aspirants: dict[str, int]) -> None:
    code = quick_code(app, citizen)
    answers = [enter_code(client, "ZZZZ-ZZZZ") for _ in range(5)]
    assert [a.status_code for a in answers] == [400] * 5
    assert "Intentos que te quedan: 4." in answers[0].text and "Intentos que te quedan: 1." in answers[3].text
    assert "demasiadas veces" in answers[4].text
    assert "demasiadas veces" in enter_code(client, code).text


def test_a_code_entered_after_24_hours_has_expired(client: TestClient, app: Starlette, citizen: int,
                                                   sign_in: SignIn, clock: MovableClock,
                                                   aspirants: dict[str, int]) -> None:
    code = quick_code(app, citizen)
    clock.offset = timedelta(hours=24, minutes=1)
    sign_in(client, citizen)  # the session itself lasted less than that
    answer = enter_code(client, code)
    assert answer.status_code == 400 and "venció" in answer.text


def test_the_same_confirmation_sent_twice_gives_one_support_and_one_folio(client: TestClient, app: Starlette,
                                                                          engine: Any, citizen: int,
                                                                          aspirants: dict[str, int]) -> None:
    confirm = to_confirmation(client, quick_code(app, citizen), aspirants["ana"])
    data = confirm_data(confirm)
    first = client.post("/ciudadano/apoyo/confirmar", data=data, follow_redirects=False)
    again = client.post("/ciudadano/apoyo/confirmar", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(supports_in(engine)) == 1


def test_supporting_the_same_aspirant_again_is_refused_at_once(client: TestClient, app: Starlette, citizen: int,
                                                               aspirants: dict[str, int]) -> None:
    confirm = to_confirmation(client, quick_code(app, citizen), aspirants["ana"])
    client.post("/ciudadano/apoyo/confirmar", data=confirm_data(confirm))
    entered = enter_code(client, quick_code(app, citizen))
    choose = client.get(entered.headers["location"])
    refused = client.post("/ciudadano/apoyo/aspirante", data={"flujo": flow_of(choose),
                                                             "aspirante": aspirants["ana"]})
    assert refused.status_code == 400 and "Ya diste tu apoyo a esta persona" in refused.text


def test_a_second_aspirant_for_the_same_office_is_warned_and_must_be_acknowledged(
        client: TestClient, app: Starlette, engine: Any, citizen: int, aspirants: dict[str, int]) -> None:
    first = to_confirmation(client, quick_code(app, citizen), aspirants["ana"])
    client.post("/ciudadano/apoyo/confirmar", data=confirm_data(first))
    second = to_confirmation(client, quick_code(app, citizen), aspirants["beto"])
    assert "Ya diste tu apoyo a Ana Aspirante" in second.text and "solo cuenta el primer apoyo" in second.text
    unacknowledged = client.post("/ciudadano/apoyo/confirmar", data=confirm_data(second))
    assert unacknowledged.status_code == 400 and "Marca que entiendes" in unacknowledged.text
    receipt = client.post("/ciudadano/apoyo/confirmar", data=confirm_data(unacknowledged, entiendo_primero="si"))
    assert receipt.status_code == 200 and "solo cuenta el primer apoyo" in receipt.text
    assert len(supports_in(engine)) == 2


def test_the_statement_and_privacy_notice_must_be_accepted(client: TestClient, app: Starlette, engine: Any,
                                                           citizen: int, aspirants: dict[str, int]) -> None:
    confirm = to_confirmation(client, quick_code(app, citizen), aspirants["ana"])
    data = confirm_data(confirm)
    del data["manifiesto"], data["privacidad"]
    answer = client.post("/ciudadano/apoyo/confirmar", data=data)
    assert answer.status_code == 400 and "manifestación de voluntad" in answer.text
    assert "aviso de privacidad" in answer.text and supports_in(engine) == []


def test_the_accessible_alternative_is_recorded_as_such(client: TestClient, app: Starlette, engine: Any,
                                                        citizen: int, aspirants: dict[str, int]) -> None:
    confirm = to_confirmation(client, quick_code(app, citizen), aspirants["ana"], accessible=True)
    assert "sin firma trazada" in confirm.text
    client.post("/ciudadano/apoyo/confirmar", data=confirm_data(confirm))
    (support,) = supports_in(engine)
    assert support.signature_method is SignatureMethod.ACCESSIBLE_ALTERNATIVE and support.signature_image_id is None


def test_the_signature_pad_may_send_its_png_as_a_data_url(client: TestClient, app: Starlette, citizen: int,
                                                          aspirants: dict[str, int]) -> None:
    import base64

    entered = enter_code(client, quick_code(app, citizen))
    page = client.get(entered.headers["location"])
    photos = client.post("/ciudadano/apoyo/aspirante", data={"flujo": flow_of(page), "aspirante": aspirants["ana"]})
    files = {"frente": jpeg("f.jpg", plain_photo(140)), "foto_viva": jpeg("s.jpg", plain_photo(170))}
    signature = client.post("/ciudadano/apoyo/fotos", data={"flujo": flow_of(photos)}, files=files)
    empty = client.post("/ciudadano/apoyo/firma", data={"flujo": flow_of(signature)})
    assert empty.status_code == 400 and "Firma en el recuadro" in empty.text
    data_url = "data:image/png;base64," + base64.b64encode(signature_png()).decode()
    confirm = client.post("/ciudadano/apoyo/firma", data={"flujo": flow_of(signature), "firma_datos": data_url})
    assert confirm.url.path == "/ciudadano/apoyo/confirmar"


def test_a_bad_photo_keeps_the_good_one(client: TestClient, app: Starlette, citizen: int,
                                        aspirants: dict[str, int]) -> None:
    entered = enter_code(client, quick_code(app, citizen))
    page = client.get(entered.headers["location"])
    photos = client.post("/ciudadano/apoyo/aspirante", data={"flujo": flow_of(page), "aspirante": aspirants["ana"]})
    files = {"frente": jpeg("f.jpg", plain_photo(140)), "foto_viva": jpeg("s.jpg", b"not a photo at all")}
    half = client.post("/ciudadano/apoyo/fotos", data={"flujo": flow_of(photos)}, files=files)
    assert half.status_code == 400 and "no es una foto" in half.text and "Ya recibimos esta foto" in half.text
    done = client.post("/ciudadano/apoyo/fotos", data={"flujo": flow_of(half)},
                       files={"foto_viva": jpeg("s.jpg", plain_photo(170))})
    assert done.url.path == "/ciudadano/apoyo/firma"


def test_a_step_token_of_another_account_starts_again(client: TestClient, app: Starlette, engine: Any,
                                                      citizen: int, sign_in: SignIn,
                                                      aspirants: dict[str, int]) -> None:
    entered = enter_code(client, quick_code(app, citizen))
    with session_scope(engine) as db:
        intruder = make_account(db, name="Intrusa Prueba").id
    assert intruder is not None
    sign_in(client, intruder)
    answer = client.get(entered.headers["location"])
    assert answer.status_code == 400 and "Empecemos de nuevo" in answer.text


def test_a_citizen_sees_only_their_own_receipts(client: TestClient, app: Starlette, engine: Any, citizen: int,
                                                sign_in: SignIn, aspirants: dict[str, int]) -> None:
    confirm = to_confirmation(client, quick_code(app, citizen), aspirants["ana"])
    receipt = client.post("/ciudadano/apoyo/confirmar", data=confirm_data(confirm))
    with session_scope(engine) as db:
        other = make_account(db, name="Otra Persona").id
    assert other is not None
    sign_in(client, other)
    assert client.get(receipt.url.path).status_code == 404
    assert "Todavía no has dado ningún apoyo" in client.get("/ciudadano/apoyos").text


def test_the_pages_speak_english_too(client: TestClient, app: Starlette, citizen: int,
                                     aspirants: dict[str, int]) -> None:
    page = client.get("/ciudadano/apoyo?lang=en")
    assert "Activation code" in page.text
    answer = enter_code(client, "ZZZZ-ZZZZ")
    assert "You have no valid code" in answer.text


def test_a_code_stops_working_once_the_step_pages_see_it_expire(client: TestClient, app: Starlette,
                                                                citizen: int, sign_in: SignIn,
                                                                clock: MovableClock,
                                                                aspirants: dict[str, int]) -> None:
    entered = enter_code(client, quick_code(app, citizen))
    clock.offset = timedelta(hours=25)
    sign_in(client, citizen)
    answer = client.get(entered.headers["location"])
    assert answer.status_code == 400 and "venció" in answer.text


def test_the_code_page_shows_the_code_only_to_the_account_that_asked(client: TestClient, engine: Any,
                                                                     citizen: int, sign_in: SignIn,
                                                                     aspirants: dict[str, int],
                                                                     photos: dict[str, BackPhoto]) -> None:
    code = generate_code(client, photos["good"])
    with session_scope(engine) as db:
        other = make_account(db, name="Otra Persona").id
        assert len(db.exec(select(ActivationCode)).all()) == 1
    assert other is not None
    sign_in(client, other)
    page = client.get("/ciudadano/codigo/listo")
    assert code not in page.text and "Enviamos tu código a tu correo" in page.text


def test_the_holder_claims_a_credential_another_account_registered(client: TestClient, app: Starlette,
                                                                   engine: Any, citizen: int, sign_in: SignIn,
                                                                   aspirants: dict[str, int],
                                                                   photos: dict[str, BackPhoto]) -> None:
    """The impostor (the `citizen` account) bound the holder's CIC with a QR of their own, as typing allowed,
    and supported with it; the holder then photographs their own card."""
    photo = photos["second"]
    taken = quick_code(app, citizen, cic=photo.cic, qr_serial=9)
    client.post("/ciudadano/apoyo/confirmar", data=confirm_data(to_confirmation(client, taken, aspirants["ana"])))
    with session_scope(engine) as db:
        holder = make_account(db, name="Titular Prueba", email="titular@correo.mx", role=Role.CITIZEN).id
    assert holder is not None
    sign_in(client, holder)
    confirm = client.get(send_back(client, photo.data).headers["location"])
    refused = client.post("/ciudadano/codigo/confirmar", data={"flujo": flow_of(confirm)})
    assert refused.status_code == 400 and "ya está registrada con otra cuenta" in refused.text
    assert 'name="es_mia"' in refused.text and "Reclamar mi credencial" in refused.text
    undeclared = client.post("/ciudadano/codigo/confirmar", data={"flujo": flow_of(refused), "accion": "reclamar"})
    assert undeclared.status_code == 400 and "Marca la casilla" in undeclared.text
    claimed = client.post("/ciudadano/codigo/confirmar",
                          data={"flujo": flow_of(refused), "accion": "reclamar", "es_mia": "si"})
    assert claimed.url.path == "/ciudadano/codigo/listo" and _CODE.search(claimed.text), claimed.text
    with session_scope(engine) as db:
        (support,) = db.exec(select(Support)).all()
        assert support.citizen_account_id == citizen and support.status is SupportStatus.IN_REVIEW
        audit = db.exec(select(AuditEvent).where(AuditEvent.action == "credential_claimed")).one()
        assert (audit.actor_account_id, audit.object_id) == (holder, str(citizen))
        notices = db.exec(select(OutboxMessage.subject).where(OutboxMessage.to_address == "carmen@correo.mx")).all()
    assert "Una credencial de tu cuenta de Registro Ciudadano fue reclamada" in notices

