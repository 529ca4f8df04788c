"""One contract for every image store, run on the local disk and on a real S3-compatible server on loopback: what
goes in comes out, what is stored is ciphertext under a random name, a missing key is ImageNotFound, a deleted
key is gone, and a store that cannot be reached says it is not ready and raises ImageStoreUnavailable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken

from core.settings import Settings
from registry.images import (
    ImageNotFound,
    ImageStore,
    ImageStoreUnavailable,
    LocalImageStore,
    image_fernet,
    image_store_from_settings,
)
from registry.s3_images import S3ImageStore
from tests.loopback_s3 import LoopbackS3, closed_port_url, loopback_s3

SECRET = "image-store-test-secret-" + "q" * 30
PLAINTEXT = b"\xff\xd8\xff\xe0 JPEG of a credential: GARCIA LOPEZ MARIA GRLPMR80010126M100"
OBJECT_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}\.enc")
BACKENDS = ["local", "s3"]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[LoopbackS3]:
    with loopback_s3() as server:
        yield server


def _settings(tmp_path: Path, backend: str, s3: LoopbackS3, **update: Any) -> Settings:
    settings = Settings(env="test", data_dir=tmp_path / "var", secret_key=SECRET)
    if backend == "s3":
        return settings.model_copy(update=s3.settings_update(s3.new_bucket()) | update)
    return settings.model_copy(update=update)


def _stored(settings: Settings, s3: LoopbackS3) -> dict[str, bytes]:
    """Everything the backend holds, name (relative to the store) → bytes exactly as kept."""
    if settings.image_store == "s3":
        return s3.objects(settings.s3_bucket)
    root = settings.images_dir
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path, s3_server: LoopbackS3) -> Settings:
    return _settings(tmp_path, request.param, s3_server)


@pytest.fixture
def store(settings: Settings) -> ImageStore:
    return image_store_from_settings(settings)


def test_settings_choose_the_backend(settings: Settings, store: ImageStore) -> None:
    assert isinstance(store, S3ImageStore if settings.image_store == "s3" else LocalImageStore)


def test_what_goes_in_comes_out(store: ImageStore) -> None:
    first, second = store.put(PLAINTEXT), store.put(b"another photo")
    assert first != second
    assert store.get(first) == PLAINTEXT and store.get(second) == b"another photo"


def test_the_backend_holds_only_ciphertext_under_random_names(settings: Settings, store: ImageStore,
                                                             s3_server: LoopbackS3) -> None:
    key = store.put(PLAINTEXT)
    (name, kept), = _stored(settings, s3_server).items()
    assert OBJECT_NAME.fullmatch(name) and key in name
    assert b"GARCIA" not in kept and b"JPEG" not in kept and PLAINTEXT not in kept
    # Exactly what the disk store writes: Fernet under the app's image key, readable by nothing else.
    assert image_fernet(image_key="", secret_key=SECRET).decrypt(kept) == PLAINTEXT
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(kept)


def test_an_unknown_key_is_not_found(store: ImageStore) -> None:
    with pytest.raises(ImageNotFound):
        store.get("0123456789abcdef0123456789abcdef")


def test_a_key_that_could_leave_the_store_is_refused(store: ImageStore) -> None:
    for bad in ("../../etc/passwd", "ab/cd", ""):
        with pytest.raises(ValueError, match="invalid storage key"):
            store.get(bad)


def test_delete_removes_the_image_and_may_run_twice(settings: Settings, store: ImageStore,
                                                    s3_server: LoopbackS3) -> None:
    kept, gone = store.put(b"kept"), store.put(PLAINTEXT)
    store.delete(gone)
    store.delete(gone)  # retention run twice, or a retry: not an error
    with pytest.raises(ImageNotFound):
        store.get(gone)
    assert store.get(kept) == b"kept" and len(_stored(settings, s3_server)) == 1


def test_a_working_store_is_ready(store: ImageStore) -> None:
    assert store.ready() is True


@pytest.fixture(params=BACKENDS)
def down_store(request: pytest.FixtureRequest, tmp_path: Path, s3_server: LoopbackS3) -> ImageStore:
    """A store that cannot work: S3 at an address where nothing listens; the disk under a path that is a file
    (unwritable even for root)."""
    if request.param == "s3":
        return image_store_from_settings(_settings(tmp_path, "s3", s3_server, s3_endpoint_url=closed_port_url()))
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    return image_store_from_settings(_settings(tmp_path, "local", s3_server, data_dir=blocker))


def test_a_store_that_cannot_be_reached_is_not_ready_and_says_so_on_every_call(down_store: ImageStore) -> None:
    assert down_store.ready() is False
    with pytest.raises(ImageStoreUnavailable):
        down_store.put(PLAINTEXT)
    with pytest.raises(ImageStoreUnavailable):
        down_store.get("0123456789abcdef0123456789abcdef")
    with pytest.raises(ImageStoreUnavailable):
        down_store.delete("0123456789abcdef0123456789abcdef")


def test_an_s3_bucket_that_does_not_exist_is_not_ready(tmp_path: Path, s3_server: LoopbackS3) -> None:
    settings = _settings(tmp_path, "s3", s3_server, s3_bucket="registro-no-such-bucket")
    assert image_store_from_settings(settings).ready() is False
