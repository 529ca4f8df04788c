"""`registro images copy-to-s3`: the images on disk go to the bucket under the same keys (no row changes), a
second run copies nothing, and a row whose file is gone is reported by id with a failing exit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from core.settings import Settings
from registry.images import clean_image, image_store_from_settings, open_image_store, store_image
from registry.models import StoredImage
from registry.states import ImageKind
from tests.factories.photos import plain_photo
from tests.loopback_s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LoopbackS3, loopback_s3
from web.cli import main


@pytest.fixture(scope="module")
def s3_server() -> Iterator[LoopbackS3]:
    with loopback_s3() as server:
        yield server


def _store_photos(session: Session, settings: Settings, shades: list[int]) -> dict[str, bytes]:
    """Images stored on the local disk as the app does; storage key → the JPEG kept."""
    local = open_image_store(settings.images_dir, image_key=settings.image_key, secret_key=settings.secret_key)
    kept = {}
    for shade in shades:
        clean = clean_image(plain_photo(shade), kind=ImageKind.LIVE_PHOTO, max_bytes=settings.upload_max_bytes,
                            max_pixels=settings.upload_max_pixels)
        kept[store_image(session=session, store=local, image=clean).storage_key] = clean.jpeg
    session.commit()
    return kept


def _copy(settings: Settings, s3: LoopbackS3, bucket: str) -> tuple[int, str]:
    env = {"REGISTRO_ENV": "test", "REGISTRO_DATA_DIR": str(settings.data_dir),
           "REGISTRO_DATABASE_URL": settings.resolved_database_url, "REGISTRO_SECRET_KEY": settings.secret_key,
           "REGISTRO_S3_ENDPOINT_URL": s3.endpoint_url, "REGISTRO_S3_BUCKET": bucket,
           "REGISTRO_S3_ACCESS_KEY_ID": ACCESS_KEY_ID, "REGISTRO_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
    result = CliRunner().invoke(main, ["images", "copy-to-s3"], env=env)
    return result.exit_code, result.output


def test_the_images_on_disk_are_copied_under_their_keys_once(session: Session, settings: Settings,
                                                            s3_server: LoopbackS3) -> None:
    kept = _store_photos(session, settings, [90, 120, 150])
    bucket = s3_server.new_bucket()
    assert _copy(settings, s3_server, bucket) == (0, "copied 3, already in the bucket 0, missing on disk 0\n")
    in_bucket = image_store_from_settings(settings.model_copy(update=s3_server.settings_update(bucket)))
    assert {key: in_bucket.get(key) for key in kept} == kept
    assert _copy(settings, s3_server, bucket) == (0, "copied 0, already in the bucket 3, missing on disk 0\n")


def test_a_row_whose_file_is_gone_is_named_by_id_and_fails_the_run(session: Session, settings: Settings,
                                                                  s3_server: LoopbackS3) -> None:
    (key,) = _store_photos(session, settings, [60])
    (settings.images_dir / key[:2] / f"{key}.enc").unlink()
    image_id = session.exec(select(StoredImage.id).where(StoredImage.storage_key == key)).one()
    code, output = _copy(settings, s3_server, s3_server.new_bucket())
    assert code == 1 and "missing on disk 1" in output and f"(StoredImage ids): {image_id}\n" in output


def test_an_unreachable_bucket_stops_before_copying(settings: Settings, s3_server: LoopbackS3) -> None:
    code, output = _copy(settings, s3_server, "registro-no-such-bucket")
    assert code == 1 and "cannot be reached" in output
