"""The image store in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW...), through obstore: a small, typed client
(Rust's object_store) with bounded timeouts and retries. Images are encrypted by the app exactly as on disk (the
bucket never holds plaintext) and named by random keys, so nothing in the bucket says whose they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import obstore
from cryptography.fernet import Fernet
from obstore.exceptions import BaseError
from obstore.store import S3Store

from registry.images import (
    ImageNotFound,
    ImageStoreUnavailable,
    image_fernet,
    new_storage_key,
    storage_path,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

    from core.settings import Settings

# A request waits at most this long: a photo form is answered 503 (try again) instead of hanging the page, and a
# bucket that is down makes /readyz say so in seconds.
_CLIENT: ClientConfig = {"connect_timeout": timedelta(seconds=2), "timeout": timedelta(seconds=15)}
_RETRY: RetryConfig = {
    "max_retries": 2,
    "retry_timeout": timedelta(seconds=10),
    "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=1), "base": 2},
}
# /readyz lists this (empty) prefix: one cheap request that fails on a wrong endpoint, bucket or credentials. It
# is tried once, with a short connect timeout, so the probe answers well within its own deadline.
_READY_PROBE = "ready-probe/"
_PROBE_CLIENT: ClientConfig = {"connect_timeout": timedelta(seconds=1), "timeout": timedelta(seconds=2)}
_PROBE_RETRY: RetryConfig = {"max_retries": 0, "retry_timeout": timedelta(seconds=2)}
# What the client raises for a failed request: its own errors, and OSError subclasses (timeouts, refusals).
_CLIENT_ERRORS = (BaseError, OSError)


@dataclass(frozen=True)
class S3ImageStore:
    store: S3Store
    probe: S3Store  # the same bucket, for ready(): no retries
    fernet: Fernet

    def put(self, data: bytes) -> str:
        # A plain PUT of a fresh random key: the client's own retries re-send the same bytes to the same key, so a
        # retry can never store anything else there; a retry of the whole request stores a new object and its
        # database row names only one of them (the other stays encrypted and unread).
        storage_key = new_storage_key()
        self.put_sealed(storage_key, self.fernet.encrypt(data))
        return storage_key

    def put_sealed(self, storage_key: str, sealed: bytes) -> None:
        """Store bytes already encrypted under the app's image key (a copy from the disk store keeps its key)."""
        try:
            obstore.put(self.store, storage_path(storage_key), sealed)
        except _CLIENT_ERRORS as error:
            raise _unavailable(error) from error

    def holds(self, storage_key: str) -> bool:
        try:
            obstore.head(self.store, storage_path(storage_key))
        except FileNotFoundError:
            return False
        except _CLIENT_ERRORS as error:
            raise _unavailable(error) from error
        return True

    def get(self, storage_key: str) -> bytes:
        try:
            sealed = obstore.get(self.store, storage_path(storage_key)).bytes()
        except FileNotFoundError as error:  # obstore's NotFoundError
            raise ImageNotFound(storage_key) from error
        except _CLIENT_ERRORS as error:
            raise _unavailable(error) from error
        return self.fernet.decrypt(bytes(sealed))

    def delete(self, storage_key: str) -> None:
        try:
            obstore.delete(self.store, storage_path(storage_key))  # S3 answers a missing key with success too
        except FileNotFoundError:
            return
        except _CLIENT_ERRORS as error:
            raise _unavailable(error) from error

    def ready(self) -> bool:
        try:
            obstore.list_with_delimiter(self.probe, _READY_PROBE)
        except _CLIENT_ERRORS:
            return False
        return True


def _unavailable(error: Exception) -> ImageStoreUnavailable:
    # The type only: the client's message quotes the endpoint and the server's answer, nothing a user should see.
    return ImageStoreUnavailable(f"object store: {type(error).__name__}")


def open_s3_image_store(settings: Settings) -> S3ImageStore:
    """The bucket of the REGISTRO_S3_* settings (whatever REGISTRO_IMAGE_STORE says: `registro images
    copy-to-s3` fills it before the switch)."""
    endpoint = settings.s3_endpoint_url
    config: S3Config = {"region": settings.s3_region}
    if endpoint:  # none: AWS's own endpoint for the region
        config["endpoint"] = endpoint
    if settings.s3_access_key_id.get_secret_value():  # none: the client's usual sources (development)
        config["access_key_id"] = settings.s3_access_key_id.get_secret_value()
        config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    allow_http = endpoint.startswith("http://")  # settings refuse it in production

    def bucket(client: ClientConfig, retry: RetryConfig) -> S3Store:
        return S3Store(settings.s3_bucket, config=config, client_options={**client, "allow_http": allow_http},
                       retry_config=retry)

    return S3ImageStore(store=bucket(_CLIENT, _RETRY), probe=bucket(_PROBE_CLIENT, _PROBE_RETRY),
                        fernet=image_fernet(image_key=settings.image_key, secret_key=settings.secret_key))
