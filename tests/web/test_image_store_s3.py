"""The app with its images in an S3-compatible bucket (moto's server on loopback): a citizen's photos go to the
bucket encrypted, the aspirant's authorised image route serves them back, and while the bucket is down the photo
step and the image route answer 503 with Retry-After (nothing half-stored, nothing acknowledged), never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.db import session_scope
from core.settings import Settings
from registry.images import image_store_from_settings
from registry.models import StoredImage, Support
from tests.conftest import TEST_ORIGIN, SignedIn
from tests.factories.accounts import citizen_account_id
from tests.factories.processes import open_aspirant_id
from tests.loopback_s3 import LoopbackS3, closed_port_url, loopback_s3
from tests.web.citizen_pages import Journey, one, quick_code

LIVE_PHOTO_URL = "/aspirante/apoyos/{support_id}/imagen/live_photo"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[LoopbackS3]:
    with loopback_s3() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, s3_server: LoopbackS3) -> Settings:
    """The suite's settings, with the images in a fresh bucket of the loopback server."""
    return settings.model_copy(update=s3_server.settings_update(s3_server.new_bucket()))


@pytest.fixture
def aspirant_id(app: Starlette) -> int:
    return open_aspirant_id(app.state.engine)


@pytest.fixture
def citizen(app: Starlette, client: TestClient, sign_in: Callable[..., SignedIn]) -> SignedIn:
    account_id = citizen_account_id(app.state.engine)
    return sign_in(client, account_id)


@pytest.fixture
def aspirant_client(app: Starlette, aspirant_id: int, sign_in_with_role: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(app, base_url=TEST_ORIGIN, raise_server_exceptions=False) as other:
        sign_in_with_role(other, Role.ASPIRANT, aspirant_id=aspirant_id)
        yield other


def _give_support(app: Starlette, client: TestClient, citizen: SignedIn, aspirant_id: int) -> Support:
    journey = Journey(client)
    statement = journey.sign(journey.photos(journey.choose(journey.type_code(quick_code(app, citizen.account_id)),
                                                           aspirant_id)))
    journey.give(statement, manifiesto="si", privacidad="si")
    with session_scope(app.state.engine) as db:
        return db.exec(select(Support)).one()


def _bucket_down(app: Starlette) -> None:
    app.state.image_store = image_store_from_settings(
        app.state.settings.model_copy(update={"s3_endpoint_url": closed_port_url()}))


def test_a_citizens_photos_go_to_the_bucket_encrypted_and_the_aspirant_sees_them(
        app: Starlette, client: TestClient, citizen: SignedIn, aspirant_id: int, aspirant_client: TestClient,
        s3_server: LoopbackS3) -> None:
    support = _give_support(app, client, citizen, aspirant_id)
    with session_scope(app.state.engine) as db:
        live = db.get(StoredImage, support.live_photo_id)
        keys = {image.storage_key for image in db.exec(select(StoredImage)).all()}
    assert live is not None and len(keys) == 3  # front, live photo, signature
    in_bucket = s3_server.objects(app.state.settings.s3_bucket)
    assert {name.split("/")[1].removesuffix(".enc") for name in in_bucket} == keys
    assert not app.state.settings.images_dir.exists()  # nothing went to the local disk

    served = aspirant_client.get(LIVE_PHOTO_URL.format(support_id=support.id))
    assert served.status_code == 200 and served.headers["cache-control"] == "no-store"
    assert served.content.startswith(b"\xff\xd8") and len(served.content) == live.byte_size
    assert served.content not in in_bucket.values()  # the bucket holds only its ciphertext
    assert served.content == app.state.image_store.get(live.storage_key)


def test_while_the_bucket_is_down_the_photo_step_says_nothing_was_saved_and_a_retry_then_works(
        app: Starlette, client: TestClient, citizen: SignedIn, aspirant_id: int) -> None:
    journey = Journey(client)
    photos_page = journey.choose(journey.type_code(quick_code(app, citizen.account_id)), aspirant_id)
    working_store = app.state.image_store
    _bucket_down(app)

    refused = journey.photos(photos_page)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
    assert "no se guardó" in one(refused, "main").get_text()
    with session_scope(app.state.engine) as db:
        assert db.exec(select(StoredImage)).all() == [] and db.exec(select(Support)).all() == []

    app.state.image_store = working_store  # the bucket is back: the same form, sent again, goes through
    statement = journey.sign(journey.photos(photos_page))
    receipt = journey.give(statement, manifiesto="si", privacidad="si")
    assert receipt.status_code == 200 and one(receipt, "#folio").get_text()


def test_while_the_bucket_is_down_the_image_route_answers_503_in_the_users_language(
        app: Starlette, client: TestClient, citizen: SignedIn, aspirant_id: int,
        aspirant_client: TestClient) -> None:
    support = _give_support(app, client, citizen, aspirant_id)
    _bucket_down(app)
    url = LIVE_PHOTO_URL.format(support_id=support.id)
    page = aspirant_client.get(url + "?lang=en")
    assert page.status_code == 503 and page.headers["retry-after"] == "30"
    assert "We cannot store or show photos right now." in page.text and "Traceback" not in page.text
    as_json = aspirant_client.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.json()["error"] == "storage_unavailable"
    assert as_json.json()["retry_after"] == 30
